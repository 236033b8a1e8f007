"""A class's change of teacher moves its timetable slots and its untouched future lessons; a clash refuses all."""
from datetime import date

import pytest

from app.core.errors import Conflict
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.school.classes import services as classes
from app.school.classes.models import Assignment, SchoolClass
from app.school.teaching.models import Lesson, LessonKind, Term, TimetableSlot
from app.school.teaching.services import ledger
from tests.factories import make_assignment, make_class, make_staff, make_subject, make_user


@pytest.fixture
def timetabled(org):
    school = org.school_a
    maths = make_subject("MATH", "Maths")
    wang = make_staff(school, family_name="Wang", given_name="Fang", subjects=[maths])
    zhao = make_staff(school, family_name="Zhao", given_name="Min", subjects=[maths])
    klass = make_class(school, name="7(2)")
    other = make_class(school, name="7(3)")
    assignment = make_assignment(klass, wang, subject=maths, starts_on=date(2026, 9, 1))
    make_assignment(other, zhao, subject=maths, starts_on=date(2026, 9, 1))
    term = Term(school=school, name="Autumn 2026", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 22))
    db.session.add(term)
    db.session.flush()
    db.session.add_all([TimetableSlot(term=term, weekday=1, period=1, school_class=klass, subject=maths, staff=wang),
                        TimetableSlot(term=term, weekday=3, period=2, school_class=klass, subject=maths, staff=wang),
                        TimetableSlot(term=term, weekday=2, period=1, school_class=other, subject=maths, staff=zhao)])
    db.session.flush()
    ledger.generate_term(term, make_user("admin", unit=org.district), from_day=term.starts_on)
    return term, klass, assignment, wang, zhao


def _taught_by(klass, first, last=date(2027, 1, 22)):
    return {lesson.taught_by_id for lesson in db.session.scalars(db.select(Lesson).where(
        Lesson.class_id == klass.id, Lesson.day >= first, Lesson.day <= last))}


def test_slots_and_future_lessons_follow_the_new_teacher_past_ones_stay(timetabled):
    term, klass, assignment, wang, zhao = timetabled
    covered = db.session.scalar(db.select(Lesson).where(Lesson.class_id == klass.id, Lesson.day >= date(2026, 12, 1))
                                .order_by(Lesson.day))
    ledger.cancel_lesson(covered, "School trip", SYSTEM)

    classes.change_teacher(assignment, zhao, effective_on=date(2026, 11, 16), actor=SYSTEM)

    assert {s.staff_id for s in db.session.scalars(db.select(TimetableSlot).where(
        TimetableSlot.class_id == klass.id))} == {zhao.id}
    assert _taught_by(klass, date(2026, 9, 1), date(2026, 11, 15)) == {wang.id}
    assert _taught_by(klass, date(2026, 11, 16)) - {None} == {zhao.id}
    assert db.session.get(Lesson, covered.id).kind == LessonKind.CANCELLED  # an adjusted lesson stays as recorded
    # regenerating later keeps the past with Wang
    ledger.generate_term(term, SYSTEM, from_day=date(2026, 11, 16))
    assert _taught_by(klass, date(2026, 9, 1), date(2026, 11, 15)) == {wang.id}


def test_a_timetable_clash_refuses_the_whole_change(timetabled, org):
    term, klass, assignment, wang, zhao = timetabled
    other = db.session.scalar(db.select(SchoolClass).where(SchoolClass.name == "7(3)"))
    clash = db.session.scalar(db.select(TimetableSlot).where(TimetableSlot.class_id == other.id))
    clash.weekday = 1  # Zhao now teaches 7(3) on Monday period 1, when 7(2) has Maths
    db.session.flush()
    with pytest.raises(Conflict, match="already teaches 7\\(3\\)"):
        with db.session.begin_nested():
            classes.change_teacher(assignment, zhao, effective_on=date(2026, 11, 16), actor=SYSTEM)
    assert db.session.get(Assignment, assignment.id).ends_on is None
    assert {s.staff_id for s in db.session.scalars(db.select(TimetableSlot).where(
        TimetableSlot.class_id == klass.id))} == {wang.id}
    assert _taught_by(klass, date(2026, 11, 16)) == {wang.id}
