"""The daily contract jobs: expiry reminders (60 and 30 days before the end), obligations coming due, expiry.

Every message has an idempotency key, so a second run the same day writes nothing. A run that comes late
(a missed day, a stopped worker) sends only the reminder that is due now — the nearest offset — never a
burst of the ones it missed.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.general.contracts import queries
from app.general.contracts.models import Contract, Obligation
from app.general.contracts.services.common import SYSTEM, admins_of, link
from app.general.contracts.services.lifecycle import expire_contract
from app.general.notifications.models import Notification
from app.general.notifications.services import notify, notify_user

log = logging.getLogger(__name__)

EXPIRY_OFFSETS = (60, 30)  # days before the last day
OBLIGATION_NOTICE_DAYS = 7
OBLIGATION_CATCH_UP_DAYS = 30  # an obligation that fell due while nobody ran the job is still reminded once


def due_offset(days_left: int) -> int | None:
    """The reminder due with `days_left` days to go: the nearest offset not yet passed (None beyond them all)."""
    return min((offset for offset in EXPIRY_OFFSETS if 0 <= days_left <= offset), default=None)


def _sent(prefix: str) -> bool:
    stmt = sa.select(Notification.id).where(Notification.idempotency_key.startswith(prefix + ":", autoescape=True))
    return db.session.scalar(stmt.limit(1)) is not None


def _remind_contract(contract: Contract, offset: int, key: str, on: date) -> None:
    context = {"title": contract.title, "party_name": contract.party_name, "employer_name": contract.employer.name,
               "ends_on": contract.ends_on, "days_left": (contract.ends_on - on).days, "offset": offset}
    own_link = link("contracts.own", contract_id=contract.id)
    if contract.party_user is not None and contract.party_user.is_active:
        notify_user(contract.party_user, template="contracts/messages/expiry_reminder", key=f"{key}:party",
                    context={**context, "link": own_link, "for_party": True})
    elif contract.party_email:
        notify(template="contracts/messages/expiry_reminder", channel="email", key=f"{key}:party:email",
               address=contract.party_email, context={**context, "link": None, "for_party": True})
    admin_link = link("contracts.show", contract_id=contract.id)
    for admin in admins_of(contract.employer):
        if admin.id != contract.party_user_id:
            notify_user(admin, template="contracts/messages/expiry_reminder", key=f"{key}:user:{admin.id}",
                        context={**context, "link": admin_link, "for_party": False})


def _remind_obligation(obligation: Obligation, key: str) -> None:
    contract = obligation.contract
    context = {"title": contract.title, "party_name": contract.party_name, "employer_name": contract.employer.name,
               "kind": obligation.kind, "description": obligation.description, "due_on": obligation.due_on,
               "period_starts_on": obligation.period_starts_on, "period_ends_on": obligation.period_ends_on,
               "amount": f"{obligation.amount:.2f}" if obligation.amount is not None else None,
               "currency": obligation.currency, "link": link("contracts.show", contract_id=contract.id)}
    for admin in admins_of(contract.employer):
        notify_user(admin, template="contracts/messages/obligation_due", key=f"{key}:user:{admin.id}", context=context)


def send_expiry_reminders(on: date) -> dict[str, int]:
    """Remind party and admins of contracts ending soon, and admins of obligations due within a week."""
    counts = {"contracts": 0, "obligations": 0}
    for contract in queries.contracts_ending_between(on, on + timedelta(days=max(EXPIRY_OFFSETS))):
        offset = due_offset((contract.ends_on - on).days)
        key = f"contract:{contract.id}:expiry:{offset}"
        if offset is None or _sent(key):
            continue
        _remind_contract(contract, offset, key, on)
        counts["contracts"] += 1
    start, end = on - timedelta(days=OBLIGATION_CATCH_UP_DAYS), on + timedelta(days=OBLIGATION_NOTICE_DAYS)
    for obligation in queries.open_obligations_due_between(start, end):
        key = f"obligation:{obligation.id}:due"
        if _sent(key):
            continue
        _remind_obligation(obligation, key)
        counts["obligations"] += 1
    log.info("contract reminders for %s: %d contracts, %d obligations", on, counts["contracts"], counts["obligations"])
    return counts


def expire_due_contracts(on: date) -> int:
    """Active contracts whose last day is before `on` become expired (their non-compete schedule starts)."""
    count = 0
    for contract in queries.active_contracts_ended_before(on):
        expire_contract(contract, actor=SYSTEM, on=on)
        count += 1
    if count:
        log.info("%d contract(s) expired on %s", count, on)
    return count
