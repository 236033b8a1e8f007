"""Shared plumbing of the credentials services: scope checks, row locks, guarded flushes, field rules."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.school.classes.services.common import (  # noqa: F401  (re-exported for the credentials services)
    ClassesInvalid,
    clean_date,
    clean_int,
    clean_text,
    is_postgres,
    raise_if,
)
from app.school.classes.services.common import check_reach as check_can  # noqa: F401
from app.school.classes.services.common import guarded_flush as flush_checked


def actor_id(actor: Any) -> int | None:
    return None if actor == SYSTEM else getattr(actor, "id", None)


def lock(model: type, row: Any, expected_version: int | None = None) -> None:
    """Hold the row until commit on PostgreSQL, and refuse a change based on an old view of it (every backend).

    :raises Conflict: the row changed since the caller loaded it (or since `expected_version`).
    """
    stmt = sa.select(model.version).where(model.id == row.id)
    if is_postgres():
        stmt = stmt.with_for_update()
    stored = db.session.scalar(stmt)
    if stored != row.version or (expected_version is not None and expected_version != stored):
        raise Conflict(stale_message())


def stale_message() -> str:
    return _("Someone else changed this record at the same time. Nothing was saved: reload the page and try again.")


def guarded_flush(unique: dict[str, Conflict] | None = None) -> None:
    """Flush in a savepoint: a stale version or a concurrent duplicate becomes a Conflict, not a 500."""
    flush_checked(unique, stale=stale_message())


def insert_guarded(row: Any, unique: dict[str, Conflict]) -> None:
    """Insert `row` inside a savepoint: a duplicate refused by a unique index becomes the mapped Conflict and the
    session stays usable (to read what the concurrent writer committed).

    `guarded_flush` cannot do this for a row added before it: `begin_nested()` first flushes whatever is pending
    outside the savepoint, so a failing INSERT there spoils the whole transaction.
    """
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError as error:
        text = str(error.orig)
        for needle, conflict in unique.items():
            if needle in text:
                raise conflict from None
        raise


def clean_optional_text(value: Any, maximum: int) -> tuple[str | None, str | None]:
    """Blank is None; otherwise the rules of `clean_text`."""
    text, problem = clean_text(value, missing="", maximum=maximum)
    return (None, None) if not text else (text, problem)


def clean_hours(value: Any, *, low: Decimal, high: Decimal, message: str) -> tuple[Decimal | None, str | None]:
    """A number of hours with at most one decimal place, from `low` (exclusive) to `high`."""
    try:
        hours = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None, message
    if not hours.is_finite() or hours <= low or hours > high or hours != hours.quantize(Decimal("0.1")):
        return None, message
    return hours.quantize(Decimal("0.1")), None
