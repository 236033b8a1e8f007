"""Contract terms carried as data: notice days, probation end, non-compete months and monthly compensation."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.general.contracts.models import ContractKind

MAX_NOTICE_DAYS = 365
MAX_NON_COMPETE_MONTHS = 24  # PRC Labour Contract Law art. 24: at most two years
MAX_MONTHLY = Decimal("1000000000")
DEFAULT_CURRENCY = "CNY"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
TERM_KEYS = ("notice_days", "probation_ends_on", "non_compete_months", "non_compete_monthly_compensation",
             "currency")


def _int(value, field: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Enter a whole number."), field=field) from None
    if not low <= number <= high:
        raise ValidationFailed(_("Enter a number from %(low)d to %(high)d.", low=low, high=high), field=field)
    return number


def money(value) -> Decimal | None:
    """A non-negative amount with two decimals, or None for an empty value.

    :raises ValidationFailed: (field non_compete_monthly_compensation) when it is not an amount.
    """
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= MAX_MONTHLY:
        raise ValidationFailed(_("Enter an amount such as 3000.00."), field="non_compete_monthly_compensation")
    return amount.quantize(Decimal("0.01"))


def _date(value, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(_("Enter a date as YYYY-MM-DD."), field=field) from None


def _check_probation(probation: date | None, starts_on: date, ends_on: date | None) -> None:
    if probation is None:
        return
    if probation < starts_on or (ends_on is not None and probation > ends_on):
        raise ValidationFailed(_("Probation ends within the contract's dates."), field="probation_ends_on")


def _check_non_compete(kind: str, months: int | None, monthly: Decimal | None) -> None:
    if kind == ContractKind.NON_COMPETE and not months:
        raise ValidationFailed(_("A non-compete agreement needs its number of months."), field="non_compete_months")
    if months and (monthly is None or monthly <= 0):
        raise ValidationFailed(_("A non-compete period needs a monthly compensation."),
                               field="non_compete_monthly_compensation")
    if monthly is not None and not months:
        raise ValidationFailed(_("Compensation is paid for a number of non-compete months: enter them."),
                               field="non_compete_months")


def clean_terms(kind: str, raw: dict | None, *, starts_on: date, ends_on: date | None) -> dict:
    """Validated terms as stored (JSON: dates ISO, money as a string with two decimals).

    :raises ValidationFailed: naming the field that is wrong.
    """
    raw = dict(raw or {})
    notice = _int(raw.get("notice_days"), "notice_days", 0, MAX_NOTICE_DAYS)
    probation = _date(raw.get("probation_ends_on"), "probation_ends_on")
    months = _int(raw.get("non_compete_months"), "non_compete_months", 0, MAX_NON_COMPETE_MONTHS) or None
    monthly = money(raw.get("non_compete_monthly_compensation"))
    currency = str(raw.get("currency") or DEFAULT_CURRENCY).strip().upper()
    if not _CURRENCY.match(currency):
        raise ValidationFailed(_("Enter a three-letter currency code such as CNY."), field="currency")
    _check_probation(probation, starts_on, ends_on)
    _check_non_compete(kind, months, monthly)
    return {
        "notice_days": notice,
        "probation_ends_on": probation.isoformat() if probation else None,
        "non_compete_months": months,
        "non_compete_monthly_compensation": f"{monthly:.2f}" if monthly is not None else None,
        "currency": currency,
    }


def monthly_compensation(terms: dict) -> Decimal | None:
    """The stored monthly non-compete compensation as a Decimal (never a float)."""
    value = (terms or {}).get("non_compete_monthly_compensation")
    return Decimal(value) if value not in (None, "") else None


def stored_date(value) -> date | None:
    """A date stored in the terms (ISO text), or None."""
    return date.fromisoformat(value) if value else None
