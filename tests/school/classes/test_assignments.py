"""Teaching assignments: capacity, one homeroom at a time, dated history, who may be assigned, qualification
overrides, optimistic locking, and nothing half-written when a rule fails."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.classes import services
from app.school.classes.models import Assignment, SchoolClass
from tests import factories
from tests.school.classes.conftest import SEP1

ADMIN = "system"


def _assign(year, staff=None, *, school_class=None, role="subject", subject="math", periods=4, starts_on=SEP1,
            **kwargs) -> Assignment:
    subject = getattr(year, subject) if isinstance(subject, str) else subject
    return services.assign_teacher(school_class or year.class_a, staff or year.teacher_a, role=role,
                                   subject=subject if role == "subject" else None, weekly_periods=periods,
                                   starts_on=starts_on, actor=ADMIN, **kwargs)


def _rows() -> list[tuple]:
    return [tuple(row) for row in _db.session.execute(sa.select(
        Assignment.id, Assignment.staff_id, Assignment.starts_on, Assignment.ends_on, Assignment.weekly_periods))]


def _events(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


# --- capacity -----------------------------------------------------------------------------------------------


def test_a_teacher_may_be_assigned_exactly_up_to_their_maximum(year):
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    _assign(year, periods=10)
    _assign(year, school_class=other, periods=6)
    assert sum(a.weekly_periods for a in _db.session.scalars(sa.select(Assignment))) == 16 == \
        year.teacher_a.max_weekly_periods


def test_one_period_over_the_maximum_is_refused_with_the_numbers(year):
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    _assign(year, periods=10)
    with pytest.raises(ValidationFailed) as refused:
        _assign(year, school_class=other, periods=7)
    assert refused.value.field == "weekly_periods"
    assert "17 periods" in refused.value.message and "maximum of 16" in refused.value.message
    assert len(_rows()) == 1


def test_ended_assignments_free_their_periods_and_later_ones_count(year):
    other = factories.make_class(year.school_a, name="Grade 7 Class 2")
    third = factories.make_class(year.school_a, name="Grade 7 Class 3")
    factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=12,
                              ends_on=date(2026, 10, 14))
    _assign(year, school_class=other, periods=10, starts_on=date(2026, 10, 15))  # 12 + 10 would be too many
    # starts before the 10-period one: fits on its own first day, but not once that one begins
    other_assignment = _db.session.scalars(sa.select(Assignment).where(Assignment.class_id == other.id)).one()
    services.end_assignment(other_assignment, last_day=date(2026, 10, 20), reason="swap", actor=ADMIN)
    factories.make_assignment(other, year.teacher_a, subject=year.english, weekly_periods=10,
                              starts_on=date(2026, 11, 1))
    with pytest.raises(ValidationFailed) as refused:
        _assign(year, school_class=third, periods=7, starts_on=date(2026, 10, 21))
    assert "17 periods a week from 2026-11-01" in refused.value.message


def test_weekly_load_counts_only_assignments_running_that_day(year):
    from app.school.classes.queries import weekly_load

    factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=5,
                              ends_on=date(2026, 10, 31))
    factories.make_assignment(year.class_b, year.teacher_b, subject=year.math, weekly_periods=3)
    assert weekly_load(year.teacher_a, date(2026, 10, 31)) == 5
    assert weekly_load(year.teacher_a, date(2026, 11, 1)) == 0
    assert weekly_load(year.teacher_a, date(2026, 8, 31)) == 0


# --- one homeroom (and one teacher per subject) at a time ----------------------------------------------------


def test_a_second_homeroom_teacher_is_refused(year):
    _assign(year, role="homeroom", periods=1)
    with pytest.raises(ValidationFailed) as refused:
        _assign(year, year.teacher_a2, role="homeroom", periods=1, starts_on=date(2026, 10, 1))
    assert refused.value.field == "starts_on"
    assert "one homeroom teacher at a time" in refused.value.message
    assert len(_rows()) == 1


@pytest.mark.parametrize(("first", "second", "allowed"), [
    ((date(2026, 9, 1), date(2026, 10, 31)), date(2026, 11, 1), True),    # starts the day after: fine
    ((date(2026, 9, 1), date(2026, 10, 31)), date(2026, 10, 31), False),  # the last day overlaps
    ((date(2026, 11, 1), None), date(2026, 9, 1), False),                 # an open-ended one would run into it
])
def test_homeroom_date_ranges_may_not_overlap(year, first, second, allowed):
    factories.make_assignment(year.class_a, year.teacher_a, starts_on=first[0], ends_on=first[1], weekly_periods=1)
    if allowed:
        assert _assign(year, year.teacher_a2, role="homeroom", periods=1, starts_on=second).id
    else:
        with pytest.raises(ValidationFailed, match="homeroom"):
            _assign(year, year.teacher_a2, role="homeroom", periods=1, starts_on=second)


def test_homerooms_of_different_classes_do_not_clash(year):
    other = factories.make_class(year.school_a, name="Grade 8 Class 1", grade=8)
    _assign(year, role="homeroom", periods=1)
    assert _assign(year, year.teacher_a2, school_class=other, role="homeroom", periods=1).id


def test_two_teachers_of_the_same_subject_in_one_class_are_refused_but_another_subject_is_fine(year):
    _assign(year, periods=5)
    with pytest.raises(ValidationFailed, match="Maths"):
        _assign(year, year.teacher_a2, periods=5)
    assert _assign(year, year.teacher_a2, subject="english", periods=5).id


# --- dated history ------------------------------------------------------------------------------------------


def test_change_teacher_ends_the_old_assignment_the_day_before_and_starts_a_new_one(year):
    old = _assign(year, periods=5)
    new = services.change_teacher(old, year.teacher_a2, effective_on=date(2026, 11, 16), actor=ADMIN,
                                  reason="Parental leave")
    assert (old.staff_id, old.starts_on, old.ends_on, old.end_reason) == \
        (year.teacher_a.id, SEP1, date(2026, 11, 15), "Parental leave")
    assert (new.staff_id, new.starts_on, new.ends_on, new.weekly_periods, new.subject_id, new.role) == \
        (year.teacher_a2.id, date(2026, 11, 16), None, 5, year.math.id, "subject")
    assert new.id != old.id and len(_rows()) == 2
    event = _events("classes.teacher_changed")[-1]
    assert event.changes["from_assignment"] == old.id and event.changes["to_assignment"] == new.id
    assert event.changes["effective_on"] == "2026-11-16"


def test_changing_twice_keeps_every_row(year):
    first = _assign(year, role="homeroom", periods=1)
    second = services.change_teacher(first, year.teacher_a2, effective_on=date(2026, 10, 1), actor=ADMIN)
    third = services.change_teacher(second, year.teacher_a, effective_on=date(2026, 11, 1), actor=ADMIN)
    history = sorted(_rows(), key=lambda row: row[2])
    assert [(row[1], row[2], row[3]) for row in history] == [
        (year.teacher_a.id, SEP1, date(2026, 9, 30)),
        (year.teacher_a2.id, date(2026, 10, 1), date(2026, 10, 31)),
        (year.teacher_a.id, date(2026, 11, 1), None),
    ]
    assert third.ends_on is None


def test_change_teacher_keeps_a_planned_end(year):
    old = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, ends_on=date(2027, 1, 31))
    new = services.change_teacher(old, year.teacher_a2, effective_on=date(2026, 12, 1), actor=ADMIN)
    assert new.ends_on == date(2027, 1, 31)


@pytest.mark.parametrize(("effective_on", "message"), [
    (date(2026, 9, 1), "must start after"),
    (date(2027, 9, 1), "runs from"),
])
def test_change_teacher_refuses_dates_outside_the_assignment(year, effective_on, message):
    old = _assign(year)
    with pytest.raises(ValidationFailed, match=message):
        services.change_teacher(old, year.teacher_a2, effective_on=effective_on, actor=ADMIN)
    assert old.ends_on is None and len(_rows()) == 1


def test_change_teacher_checks_the_new_teachers_capacity_and_changes_nothing_when_it_fails(year):
    busy = factories.make_class(year.school_a, name="Grade 9 Class 1", grade=9)
    factories.make_assignment(busy, year.teacher_a2, subject=year.english, weekly_periods=14)
    old = _assign(year, periods=5)
    before, events_before = _rows(), len(_events("classes.teacher_changed"))  # (committed tests may leave some)
    with pytest.raises(ValidationFailed, match="over their maximum"):
        services.change_teacher(old, year.teacher_a2, effective_on=date(2026, 11, 2), actor=ADMIN)
    _db.session.expire_all()
    assert _rows() == before and len(_events("classes.teacher_changed")) == events_before


def test_end_assignment_records_the_last_day_and_the_reason(year):
    assignment = _assign(year)
    services.end_assignment(assignment, last_day=date(2026, 12, 31), reason="Timetable change", actor=ADMIN)
    assert (assignment.ends_on, assignment.end_reason) == (date(2026, 12, 31), "Timetable change")
    with pytest.raises(ValidationFailed, match="already ends"):
        services.end_assignment(assignment, last_day=date(2027, 1, 31), reason="again", actor=ADMIN)
    with pytest.raises(ValidationFailed) as no_reason:
        services.end_assignment(assignment, last_day=date(2026, 12, 1), reason="  ", actor=ADMIN)
    assert no_reason.value.field == "reason"


# --- who may be assigned -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "message"), [("departed", "has left"), ("on_notice", "on notice")])
def test_departed_and_on_notice_teachers_get_no_new_assignment(year, status, message):
    year.teacher_a.status = status
    with pytest.raises(ValidationFailed, match=message) as refused:
        _assign(year)
    assert refused.value.field == "staff" and not _rows()


def test_a_teacher_of_another_school_is_refused(year):
    with pytest.raises(ValidationFailed, match="School B") as refused:
        _assign(year, year.teacher_b)
    assert refused.value.field == "staff"


def test_an_admin_of_another_school_may_not_assign(year, org):
    admin_b = factories.make_user("admin", unit=org.school_b)
    with pytest.raises(NotAllowed):
        services.assign_teacher(year.class_a, year.teacher_a, role="homeroom", weekly_periods=1, starts_on=SEP1,
                                actor=admin_b)


def test_an_unqualified_teacher_needs_a_recorded_reason(year):
    with pytest.raises(ValidationFailed) as refused:
        _assign(year, subject="english")
    assert refused.value.field == "override_reason"
    assert "does not list English" in refused.value.message
    assignment = _assign(year, subject="english", override_reason="Holds a TEFL certificate; approved by the head")
    assert assignment.qualification_override == "Holds a TEFL certificate; approved by the head"
    event = _events("classes.teacher_assigned")[-1]
    assert event.changes["qualification_override"] == "Holds a TEFL certificate; approved by the head"


def test_a_qualified_teacher_stores_no_override(year):
    assert _assign(year, override_reason="not needed").qualification_override is None


def test_the_qualification_rule_lives_in_one_swappable_function(year, monkeypatch):
    from app.school.classes.services import assignments

    monkeypatch.setattr(assignments, "qualification_problem", lambda *_args: "No valid certificate.")
    with pytest.raises(ValidationFailed, match="No valid certificate"):
        _assign(year)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"role": "janitor"}, "role"),
    ({"subject": None}, "subject"),
    ({"periods": 41}, "weekly_periods"),
    ({"periods": "many"}, "weekly_periods"),
    ({"starts_on": date(2027, 8, 1)}, "starts_on"),
    ({"starts_on": "not a date"}, "starts_on"),
])
def test_bad_input_names_its_field(year, kwargs, field):
    with pytest.raises(ValidationFailed) as refused:
        _assign(year, **kwargs)
    assert field in getattr(refused.value, "errors", {refused.value.field: None})
    assert not _rows()


def test_an_inactive_subject_gets_no_new_teacher(year):
    year.math.is_active = False
    with pytest.raises(ValidationFailed, match="no longer taught"):
        _assign(year)


# --- locking ------------------------------------------------------------------------------------------------


def test_every_change_bumps_the_class_version(year):
    version = year.class_a.version
    assignment = _assign(year)
    assert year.class_a.version == version + 1
    services.end_assignment(assignment, last_day=date(2026, 12, 1), reason="done", actor=ADMIN)
    assert year.class_a.version == version + 2


def test_a_stale_expected_version_is_a_conflict(year):
    seen = year.class_a.version
    _assign(year, role="homeroom", periods=1)
    with pytest.raises(Conflict, match="at the same time"):
        _assign(year, year.teacher_a2, subject="english", expected_version=seen)


def test_two_sessions_assigning_a_homeroom_at_once_one_wins_the_other_gets_a_conflict(year):
    """SQLite has no FOR UPDATE: the version check refuses the second writer (PostgreSQL: see test_concurrency)."""
    _db.session.commit()  # both sessions see the setup
    connection = _db.session.connection()
    other = orm.Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        mine = _db.session.get(SchoolClass, year.class_a.id)
        theirs = other.get(SchoolClass, year.class_a.id)
        assert mine.version == theirs.version
        # the other admin commits first
        from app.school.staff.models import StaffMember

        scoped, _db.session = _db.session, orm.scoped_session(lambda: other)
        try:
            services.assign_teacher(theirs, other.get(StaffMember, year.teacher_a2.id), role="homeroom",
                                    weekly_periods=1, starts_on=SEP1, actor=ADMIN)
            other.commit()
        finally:
            _db.session = scoped
        with pytest.raises(Conflict):
            services.assign_teacher(mine, year.teacher_a, role="homeroom", weekly_periods=1, starts_on=SEP1,
                                    actor=ADMIN)
    finally:
        other.close()
    _db.session.expire_all()
    homerooms = _db.session.scalars(sa.select(Assignment).where(Assignment.role == "homeroom")).all()
    assert [a.staff_id for a in homerooms] == [year.teacher_a2.id]


def _bump_behind_the_sessions_back(school_class: SchoolClass) -> None:
    table = SchoolClass.__table__
    _db.session.execute(sa.update(table).where(table.c.id == school_class.id).values(version=table.c.version + 1))


def test_a_version_changed_behind_the_sessions_back_is_a_conflict(year):
    _bump_behind_the_sessions_back(year.class_a)
    with pytest.raises(Conflict):
        _assign(year, role="homeroom", periods=1)
    assert not _rows()


def test_the_versioned_flush_itself_refuses_a_stale_class(year, monkeypatch):
    """Even past the up-front check, the UPDATE ... WHERE version = … guard turns a lost race into a Conflict."""
    from app.school.classes.services import assignments

    monkeypatch.setattr(assignments, "lock_class", lambda *_args, **_kwargs: None)
    _bump_behind_the_sessions_back(year.class_a)
    with pytest.raises(Conflict):
        _assign(year, role="homeroom", periods=1)
    _db.session.rollback()
    assert not _rows()
