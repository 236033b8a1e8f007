"""Enrolments: a student in a class over dates, one class per academic year at a time; ended, never rewritten."""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.general.audit.services import record
from app.school.classes.models import Enrollment, SchoolClass, Student
from app.school.classes.services.common import (
    check_reach,
    clean_date,
    day_before,
    guarded_flush,
    lock_class,
    lock_row,
    raise_if,
    touch_class,
    within_year,
)

log = logging.getLogger(__name__)


def _clash(student: Student, school_class: SchoolClass, starts_on: date, exclude_id: int | None) -> Enrollment | None:
    """An enrolment of the student in the same academic year that is still running on or after `starts_on`."""
    stmt = (
        sa.select(Enrollment).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(Enrollment.student_id == student.id, SchoolClass.academic_year == school_class.academic_year,
               sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= starts_on))
        .order_by(Enrollment.starts_on)
    )
    if exclude_id is not None:
        stmt = stmt.where(Enrollment.id != exclude_id)
    return db.session.scalars(stmt.limit(1)).first()


def _check_enrolment(student: Student, school_class: SchoolClass, starts_on: Any,
                     exclude_id: int | None = None) -> date:
    day, problem = clean_date(starts_on, missing=_("Enter the first day in the class."))
    raise_if({"starts_on": problem or within_year(school_class, day)})
    if student.school_id != school_class.school_id:
        raise ValidationFailed(_("%(name)s is a student of %(school)s, not of this class's school.",
                                 name=student.full_name, school=student.school.name), field="student_number")
    if not student.is_active:
        raise ValidationFailed(_("%(name)s has left the school: reactivate the student first.",
                                 name=student.full_name), field="student_number")
    clash = _clash(student, school_class, day, exclude_id)
    if clash is not None:
        raise Conflict(_("%(name)s is already in %(class)s from %(day)s: a student is in one class per year at a "
                         "time. End that enrolment first, or move the student from their page.",
                         name=student.full_name, **{"class": clash.school_class.name},
                         day=clash.starts_on.isoformat()), field="student_number")
    return day


def _snapshot(enrolment: Enrollment) -> dict:
    return {"student_id": enrolment.student_id, "class_id": enrolment.class_id,
            "class": enrolment.school_class.name, "starts_on": enrolment.starts_on, "ends_on": enrolment.ends_on}


def enrol(student: Student, school_class: SchoolClass, starts_on: Any, *, actor: Any,
          expected_version: int | None = None) -> Enrollment:
    """Put a student into a class from `starts_on`.

    :raises ClassesInvalid: a date outside the academic year. :raises ValidationFailed: another school, or the
    student has left. :raises Conflict: already in a class of that year, or the class changed meanwhile.
    """
    check_reach(actor, "classes.manage", school_class)
    lock_class(school_class, expected_version)
    lock_row(Student, student.id)
    day = _check_enrolment(student, school_class, starts_on)
    enrolment = Enrollment(student=student, school_class=school_class, starts_on=day)
    db.session.add(enrolment)
    touch_class(school_class)
    guarded_flush({"student_id": Conflict(_("This student is already in this class from that day."),
                                          field="starts_on")})
    record("classes.student_enrolled", subject=enrolment, unit=school_class.school, actor=actor,
           changes=_snapshot(enrolment))
    return enrolment


def _check_last_day(enrolment: Enrollment, last_day: Any) -> date:
    day, problem = clean_date(last_day, missing=_("Enter the last day in the class."))
    raise_if({"last_day": problem})
    if day < enrolment.starts_on:
        raise ValidationFailed(_("The last day cannot be before the first day (%(day)s).",
                                 day=enrolment.starts_on.isoformat()), field="last_day")
    if enrolment.ends_on is not None and enrolment.ends_on <= day:
        raise ValidationFailed(_("This enrolment already ends on %(day)s.", day=enrolment.ends_on.isoformat()),
                               field="last_day")
    return day


def end_enrolment(enrolment: Enrollment, *, last_day: Any, actor: Any, expected_version: int | None = None) -> None:
    """The student leaves the class after `last_day` (the row is ended, never removed)."""
    school_class = enrolment.school_class
    check_reach(actor, "classes.manage", school_class)
    day = _check_last_day(enrolment, last_day)
    lock_class(school_class, expected_version)
    before = enrolment.ends_on
    enrolment.ends_on = day
    touch_class(school_class)
    guarded_flush()
    record("classes.enrolment_ended", subject=enrolment, unit=school_class.school, actor=actor,
           changes={"student_id": enrolment.student_id, "class": school_class.name, "ends_on": [before, day]})


def move_student(enrolment: Enrollment, new_class: SchoolClass, *, effective_on: Any, actor: Any) -> Enrollment:
    """Move a student to another class of the same year: the old enrolment ends the day before `effective_on`.

    :raises ValidationFailed: same class, another year or school, or a date that does not fall inside the
    current enrolment. :raises Conflict: a clash with another enrolment, or either class changed meanwhile.
    """
    old_class, student = enrolment.school_class, enrolment.student
    check_reach(actor, "classes.manage", old_class)
    check_reach(actor, "classes.manage", new_class)
    day, problem = clean_date(effective_on, missing=_("Enter the first day in the new class."))
    raise_if({"effective_on": problem})
    if new_class.id == old_class.id or new_class.academic_year != old_class.academic_year:
        raise ValidationFailed(_("Choose another class of %(year)s.", year=old_class.academic_year), field="new_class")
    if day <= enrolment.starts_on or (enrolment.ends_on is not None and day > enrolment.ends_on):
        raise ValidationFailed(_("The move must fall after the first day in %(class)s (%(day)s) and while the "
                                 "student is still in it.", **{"class": old_class.name},
                                 day=enrolment.starts_on.isoformat()), field="effective_on")
    for school_class in sorted((old_class, new_class), key=lambda c: c.id):  # one lock order: no deadlock
        lock_class(school_class)
    lock_row(Student, student.id)
    _check_enrolment(student, new_class, day, exclude_id=enrolment.id)
    before = enrolment.ends_on
    enrolment.ends_on = day_before(day)
    moved = Enrollment(student=student, school_class=new_class, starts_on=day, ends_on=before)
    db.session.add(moved)
    touch_class(old_class)
    touch_class(new_class)
    guarded_flush()
    record("classes.student_moved", subject=moved, unit=new_class.school, actor=actor,
           changes={"student_id": student.id, "from_enrolment": enrolment.id, "to_enrolment": moved.id,
                    "from_class": old_class.name, "to_class": new_class.name, "effective_on": day})
    return moved
