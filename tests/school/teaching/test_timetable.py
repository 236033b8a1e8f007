"""Timetable slots: consistent with the class assignments, no clashes (named), double submits, races, import rules."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, ImportRejected, NotAllowed, ValidationFailed
from app.school.teaching.models import Lesson, TimetableSlot
from app.school.teaching.services import timetable as services
from app.school.teaching.services.timetable import SlotRow
from tests import factories
from tests.school.teaching.conftest import MON, TUE, errors_of, make_slot, make_term


def _save(teaching, admin, *, weekday=MON, period=3, school_class=None, subject=None, staff=None, **extra):
    return services.save_slot(teaching.term, weekday=weekday, period=period,
                              school_class=school_class or teaching.class_2, subject=subject or teaching.math,
                              staff=staff or teaching.wang, actor=admin, **extra)


def _slots(db) -> list[tuple]:
    db.session.expire_all()
    return [(s.weekday, s.period, s.school_class.name, s.subject.code, s.staff.employee_number)
            for s in db.session.scalars(sa.select(TimetableSlot).order_by(TimetableSlot.weekday, TimetableSlot.period,
                                                                          TimetableSlot.class_id))]


def test_an_assigned_teacher_gets_a_slot_audited(db, teaching, admin, audit_events):
    slot = _save(teaching, admin)
    assert _slots(db) == [(MON, 3, "7(2)", "MATH", "A-T001")]
    [event] = audit_events("teaching.slot_created")
    assert event.changes["staff"] == "王芳" and event.changes["staff_id"] == slot.staff_id


def test_the_same_slot_saved_twice_is_one_slot(db, teaching, admin, audit_events):
    first = _save(teaching, admin)
    assert _save(teaching, admin).id == first.id
    assert len(audit_events("teaching.slot_created")) == 1


def test_a_teacher_clash_names_what_is_already_there(db, teaching, admin):
    _save(teaching, admin)
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, school_class=teaching.class_3)
    message = errors_of(raised)["staff_id"]
    assert "王芳 already teaches 7(2) Maths on Monday period 3" in message


def test_a_class_clash_names_what_is_already_there(db, teaching, admin):
    _save(teaching, admin)
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, subject=teaching.chinese, staff=teaching.li)
    assert "7(2) already has Maths with 王芳 on Monday period 3" in errors_of(raised)["class_id"]


def test_a_teacher_without_an_assignment_is_told_to_assign_first(db, teaching, admin):
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, staff=teaching.zhao)
    assert "assign the teacher to the class first" in errors_of(raised)["staff_id"]


def test_the_homeroom_teacher_may_teach_a_subject_they_list(db, teaching, admin):
    slot = _save(teaching, admin, subject=teaching.chinese, staff=teaching.li)
    assert slot.staff_id == teaching.li.id
    with pytest.raises(ValidationFailed):
        _save(teaching, admin, period=4, subject=teaching.math, staff=teaching.li)


def test_an_assignment_that_ended_before_the_term_does_not_count(db, teaching, admin):
    teaching.left.status = "active"
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, staff=teaching.left)
    assert "staff_id" in errors_of(raised)


def test_a_departed_teacher_or_one_of_another_school_is_refused(db, teaching, admin):
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, staff=teaching.left)
    assert "has left" in errors_of(raised)["staff_id"]
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, staff=teaching.teacher_b)
    assert "another school" in errors_of(raised)["staff_id"]


def test_a_class_of_another_year_or_school_is_refused(db, teaching, admin):
    old = factories.make_class(teaching.school, name="7(2)", academic_year="2025-2026")
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, school_class=old)
    assert "2025-2026" in errors_of(raised)["class_id"]
    other = factories.make_class(teaching.school_b, name="7(9)")
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, school_class=other)
    assert "class_id" in errors_of(raised)


@pytest.mark.parametrize(("weekday", "period", "field"), [(0, 1, "weekday"), (8, 1, "weekday"), (1, 0, "period"),
                                                           (1, 13, "period"), (None, 1, "weekday")])
def test_weekday_and_period_are_checked(db, teaching, admin, weekday, period, field):
    with pytest.raises(ValidationFailed) as raised:
        _save(teaching, admin, weekday=weekday, period=period)
    assert field in errors_of(raised)


def test_an_edit_moves_the_slot_and_audits_what_changed(db, teaching, admin, audit_events):
    slot = _save(teaching, admin)
    _save(teaching, admin, weekday=TUE, period=1, slot=slot, expected_version=slot.version)
    assert _slots(db) == [(TUE, 1, "7(2)", "MATH", "A-T001")]
    [event] = audit_events("teaching.slot_updated")
    assert event.changes["weekday"] == [MON, TUE]


def test_an_edit_from_a_stale_form_is_refused(db, teaching, admin):
    slot = _save(teaching, admin)
    with pytest.raises(Conflict):
        _save(teaching, admin, period=4, slot=slot, expected_version=slot.version + 1)


def test_a_race_past_the_checks_ends_as_a_conflict(db, teaching, admin, monkeypatch):
    _save(teaching, admin)
    monkeypatch.setattr(services, "_stored_at", lambda *_args: [])  # as if the other writer committed after the check
    with pytest.raises(Conflict) as raised:
        _save(teaching, admin, school_class=teaching.class_3)
    assert raised.value.field == "staff_id"


def test_a_slot_without_lessons_is_deleted_and_audited(db, teaching, admin, audit_events):
    slot = _save(teaching, admin)
    services.delete_slot(slot, actor=admin)
    assert _slots(db) == []
    assert len(audit_events("teaching.slot_deleted")) == 1


def _lesson(db, slot, day: date, **values) -> Lesson:
    values = {"taught_by_id": slot.staff_id, **values}
    lesson = Lesson(school_id=slot.term.school_id, term_id=slot.term_id, slot_id=slot.id, day=day, period=slot.period,
                    class_id=slot.class_id, subject_id=slot.subject_id, scheduled_staff_id=slot.staff_id, **values)
    db.session.add(lesson)
    db.session.flush()
    return lesson


def test_deleting_a_slot_removes_its_coming_lessons_and_keeps_those_taught(db, teaching, admin, audit_events):
    slot = _save(teaching, admin)
    taught = _lesson(db, slot, date(2026, 9, 7))
    _lesson(db, slot, date(2026, 9, 14))
    _lesson(db, slot, date(2026, 9, 21))
    assert services.delete_slot(slot, actor=admin, today=date(2026, 9, 10)) == 2
    db.session.expire_all()
    lessons = db.session.scalars(sa.select(Lesson)).all()
    assert [(lesson.id, lesson.slot_id) for lesson in lessons] == [(taught.id, None)]
    [event] = audit_events("teaching.slot_deleted")
    assert event.changes["lessons_removed"] == 2


def test_a_slot_with_an_adjusted_coming_lesson_cannot_be_deleted(db, teaching, admin):
    slot = _save(teaching, admin)
    _lesson(db, slot, date(2026, 9, 14), kind="cancelled", taught_by_id=None, reason="Sports day")
    with pytest.raises(NotAllowed) as raised:
        services.delete_slot(slot, actor=admin, today=date(2026, 9, 10))
    assert "2026-09-14" in raised.value.message


def test_an_admin_of_another_school_cannot_change_the_timetable(db, teaching, admin, admin_b):
    slot = _save(teaching, admin)
    with pytest.raises(NotAllowed):
        _save(teaching, admin_b, period=5)
    with pytest.raises(NotAllowed):
        services.delete_slot(slot, actor=admin_b)


# --- many rows (the import's service) ------------------------------------------------------------------------


def _row(teaching, n, weekday, period, school_class=None, subject=None, staff=None) -> SlotRow:
    return SlotRow(n, weekday, period, school_class or teaching.class_2, subject or teaching.math,
                   staff or teaching.wang)


def test_validate_rows_reports_each_problem_at_its_import_column(db, teaching):
    make_slot(teaching.term, MON, 1, teaching.class_3, teaching.math, teaching.wang)
    rows = [_row(teaching, 2, MON, 1), _row(teaching, 3, MON, 2), _row(teaching, 4, MON, 2, teaching.class_3),
            _row(teaching, 5, MON, 3, staff=teaching.zhao), _row(teaching, 6, MON, 2)]
    clean, errors = services.validate_rows(teaching.term, rows)
    # the file lists 7(3), so it is 7(3)'s whole timetable: the stored Monday-1 slot goes and frees Wang for row 2
    assert [item.row for item in clean] == [2, 3]
    by_row = {row: (column, message) for row, column, message in errors}
    assert 2 not in by_row
    assert by_row[4] == ("employee_number", "王芳 already teaches at this time on row 3.")
    assert by_row[5][0] == "employee_number"
    assert by_row[6][0] == "class"


def test_a_stored_slot_of_a_class_not_in_the_file_still_clashes(db, teaching):
    make_slot(teaching.term, MON, 1, teaching.class_3, teaching.math, teaching.wang)
    clean, errors = services.validate_rows(teaching.term, [_row(teaching, 2, MON, 1)])
    assert clean == [] and errors[0][1] == "employee_number" and "7(3)" in errors[0][2]


def test_a_corrected_file_moves_a_lesson_instead_of_doubling_it(db, teaching, admin):
    make_slot(teaching.term, MON, 1, teaching.class_2, teaching.math, teaching.wang)
    counts = services.replace_timetable(teaching.term, [_row(teaching, 2, MON, 2)], actor=admin)
    assert counts == {"created": 1, "updated": 0, "removed": 1, "unchanged": 0}
    assert _slots(db) == [(MON, 2, "7(2)", "MATH", "A-T001")]


def test_replace_timetable_upserts_by_place_and_is_idempotent(db, teaching, admin, audit_events):
    make_slot(teaching.term, MON, 1, teaching.class_2, teaching.math, teaching.wang)
    rows = [_row(teaching, 2, MON, 1, subject=teaching.chinese, staff=teaching.li), _row(teaching, 3, MON, 2)]
    assert services.replace_timetable(teaching.term, rows, actor=admin) == {"created": 1, "updated": 1,
                                                                            "removed": 0, "unchanged": 0}
    assert _slots(db) == [(MON, 1, "7(2)", "CHN", "A-T002"), (MON, 2, "7(2)", "MATH", "A-T001")]
    assert services.replace_timetable(teaching.term, rows, actor=admin) == {"created": 0, "updated": 0,
                                                                            "removed": 0, "unchanged": 2}
    assert len(_slots(db)) == 2
    assert len(audit_events("teaching.timetable_imported")) == 1


def test_replace_timetable_swaps_two_teachers_at_the_same_time(db, teaching, admin):
    zhao_assigned = factories.make_assignment(teaching.class_3, teaching.zhao, subject=teaching.math,
                                              starts_on=date(2026, 9, 1))
    factories.make_assignment(teaching.class_2, teaching.zhao, subject=teaching.math, starts_on=date(2026, 9, 1))
    assert zhao_assigned is not None
    make_slot(teaching.term, MON, 1, teaching.class_2, teaching.math, teaching.wang)
    make_slot(teaching.term, MON, 1, teaching.class_3, teaching.math, teaching.zhao)
    rows = [_row(teaching, 2, MON, 1, teaching.class_2, staff=teaching.zhao),
            _row(teaching, 3, MON, 1, teaching.class_3, staff=teaching.wang)]
    assert services.replace_timetable(teaching.term, rows, actor=admin)["updated"] == 2
    assert _slots(db) == [(MON, 1, "7(2)", "MATH", "A-T003"), (MON, 1, "7(3)", "MATH", "A-T001")]


def test_replace_timetable_writes_nothing_when_a_row_is_bad(db, teaching, admin):
    rows = [_row(teaching, 2, MON, 1), _row(teaching, 3, MON, 2, staff=teaching.zhao)]
    with pytest.raises(ImportRejected) as raised:
        services.replace_timetable(teaching.term, rows, actor=admin)
    assert [row for row, _column, _message in raised.value.rows] == [3]
    assert _slots(db) == []


def test_slots_of_another_term_do_not_clash(db, teaching, admin):
    spring = make_term(teaching.school, name="Spring", starts_on=date(2027, 2, 22), ends_on=date(2027, 7, 9))
    make_slot(spring, MON, 3, teaching.class_3, teaching.math, teaching.wang)
    assert _save(teaching, admin).term_id == teaching.term.id


# --- races on PostgreSQL (two real connections in two threads) ----------------------------------------------


@pytest.fixture
def committed(app):
    """School, term, two classes, a teacher assigned to both and two admins, committed for real so that other
    connections see them; removed afterwards (audit events stay: the log is append-only)."""
    from app.extensions import db as _db

    with app.app_context():
        district = factories.make_unit("district", "Race District")
        school = factories.make_unit("school", "Race School", district)
        admins = [factories.make_user("admin", unit=school, password=None) for _n in range(2)]
        subject = factories.make_subject()
        teacher = factories.make_staff(school, subjects=[subject])
        classes = [factories.make_class(school, name=f"R{n}") for n in range(2)]
        for school_class in classes:
            factories.make_assignment(school_class, teacher, subject=subject, starts_on=date(2026, 9, 1))
        term = make_term(school)
        ids = {"units": [school.id, district.id], "admins": [a.id for a in admins], "subject": subject.id,
               "teacher": teacher.id, "classes": [c.id for c in classes], "term": term.id}
        _db.session.commit()
        try:
            yield ids
        finally:
            _db.session.rollback()
            _remove_committed(_db, ids)
            _db.session.remove()


def _remove_committed(_db, ids: dict) -> None:
    from app.general.auth.models import User
    from app.general.org.models import OrgUnit
    from app.school.classes.models import Assignment, SchoolClass, Subject
    from app.school.staff.models import StaffMember
    from app.school.teaching.models import Term

    _db.session.execute(sa.delete(TimetableSlot).where(TimetableSlot.term_id == ids["term"]))
    _db.session.execute(sa.delete(Term).where(Term.school_id == ids["units"][0]))
    _db.session.execute(sa.delete(Assignment).where(Assignment.staff_id == ids["teacher"]))
    _db.session.execute(sa.delete(SchoolClass).where(SchoolClass.id.in_(ids["classes"])))
    _db.session.execute(sa.delete(StaffMember).where(StaffMember.id == ids["teacher"]))
    _db.session.execute(sa.delete(Subject).where(Subject.id == ids["subject"]))
    _db.session.execute(sa.delete(User).where(User.id.in_(ids["admins"])))
    for unit_id in ids["units"]:
        _db.session.execute(sa.delete(OrgUnit).where(OrgUnit.id == unit_id))
    _db.session.commit()


def _race(app, actions) -> list:
    """Each action loads in its own thread and session, all wait, then each writes and commits; returns what
    each returned, or the exception's class name."""
    import threading

    from app.extensions import db as _db

    loaded = threading.Barrier(len(actions))
    outcomes: list = [None] * len(actions)

    def run(n: int, action) -> None:
        with app.app_context():
            try:
                prepared = action()
                loaded.wait(timeout=10)
                outcomes[n] = prepared()
                _db.session.commit()
            except Exception as error:  # reported to the main thread
                _db.session.rollback()
                outcomes[n] = type(error).__name__
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(n, action)) for n, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.postgres
def test_two_admins_giving_one_teacher_two_classes_at_once_make_one_slot(app, committed):
    from app.extensions import db as _db
    from app.general.auth.models import User
    from app.school.classes.models import SchoolClass, Subject
    from app.school.staff.models import StaffMember
    from app.school.teaching.models import Term

    def add(n: int):
        def prepare():
            term, actor = _db.session.get(Term, committed["term"]), _db.session.get(User, committed["admins"][n])
            school_class = _db.session.get(SchoolClass, committed["classes"][n])
            subject, staff = _db.session.get(Subject, committed["subject"]), _db.session.get(StaffMember,
                                                                                          committed["teacher"])
            return lambda: services.save_slot(term, weekday=MON, period=1, school_class=school_class, subject=subject,
                                              staff=staff, actor=actor).id and "saved"
        return prepare

    outcomes = _race(app, [add(0), add(1)])
    assert sorted(outcomes) in (["ClassesInvalid", "saved"], ["Conflict", "saved"]), outcomes
    with app.app_context():
        count = _db.session.scalar(sa.select(sa.func.count()).select_from(TimetableSlot)
                                   .where(TimetableSlot.term_id == committed["term"]))
        _db.session.remove()
    assert count == 1


@pytest.mark.postgres
def test_two_admins_adding_overlapping_terms_at_once_make_one_term(app, committed):
    from app.extensions import db as _db
    from app.general.auth.models import User
    from app.general.org.models import OrgUnit
    from app.school.teaching.models import Term
    from app.school.teaching.services import calendar

    def add(n: int):
        def prepare():
            school, actor = _db.session.get(OrgUnit, committed["units"][0]), _db.session.get(User,
                                                                                           committed["admins"][n])
            return lambda: calendar.save_term(school, name=f"Spring {n}", starts_on=date(2027, 2, 22 + n),
                                              ends_on=date(2027, 7, 9), cover_window_days=10, actor=actor).name
        return prepare

    outcomes = _race(app, [add(0), add(1)])
    assert sorted(outcomes, key=str) in (["Spring 0", "ValidationFailed"], ["Spring 1", "ValidationFailed"]), outcomes
    with app.app_context():
        names = _db.session.scalars(sa.select(Term.name).where(Term.school_id == committed["units"][0])).all()
        _db.session.remove()
    assert len(names) == 2  # the autumn term and one spring term
