"""The demo's departures at RS1: 陈静 (teacher05) in handover with two items ticked and a resolved blocker; Olivia
Taylor's case closed with her class reassigned, every guardian's notice delivered, some acknowledged, access ended,
final pay settled; the other login teachers free to resign; a second load adds nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.audit.queries import events_for_subject
from app.general.auth.models import User
from app.general.notifications.models import Notification
from app.school import demo
from app.school.classes.models import Assignment, Enrollment, StudentGuardian
from app.school.offboarding import demo as offboarding_demo
from app.school.offboarding.models import (
    Blocker,
    CaseStatus,
    ChecklistItem,
    ChecklistTemplateItem,
    DepartureCase,
    ParentNotice,
    Reassignment,
)
from app.school.offboarding.services import notices
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today

TABLES = (DepartureCase, ChecklistTemplateItem, ChecklistItem, Blocker, Reassignment, ParentNotice, Notification,
          Assignment, AuditEvent)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def loaded(db):
    return demo.load_all()


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _case_of(number: str) -> DepartureCase:
    return _db.session.scalar(sa.select(DepartureCase).join(StaffMember, StaffMember.id == DepartureCase.staff_id)
                              .where(StaffMember.employee_number == number))


def test_two_cases_and_a_second_load_adds_nothing(loaded):
    assert loaded.other_created["departure_cases"] == 2
    assert loaded.other_created["checklist_template_items"] > 0
    before = {model.__name__: _count(model) for model in TABLES}
    again = demo.load_all()
    assert not again.changed
    assert {model.__name__: _count(model) for model in TABLES} == before
    cases = _db.session.scalars(sa.select(DepartureCase)).all()
    assert sorted(c.status for c in cases) == [CaseStatus.CLOSED, CaseStatus.HANDOVER]


def test_the_handover_case_has_ticked_items_a_resolved_blocker_and_no_plan_yet(loaded):
    case = _case_of(offboarding_demo.HANDOVER_STAFF)
    assert case.status == CaseStatus.HANDOVER and case.staff.user.email.startswith("teacher05@")
    assert case.submitted_by_id == case.staff.user_id  # she handed it in herself, in the portal
    head = _db.session.scalar(sa.select(User).where(User.email == f"head1@{demo.DEMO_DOMAIN}"))
    assert case.decided_by_id == head.id
    assert case.last_working_day > local_today() and case.submitted_on < local_today()
    assert case.last_working_day >= case.earliest_last_day and case.waiver_reason is None
    done = [item for item in case.items if item.is_done]
    assert len(done) == 2 and len(case.items) > 2 and all(item.evidence for item in done)
    blockers = _db.session.scalars(sa.select(Blocker).where(Blocker.staff_id == case.staff_id)).all()
    assert len(blockers) == 1 and not blockers[0].is_open and blockers[0].resolution
    assert case.plan == [] and case.staff.status == StaffStatus.ON_NOTICE and case.staff.user.is_active_account
    actions = {event.action for event in events_for_subject("DepartureCase", case.id)}
    assert {"offboarding.submitted", "offboarding.approved", "offboarding.handover_started", "offboarding.item_done",
            "offboarding.blocker_raised", "offboarding.blocker_resolved"} <= actions


def test_the_closed_case_reassigned_notified_revoked_settled(loaded):
    case = _case_of(offboarding_demo.CLOSED_STAFF)
    today = local_today()
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    assert case.submitted_on < today and case.last_working_day == today
    assert case.effective_on == today + timedelta(days=1)
    assert case.staff.status == StaffStatus.DEPARTED and case.staff.departed_on == today
    assert case.access_revoked_at is not None and case.final_pay is not None and case.final_pay > 0
    assert all(item.is_done for item in case.items)
    # the class went to a colleague from tomorrow
    (row,) = case.plan
    assert row.confirmed_at is not None and row.new_assignment.staff_id != case.staff_id
    assert row.old_assignment.ends_on == today and row.new_assignment.starts_on == today + timedelta(days=1)
    # every guardian of the class has exactly one notice, delivered; some acknowledged through their link
    guardians = set(_db.session.scalars(sa.select(StudentGuardian.guardian_id).join(
        Enrollment, Enrollment.student_id == StudentGuardian.student_id).where(
        Enrollment.class_id == row.old_assignment.class_id)))
    rows = _db.session.scalars(sa.select(ParentNotice).where(ParentNotice.case_id == case.id)).all()
    assert {n.guardian_id for n in rows} == guardians and len(rows) == len(guardians)
    counts = notices.delivery_counts(case)
    assert counts["pending"] == 0 and counts["failed"] == 0
    assert counts["acknowledged"] == offboarding_demo.ACKNOWLEDGED and counts["sent"] == len(rows) - counts[
        "acknowledged"]
    assert all(n.acknowledged_via == "link" for n in rows if n.acknowledged_at is not None)
    bodies = " ".join(_db.session.scalars(sa.select(Notification.body_text).where(
        Notification.template == notices.TEMPLATE)))
    assert "Returning to the UK" not in bodies and "搬迁" not in bodies  # never the private reason
    actions = [event.action for event in events_for_subject("DepartureCase", case.id)]
    for action in ("submitted", "approved", "handover_started", "reassigned", "parents_notices_written",
                   "parents_notified", "access_ended", "access_revoked", "settled", "closed"):
        assert f"offboarding.{action}" in actions


def test_the_other_login_teachers_are_free_to_resign(loaded):
    numbers = set(_db.session.scalars(sa.select(StaffMember.employee_number).join(
        DepartureCase, DepartureCase.staff_id == StaffMember.id)))
    assert numbers == {offboarding_demo.HANDOVER_STAFF, offboarding_demo.CLOSED_STAFF}
    for n in (1, 2, 3, 4, 6):
        staff = _db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == f"RS1-T{n:03d}"))
        assert staff.user is not None and staff.status == StaffStatus.ACTIVE
