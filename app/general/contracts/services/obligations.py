"""Obligations that outlive a contract: confidentiality (no end) and the monthly non-compete compensation."""
from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.contracts.models import (
    Contract,
    ContractKind,
    ContractStatus,
    Obligation,
    ObligationKind,
    ObligationStatus,
)
from app.general.contracts.services.common import SYSTEM, audit, check_version, flush, local_today, require_can
from app.general.contracts.services.terms import money, monthly_compensation

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 2000


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def non_compete_periods(last_day: date, months: int) -> list[tuple[date, date]]:
    """The consecutive monthly periods of restriction after `last_day` (first day, last day)."""
    start = last_day + timedelta(days=1)
    return [(add_months(start, n), add_months(start, n + 1) - timedelta(days=1)) for n in range(months)]


def create_obligations_on_activation(contract: Contract, *, actor: Any) -> list[Obligation]:
    """The obligations a contract's kind and terms imply, created when it comes into force."""
    created: list[Obligation] = []
    if contract.kind == ContractKind.CONFIDENTIALITY:
        obligation = Obligation(
            contract=contract, kind=ObligationKind.CONFIDENTIALITY, status=ObligationStatus.OPEN,
            description="Keep the employer's confidential information secret, during and after the contract.",
        )
        db.session.add(obligation)
        created.append(obligation)
        flush()
        audit("obligation_created", contract, actor, obligation_id=obligation.id, kind=obligation.kind)
    if contract.ends_on is not None:
        created += schedule_non_compete(contract, contract.ends_on, actor=actor)
    return created


def _schedule(contract: Contract) -> list[Obligation]:
    return [o for o in contract.obligations
            if o.kind == ObligationKind.NON_COMPETE_COMPENSATION and o.status != ObligationStatus.WAIVED]


def schedule_non_compete(contract: Contract, last_day: date, *, actor: Any = SYSTEM) -> list[Obligation]:
    """One compensation obligation per month of non-compete after `last_day` (due on each month's last day).

    Idempotent: the same last day keeps the existing schedule; another last day (left early, offboarding)
    waives the open months and schedules anew. Contracts without non-compete terms get nothing.

    :raises Conflict: when a month of the old schedule was already paid and the dates would change.
    """
    months = int(contract.terms.get("non_compete_months") or 0)
    monthly = monthly_compensation(contract.terms)
    if months <= 0 or monthly is None:
        return []
    periods = non_compete_periods(last_day, months)
    existing = _schedule(contract)
    if [(o.period_starts_on, o.period_ends_on, o.amount) for o in existing] == [(s, e, monthly) for s, e in periods]:
        return existing
    if any(o.status == ObligationStatus.DONE for o in existing):
        raise Conflict(_("Non-compete compensation has already been paid for some months; "
                         "the schedule cannot be moved automatically."))
    for old in existing:
        old.status, old.note = ObligationStatus.WAIVED, f"Rescheduled: the last day is now {last_day.isoformat()}."
        old.done_at = utcnow()
    currency = contract.terms.get("currency") or "CNY"
    created = [
        Obligation(contract=contract, kind=ObligationKind.NON_COMPETE_COMPENSATION, status=ObligationStatus.OPEN,
                   description=f"Non-compete compensation, month {n} of {months}",
                   period_starts_on=start, period_ends_on=end, due_on=end, amount=monthly, currency=currency)
        for n, (start, end) in enumerate(periods, start=1)
    ]
    db.session.add_all(created)
    flush()
    audit("non_compete_scheduled", contract, actor, last_day=last_day, months=months, monthly=monthly,
          currency=currency, total=monthly * months, replaced=len(existing))
    log.info("contract %s: %d months of non-compete compensation scheduled after %s", contract.id, months, last_day)
    return created


def add_obligation(contract: Contract, *, actor: Any, description: str, due_on: date | None = None,
                   amount: Decimal | str | None = None) -> Obligation:
    """Record another obligation of a signed contract (kind "other").

    :raises InvalidTransition: for a draft or an issued contract not yet signed.
    """
    require_can(actor, "contracts.manage", contract)
    if contract.status in (ContractStatus.DRAFT, ContractStatus.ISSUED):
        raise InvalidTransition(_("Obligations belong to contracts that have been signed."))
    description = (description or "").strip()
    if not description or len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(_("Describe the obligation (at most %(n)d characters).", n=DESCRIPTION_MAX),
                               field="description")
    try:
        value = money(amount)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, field="amount") from None
    obligation = Obligation(contract=contract, kind=ObligationKind.OTHER, status=ObligationStatus.OPEN,
                            description=description, due_on=due_on, amount=value,
                            currency=(contract.terms.get("currency") or "CNY") if value is not None else None)
    db.session.add(obligation)
    flush()
    audit("obligation_created", contract, actor, obligation_id=obligation.id, kind=obligation.kind,
          due_on=due_on, amount=value)
    return obligation


def _close(obligation: Obligation, status: str, *, actor: Any, note: str | None, expected_version: int | None,
           on: date | None = None) -> Obligation:
    check_version(obligation, expected_version)
    require_can(actor, "contracts.manage", obligation)
    if obligation.status != ObligationStatus.OPEN:
        raise InvalidTransition(_("This obligation is already closed."))
    note = (note or "").strip()
    if len(note) > DESCRIPTION_MAX:
        raise ValidationFailed(_("A note has at most %(n)d characters.", n=DESCRIPTION_MAX), field="note")
    obligation.status, obligation.note, obligation.done_at = status, note or None, utcnow()
    obligation.done_by_id = None if actor == SYSTEM else actor.id
    flush()
    audit(f"obligation_{status}", obligation.contract, actor, obligation_id=obligation.id, kind=obligation.kind,
          amount=obligation.amount, on=on or local_today(), note=note)
    return obligation


def mark_obligation_done(obligation: Obligation, *, actor: Any, on: date | None = None, note: str | None = None,
                         expected_version: int | None = None) -> Obligation:
    """Record that an obligation was fulfilled (e.g. a month's compensation paid).

    :raises InvalidTransition: when it is already done or waived.
    """
    return _close(obligation, ObligationStatus.DONE, actor=actor, note=note, expected_version=expected_version, on=on)


def waive_obligation(obligation: Obligation, *, actor: Any, reason: str,
                     expected_version: int | None = None) -> Obligation:
    """Release an obligation (e.g. the employer waives the non-compete); a reason is required.

    :raises InvalidTransition: when it is already done or waived.
    """
    if not (reason or "").strip():
        raise ValidationFailed(_("Give the reason."), field="note")
    return _close(obligation, ObligationStatus.WAIVED, actor=actor, note=reason, expected_version=expected_version)
