"""Access revocation and the beat task: a dismissal ends access at approval; otherwise the task disables the
account once the end of the last working day has come (by the system, audited, safe to run twice), and moves the
case on once every notice has gone out — failed deliveries hold it unless an admin accepts them."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.audit.queries import events_for_subject
from app.general.auth.sessions import load_user
from app.school.offboarding.models import CaseStatus
from app.school.offboarding.services import access, cases
from tests.school.offboarding.conftest import TODAY, mark_outbox, open_case, to_reassigned

# The last working day is Friday 8 January 2027; its end in Asia/Shanghai is 16:00 UTC that day.
BEFORE_END = datetime(2027, 1, 8, 15, 59, tzinfo=UTC)
AT_END = datetime(2027, 1, 8, 16, 0, tzinfo=UTC)
EARLY = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


def deactivations(user) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "auth.user_deactivated", AuditEvent.subject_type == "User",
        AuditEvent.subject_id == str(user.id))))


def test_approving_a_dismissal_ends_access_at_once(departure, today):
    d = departure
    user = d.leaving_user
    session_id, epoch = user.get_id(), user.session_epoch
    assert load_user(session_id) is user
    case = open_case(d, kind="dismissal", last_day=TODAY)
    assert user.is_active_account  # filing is not deciding
    cases.approve(case, actor=d.head)
    assert not user.is_active_account and user.deactivated_at is not None
    assert user.session_epoch == epoch + 1
    assert load_user(session_id) is None  # the live session stops working
    assert case.access_revoked_at is not None and case.status == CaseStatus.APPROVED
    [event] = deactivations(user)
    assert event.actor_id == d.head.id
    assert "offboarding.access_ended" in [e.action for e in events_for_subject("DepartureCase", case.id)]


def test_the_task_does_nothing_before_the_end_of_the_last_day(departure, today):
    d = departure
    case = open_case(d)
    cases.approve(case, actor=d.head)
    epoch = d.leaving_user.session_epoch
    assert access.tick(now=BEFORE_END)["revoked"] == 0
    db.session.refresh(d.leaving_user)
    assert d.leaving_user.is_active_account and d.leaving_user.session_epoch == epoch
    assert case.access_revoked_at is None and deactivations(d.leaving_user) == []


def test_the_task_disables_the_account_as_the_system_and_is_safe_twice(departure, today):
    d = departure
    case = open_case(d)
    cases.approve(case, actor=d.head)
    session_id, epoch = d.leaving_user.get_id(), d.leaving_user.session_epoch
    assert access.tick(now=AT_END)["revoked"] == 1
    db.session.refresh(d.leaving_user)
    db.session.refresh(case)
    assert not d.leaving_user.is_active_account and d.leaving_user.session_epoch == epoch + 1
    assert load_user(session_id) is None
    assert case.access_revoked_at is not None and case.status == CaseStatus.APPROVED
    [event] = deactivations(d.leaving_user)
    assert (event.actor_id, event.actor_label) == (None, "system")
    ended = [e for e in events_for_subject("DepartureCase", case.id) if e.action == "offboarding.access_ended"]
    assert [(e.actor_id, e.actor_label) for e in ended] == [(None, "system")]

    assert access.tick(now=AT_END)["revoked"] == 0
    db.session.refresh(d.leaving_user)
    assert d.leaving_user.session_epoch == epoch + 1 and len(deactivations(d.leaving_user)) == 1


def test_a_withdrawn_case_keeps_the_account(departure, today):
    d = departure
    case = open_case(d)
    cases.approve(case, actor=d.head)
    cases.withdraw(case, actor=d.admin, reason="Stays")
    access.tick(now=AT_END)
    db.session.refresh(d.leaving_user)
    assert d.leaving_user.is_active_account


def test_an_unapproved_case_is_not_revoked_by_the_task(departure, today):
    d = departure
    open_case(d)
    assert access.tick(now=AT_END)["revoked"] == 0
    assert d.leaving_user.is_active_account


def test_revoke_early_needs_a_reason_and_an_admin(departure, today):
    d = departure
    case = open_case(d)
    cases.approve(case, actor=d.head)
    with pytest.raises(ValidationFailed):
        access.revoke_early(case, actor=d.admin, note=" ")
    with pytest.raises(NotAllowed):
        access.revoke_early(case, actor=d.head, note="Garden leave")
    assert d.leaving_user.is_active_account
    access.revoke_early(case, actor=d.admin, note="Garden leave")
    assert not d.leaving_user.is_active_account and case.access_revoked_at is not None


def test_revoke_early_is_refused_before_approval(departure, today):
    d = departure
    case = open_case(d)
    with pytest.raises(InvalidTransition):
        access.revoke_early(case, actor=d.admin, note="Garden leave")
    assert d.leaving_user.is_active_account


# --- moving the case along ---------------------------------------------------------------------------------------


def test_the_task_marks_parents_notified_only_when_every_notice_is_sent(departure, today):
    d = departure
    case = to_reassigned(d)
    assert access.tick(now=EARLY)["notified"] == 0
    db.session.refresh(case)
    assert case.status == CaseStatus.REASSIGNED
    mark_outbox(case, "sent")
    mark_outbox(case, "pending", guardian_ids=[d.guardians[3].id])
    access.tick(now=EARLY)
    db.session.refresh(case)
    assert case.status == CaseStatus.REASSIGNED
    mark_outbox(case, "sent")
    assert access.tick(now=EARLY)["notified"] == 1
    db.session.refresh(case)
    assert case.status == CaseStatus.PARENTS_NOTIFIED and case.parents_notified_at is not None
    assert d.leaving_user.is_active_account  # the last day has not ended yet
    access.tick(now=AT_END)
    db.session.refresh(case)
    assert case.status == CaseStatus.ACCESS_REVOKED
    db.session.refresh(d.leaving_user)
    assert not d.leaving_user.is_active_account


def test_an_acknowledged_notice_counts_as_gone_out(departure, today):
    from app.school.offboarding.models import ParentNotice
    from app.school.offboarding.services import notices

    d = departure
    case = to_reassigned(d)
    mark_outbox(case, "sent")
    mark_outbox(case, "pending", guardian_ids=[d.guardians[3].id])
    notice = db.session.scalar(sa.select(ParentNotice).where(ParentNotice.guardian_id == d.guardians[3].id))
    notices.acknowledge(notice, via="link")
    access.tick(now=EARLY)
    db.session.refresh(case)
    assert case.status == CaseStatus.PARENTS_NOTIFIED


def test_a_failed_delivery_holds_the_case_unless_accepted(departure, today):
    d = departure
    case = to_reassigned(d)
    mark_outbox(case, "sent")
    mark_outbox(case, "failed", guardian_ids=[d.twin_guardian.id], error="number unreachable")
    access.tick(now=AT_END)
    db.session.refresh(case)
    assert case.status == CaseStatus.REASSIGNED  # access may end, the case waits for the admin
    assert case.access_revoked_at is not None
    with pytest.raises(InvalidTransition, match="could not be delivered"):
        access.mark_parents_notified(case, actor=d.admin)
    access.mark_parents_notified(case, actor=d.admin, accept_failed=True)
    assert case.status == CaseStatus.ACCESS_REVOKED  # access already ended: straight on
    notified = next(e for e in events_for_subject("DepartureCase", case.id)
                    if e.action == "offboarding.parents_notified")
    assert notified.actor_id == d.admin.id and notified.changes["failed_accepted"] == 1


def test_mark_parents_notified_waits_for_pending_notices(departure, today):
    d = departure
    case = to_reassigned(d)
    with pytest.raises(InvalidTransition, match="7 notices are still on their way"):
        access.mark_parents_notified(case, actor=d.admin, accept_failed=True)
    assert case.status == CaseStatus.REASSIGNED
