"""Shared plumbing of the teaching services: field rules and locks come from the classes and credentials
services; what is specific here is the guard that no lesson of a locked pay month may change."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, NotAllowed
from app.extensions import db
from app.school.classes.services.common import (  # noqa: F401  (re-exported for the teaching services)
    ClassesInvalid,
    check_reach,
    clean_date,
    clean_int,
    clean_text,
    is_postgres,
    raise_if,
)
from app.school.credentials.services.common import (  # noqa: F401
    actor_id,
    clean_optional_text,
    guarded_flush,
    insert_guarded,
    lock,
    stale_message,
)
from app.school.teaching.calendar import first_of_month
from app.school.teaching.models import PayRun, PayRunStatus

CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A Decimal rounded half-up to the cent (the only rounding money ever gets)."""
    from decimal import ROUND_HALF_UP

    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def clean_money(value: Any, *, message: str, allow_zero: bool = True,
                maximum: Decimal = Decimal("1000000")) -> tuple[Decimal | None, str | None]:
    """An amount of money with at most two decimal places, 0 (or above) to `maximum`."""
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None, message
    if amount is None or not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) \
            or amount > maximum or amount != amount.quantize(CENT):
        return None, message
    return amount.quantize(CENT), None


def clean_decimal(value: Any, *, low: Decimal, high: Decimal, places: int, message: str,
                  low_inclusive: bool = True) -> tuple[Decimal | None, str | None]:
    """A decimal number from `low` to `high` with at most `places` decimal places."""
    step = Decimal(1).scaleb(-places)
    try:
        number = Decimal(str(value).strip().replace(",", ".")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None, message
    if number is None or not number.is_finite() or number > high or number != number.quantize(step):
        return None, message
    if number < low or (number == low and not low_inclusive):
        return None, message
    return number.quantize(step), None


def locked_month(school_id: int, day: date) -> bool:
    """True when the school's pay for `day`'s month is locked (its lessons are history)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(PayRun).where(
            PayRun.school_id == school_id, PayRun.month == first_of_month(day),
            PayRun.status == PayRunStatus.LOCKED)
    ) > 0


def refuse_if_locked(school_id: int, day: date) -> None:
    """:raises NotAllowed: the month's pay is locked, so its lessons can no longer change."""
    if locked_month(school_id, day):
        raise NotAllowed(_("The pay for %(month)s is locked: lessons of that month can no longer change. "
                           "Record the change in a correction of that month's pay run instead.",
                           month=day.strftime("%Y-%m")))


def conflict(message: str) -> Conflict:
    return Conflict(message)
