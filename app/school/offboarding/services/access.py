"""Access revocation and the automatic steps of a case.

The case schedules the end of access when it is approved: the end of the last working day in the schools' time
zone, or at once for a dismissal. The beat task (`offboarding.tick`, every minute) disables every account whose
time has come — whether or not anyone is looking — and its sessions stop working at once (the session epoch).
It also moves cases along the steps that need nobody: reassigned → parents notified once every notice has gone
out, parents notified → access revoked once the account is disabled.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.services.signin import end_all_sessions
from app.school.offboarding.models import CaseStatus, DepartureCase
from app.school.offboarding.services.common import (
    audit,
    check_reach,
    clean_optional_text,
    flush,
    lock_case,
    move,
    raise_if,
    require_status,
)

log = logging.getLogger(__name__)

# Access may be ended from the approval on (a dismissal at once; anyone sent home early).
REVOCABLE = (CaseStatus.APPROVED, CaseStatus.HANDOVER, CaseStatus.REASSIGNED, CaseStatus.PARENTS_NOTIFIED)


def revoke_now(case: DepartureCase, *, actor: Any, note: Any = None) -> bool:
    """Disable the departing person's account now and end its sessions; stamp the case. Safe twice: returns
    False when access was already revoked. (The caller holds the case lock.)"""
    if case.access_revoked_at is not None:
        return False
    user = case.staff.user
    if user is not None and user.is_active_account:
        user.is_active_account, user.deactivated_at = False, utcnow()
        case.disabled_account = True
        end_all_sessions(user)
        record("auth.user_deactivated", subject=user, actor=actor,
               changes={"reason": "departure", "case_id": case.id})
    case.access_revoked_at = utcnow()
    case.updated_at = utcnow()
    flush()
    audit(case, "access_ended", actor, user_id=user.id if user else None, note=note,
          scheduled_for=case.revoke_access_at)
    log.info("departure case %s: access of staff %s ended", case.id, case.staff_id)
    return True


def revoke_early(case: DepartureCase, *, actor: Any, note: Any, expected_version: int | None = None) -> None:
    """An admin ends the person's access before the scheduled time (sent home on garden leave), with the reason."""
    check_reach(actor, "departures.manage", case)
    text, problem = clean_optional_text(note, 500)
    raise_if({"note": problem if problem else (None if text else _("Say why access ends early."))})
    lock_case(case, expected_version)
    require_status(case, REVOCABLE, _("given an early end of access"))
    revoke_now(case, actor=actor, note=text)
    _advance(case)


def mark_parents_notified(case: DepartureCase, *, actor: Any, accept_failed: bool = False,
                          expected_version: int | None = None) -> None:
    """Every notice has gone out: the case moves on. Failed deliveries hold it unless the admin accepts them
    (the parents with an account still have the notice in their portal inbox).

    :raises InvalidTransition: before the reassignment, while notices are still waiting, or with failures not
    accepted.
    """
    from app.school.offboarding.services.notices import delivery_counts
    from app.school.offboarding.services.plan import require_reassigned

    if actor != SYSTEM:
        check_reach(actor, "departures.manage", case)
    require_reassigned(case)
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.REASSIGNED,), _("marked as parents notified"))
    counts = delivery_counts(case)
    if counts["pending"]:
        raise InvalidTransition(_("%(n)d notices are still on their way: wait until they have gone out.",
                                  n=counts["pending"]))
    if counts["failed"] and not accept_failed:
        raise InvalidTransition(_("%(n)d notices could not be delivered: retry them, or confirm that the case may go "
                                  "on without them.", n=counts["failed"]))
    case.parents_notified_at = utcnow()
    move(case, CaseStatus.PARENTS_NOTIFIED, actor=actor, action="parents_notified", sent=counts["sent"],
         acknowledged=counts["acknowledged"], failed_accepted=counts["failed"])
    _advance(case)


def _advance(case: DepartureCase) -> None:
    """parents notified → access revoked once the account is disabled (nobody needs to press anything)."""
    if case.status == CaseStatus.PARENTS_NOTIFIED and case.access_revoked_at is not None:
        move(case, CaseStatus.ACCESS_REVOKED, actor=SYSTEM, action="access_revoked")


def _due(now: datetime) -> list[int]:
    return list(db.session.scalars(sa.select(DepartureCase.id).where(
        DepartureCase.status.in_([str(s) for s in REVOCABLE]), DepartureCase.access_revoked_at.is_(None),
        DepartureCase.revoke_access_at.is_not(None), DepartureCase.revoke_access_at <= now)))


def _waiting(status: CaseStatus) -> list[int]:
    return list(db.session.scalars(sa.select(DepartureCase.id).where(DepartureCase.status == status)))


def _revoke_due(now: datetime) -> int:
    revoked = 0
    for case_id in _due(now):
        try:
            case = db.session.get(DepartureCase, case_id)
            lock_case(case)
            if case.status in REVOCABLE and case.access_revoked_at is None and revoke_now(case, actor=SYSTEM):
                revoked += 1
                _advance(case)
            db.session.commit()
        except Conflict:
            db.session.rollback()
    return revoked


def _notified() -> int:
    from app.school.offboarding.services.notices import all_dispatched

    moved = 0
    for case_id in _waiting(CaseStatus.REASSIGNED):
        try:
            case = db.session.get(DepartureCase, case_id)
            if all_dispatched(case) and not _failed(case):
                mark_parents_notified(case, actor=SYSTEM)
                moved += 1
            db.session.commit()
        except (Conflict, InvalidTransition):
            db.session.rollback()
    return moved


def _advanced() -> int:
    moved = 0
    for case_id in _waiting(CaseStatus.PARENTS_NOTIFIED):
        try:
            case = db.session.get(DepartureCase, case_id)
            if case.access_revoked_at is not None:
                lock_case(case)
                _advance(case)
                moved += 1
            db.session.commit()
        except Conflict:
            db.session.rollback()
    return moved


def tick(now: datetime | None = None) -> dict[str, int]:
    """The beat task's pass: end access that is due, and move cases on. Each case in its own transaction (a
    conflict with someone working on the case is left for the next pass). Safe to run twice or late."""
    done = {"revoked": _revoke_due(now or utcnow()), "notified": _notified(), "advanced": _advanced()}
    if any(done.values()):
        log.info("offboarding tick: %s", done)
    return done


def _failed(case: DepartureCase) -> int:
    from app.school.offboarding.services.notices import delivery_counts

    return delivery_counts(case)["failed"]
