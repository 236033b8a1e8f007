"""The classes demo step: both schools get classes of 2026-2027 with students, guardians and teachers; the demo
parents see their children (parent3 at both schools); a second load changes nothing; no staff, no classes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.school import demo
from app.school.classes import demo as classes_demo
from app.school.classes import queries
from app.school.classes.models import Assignment, Enrollment, Guardian, SchoolClass, Student, StudentGuardian

TABLES = (SchoolClass, Student, Guardian, StudentGuardian, Enrollment, Assignment)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


def _counts() -> dict[str, int]:
    return {m.__name__: _db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in TABLES}


def _user(local_part: str) -> User:
    return _db.session.scalar(sa.select(User).where(User.email == f"{local_part}@{demo.DEMO_DOMAIN}"))


@pytest.fixture
def loaded(db):
    return demo.load_all()


def test_the_demo_classes(loaded):
    """One load, every property (a load takes seconds): classes, guardians, parents, loads."""
    _classes_students_guardians_and_teachers(loaded)
    _guardians_vary_in_channel_and_language_and_some_have_two_children()
    _demo_parents_are_linked_and_parent3_has_children_at_both_schools()
    _teachers_stay_within_their_maximum_and_the_history_has_a_change()


def _classes_students_guardians_and_teachers(loaded):
    classes = _db.session.scalars(sa.select(SchoolClass).order_by(SchoolClass.id)).all()
    assert {(c.school.code, c.academic_year) for c in classes} == {("RS1", "2026-2027"), ("RS2", "2026-2027")}
    assert len(classes) == 6 and any(c.name == "初一(1)班" for c in classes)
    today = queries.local_today()
    for school_class in classes:
        page = queries.class_page(school_class, today)
        assert len(page.enrolments) == 20
        assert page.homeroom is not None, school_class.name
        assert sum(1 for a in page.current if a.role == "subject") >= 4
        assert all(e.student.guardian_links for e in page.enrolments)
    counts = _counts()
    assert loaded.other_created["classes"] == 6 and loaded.other_created["students"] == 120
    assert loaded.other_created["guardians"] == counts["Guardian"] and counts["Enrollment"] == 120


def _guardians_vary_in_channel_and_language_and_some_have_two_children():
    guardians = _db.session.scalars(sa.select(Guardian)).all()
    assert {g.preferred_channel for g in guardians} == {"email", "sms"}
    assert {g.locale for g in guardians} == {"en", "zh"}
    assert all(g.email or g.phone for g in guardians)
    two = [g for g in guardians if len({link.student.id for link in g.student_links}) >= 2]
    assert len(two) >= 4
    for guardian in two:
        classes = {queries.current_classes([link.student_id], queries.local_today())[link.student_id].id
                   for link in guardian.student_links}
        assert len(classes) == len(guardian.student_links)  # children in different classes


def _demo_parents_are_linked_and_parent3_has_children_at_both_schools():
    today = queries.local_today()
    children = {n: queries.children_of(queries.guardian_for_user(_user(f"parent{n}")), today) for n in (1, 2, 3)}
    assert len(children[1]) == 2 and len(children[2]) == 1
    assert {c.student.school.code for c in children[3]} == {"RS1", "RS2"}
    assert all(c.school_class is not None and c.homeroom is not None for kids in children.values() for c in kids)


def _teachers_stay_within_their_maximum_and_the_history_has_a_change():
    from app.school.staff.models import StaffMember

    for staff in _db.session.scalars(sa.select(StaffMember)):
        assert queries.weekly_load(staff, queries.local_today()) <= staff.max_weekly_periods, staff.full_name
    ended = _db.session.scalars(sa.select(Assignment).where(Assignment.ends_on.is_not(None))).all()
    rebalanced = [a for a in ended if a.end_reason == "Timetable rebalanced"]
    assert len(rebalanced) == 1  # the others were handed over by the demo's closed departure
    assert all(a.end_reason == "Departure of Olivia Taylor" for a in ended if a not in rebalanced)


def test_loading_twice_changes_nothing(loaded):
    before = _counts()
    again = demo.load_all()
    assert not again.changed and _counts() == before


def test_without_demo_staff_no_classes_are_created(db):
    result = demo.LoadResult()
    units = demo.load_org(result)
    users = demo.load_users(units, result)
    classes_demo.load(units, users, result)
    assert _counts() == dict.fromkeys(_counts(), 0)
    assert not any(result.other_created.get(k) for k in ("classes", "students", "guardians", "assignments"))
