"""A credential's status, derived from its dates and the few facts dates cannot tell. Pure: no database.

`expires_on` is the last valid day. Order of precedence: revoked, renewed (superseded by a newer period),
pending renewal (a renewal is under review), then by date: valid, expiring (within the type's first
reminder offset), grace (past the last day but inside the type's grace days: still qualifies), expired.
"""
from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

DEFAULT_WARNING_DAYS = 90


class CredentialStatus(enum.StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    GRACE = "grace"
    EXPIRED = "expired"
    PENDING_RENEWAL = "pending_renewal"
    REVOKED = "revoked"
    RENEWED = "renewed"


LABELS = {
    CredentialStatus.VALID: _l("Valid"),
    CredentialStatus.EXPIRING: _l("Expiring"),
    CredentialStatus.GRACE: _l("Expired – in grace period"),
    CredentialStatus.EXPIRED: _l("Expired"),
    CredentialStatus.PENDING_RENEWAL: _l("Renewal under review"),
    CredentialStatus.REVOKED: _l("Revoked"),
    CredentialStatus.RENEWED: _l("Renewed"),
}

# Bootstrap badge colours
BADGES = {
    CredentialStatus.VALID: "success",
    CredentialStatus.EXPIRING: "warning",
    CredentialStatus.GRACE: "danger",
    CredentialStatus.EXPIRED: "danger",
    CredentialStatus.PENDING_RENEWAL: "info",
    CredentialStatus.REVOKED: "secondary",
    CredentialStatus.RENEWED: "secondary",
}


@dataclass(frozen=True)
class StatusFacts:
    """What the status is derived from."""

    expires_on: date | None
    grace_days: int = 0
    warning_days: int = DEFAULT_WARNING_DAYS
    is_revoked: bool = False
    is_superseded: bool = False
    has_open_renewal: bool = False


def derive_status(facts: StatusFacts, today: date) -> CredentialStatus:
    """The status on `today`."""
    if facts.is_revoked:
        return CredentialStatus.REVOKED
    if facts.is_superseded:
        return CredentialStatus.RENEWED
    if facts.has_open_renewal:
        return CredentialStatus.PENDING_RENEWAL
    return status_by_date(facts.expires_on, today, grace_days=facts.grace_days, warning_days=facts.warning_days)


def status_by_date(expires_on: date | None, today: date, *, grace_days: int = 0,
                   warning_days: int = DEFAULT_WARNING_DAYS) -> CredentialStatus:
    """Valid, expiring, grace or expired by the dates alone."""
    if expires_on is None:
        return CredentialStatus.VALID
    left = (expires_on - today).days
    if left >= 0:
        return CredentialStatus.EXPIRING if left <= warning_days else CredentialStatus.VALID
    return CredentialStatus.GRACE if -left <= grace_days else CredentialStatus.EXPIRED


def days_left(expires_on: date | None, today: date) -> int | None:
    """Days until the last valid day (0: it is today; negative: past)."""
    return None if expires_on is None else (expires_on - today).days


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February in a common year."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def expiry_for(issued_on: date, validity_years: int | None) -> date | None:
    """The last valid day of a period starting `issued_on`: the day before the anniversary (None: no expiry).

    A 5-year certificate issued on 1 September 2026 is valid up to and including 31 August 2031. One issued on
    29 February is valid up to 28 February (the day before 29 February, whether or not the last year has one),
    not 27 February: the leap-day holder keeps the whole of February, as one issued on 1 March does.
    """
    if validity_years is None:
        return None
    year = issued_on.year + validity_years
    if (issued_on.month, issued_on.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return add_years(issued_on, validity_years) - timedelta(days=1)


TRAINING_LABELS = {"submitted": _l("Awaiting verification"), "verified": _l("Verified"), "rejected": _l("Rejected")}
RENEWAL_LABELS = {"submitted": _l("Under review"), "approved": _l("Approved"), "rejected": _l("Rejected"),
                  "withdrawn": _l("Withdrawn")}
