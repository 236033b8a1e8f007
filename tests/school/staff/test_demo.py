"""The staff demo step: a record per demo teacher linked to their account, some without, idempotent."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.school import demo
from app.school.classes.models import Subject
from app.school.staff import demo as staff_demo
from app.school.staff import queries
from app.school.staff.models import StaffMember


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_every_demo_teacher_gets_a_linked_record_in_their_departments_school(db):
    result = demo.load_all()
    teachers = [spec for spec in demo.USERS if spec.role == "teacher"]
    assert result.other_created["staff"] == len(staff_demo.STAFF) == _count(StaffMember)
    for spec in teachers:
        user = db.session.scalar(sa.select(demo.User).where(demo.User.email == spec.email))
        staff = queries.staff_for_user(user)
        assert staff is not None, spec.local_part
        assert staff.department.code == spec.unit_codes[0] and staff.school == staff.department.parent
        assert staff.employee_number.startswith(staff.school.code + "-T")
        # teacher05's resignation is the demo's departure in handover
        assert staff.subjects and staff.status == ("on_notice" if spec.local_part == "teacher05" else "active")
    without = db.session.scalars(sa.select(StaffMember).where(StaffMember.user_id.is_(None))).all()
    assert len(without) == len(staff_demo.STAFF) - len(teachers) >= 2


def test_demo_staff_have_spread_hire_dates_and_some_are_in_probation(db):
    demo.load_all()
    staff = db.session.scalars(sa.select(StaffMember)).all()
    today = queries.local_today()
    assert len({s.hired_on.year for s in staff}) >= 8
    in_probation = [s for s in staff if s.probation_ends_on and s.probation_ends_on >= today]
    assert 2 <= len(in_probation) <= 4
    assert all(s.probation_ends_on >= s.hired_on for s in staff)


def test_demo_subjects_exist_once_with_their_codes(db):
    demo.load_all()
    codes = {s.code: s.name for s in db.session.scalars(sa.select(Subject))}
    assert {code: codes[code] for code, _name in staff_demo.SUBJECTS} == dict(staff_demo.SUBJECTS)
    artpe = db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == "RS1-T005"))
    assert sorted(s.code for s in artpe.subjects) == ["ART", "PE"]


def test_loading_the_staff_demo_twice_changes_nothing(db):
    demo.load_all()
    counts = (_count(StaffMember), _count(Subject), _count(AuditEvent))
    again = demo.load_all()
    assert again.other_created.get("staff", 0) == 0 and again.other_created.get("subjects", 0) == 0
    assert (_count(StaffMember), _count(Subject)) == counts[:2]
    assert _count(AuditEvent) == counts[2]  # not even a "demo.loaded" event: nothing changed


def test_creation_is_audited_as_system(db):
    demo.load_all()
    from tests.school.staff.conftest import AUDIT_BASELINE

    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.subject_type == "StaffMember", AuditEvent.seq > AUDIT_BASELINE["seq"])).all()
    assert {e.actor_label for e in events} == {"system"}
    assert sum(e.action == "staff.created" for e in events) == len(staff_demo.STAFF)


@pytest.mark.parametrize(("name", "expected"), [("李伟", ("李", "伟")), ("Emily Johnson", ("Johnson", "Emily")),
                                                ("Plato", ("Plato", ""))])
def test_split_name(name, expected):
    assert staff_demo.split_name(name) == expected
