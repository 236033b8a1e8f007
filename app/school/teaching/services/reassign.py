"""The timetable and the ledger follow a class's change of teacher (classes' `change_teacher`, and the departure
flow's reassignment): the class's slots of that subject pass to the new teacher, and their untouched lessons from
the effective day on; covers and other adjusted lessons stay as recorded. All inside the caller's transaction: a
clash refuses the whole change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict
from app.extensions import db
from app.general.audit.services import record
from app.school.classes.models import Assignment, AssignmentRole
from app.school.teaching.models import Lesson, Term, TimetableSlot
from app.school.teaching.services.ledger import move_future_lessons


@dataclass(frozen=True)
class Followed:
    slots: int
    lessons: int


def follow_teacher_change(old: Assignment, new: Assignment, effective_on: date, actor: Any) -> Followed:
    """Give `old`'s slots (its class and subject, in terms not over by `effective_on`) and their lessons from
    `effective_on` on to `new`'s teacher.

    :raises Conflict: the new teacher already teaches elsewhere in one of those periods (named in the message).
    """
    if old.role != AssignmentRole.SUBJECT or old.subject_id is None:
        return Followed(0, 0)
    terms = sa.select(Term.id).where(Term.school_id == old.school_class.school_id, Term.ends_on >= effective_on)
    slots = list(db.session.scalars(sa.select(TimetableSlot).where(
        TimetableSlot.term_id.in_(terms), TimetableSlot.class_id == old.class_id,
        TimetableSlot.subject_id == old.subject_id, TimetableSlot.staff_id == old.staff_id)))
    if not slots:
        return Followed(0, 0)
    busy = db.session.execute(sa.select(TimetableSlot).where(
        TimetableSlot.staff_id == new.staff_id,
        sa.tuple_(TimetableSlot.term_id, TimetableSlot.weekday, TimetableSlot.period).in_(
            [(s.term_id, s.weekday, s.period) for s in slots]))).scalars().first()
    if busy is not None:
        raise Conflict(_("%(name)s already teaches %(class_name)s in period %(period)d on weekday %(weekday)d of the "
                         "timetable, when this class has its lesson. Move one of the two lessons in the timetable "
                         "first.", name=new.staff.full_name, class_name=busy.school_class.name, period=busy.period,
                         weekday=busy.weekday))
    for slot in slots:
        slot.staff_id = new.staff_id
        slot.staff = new.staff
    db.session.flush()
    moved = move_future_lessons([s.id for s in slots], new.staff_id, effective_on, actor)
    record("teaching.timetable_followed", subject=new, actor=actor,
           changes={"slots": sorted(s.id for s in slots), "from_staff": old.staff_id, "to_staff": new.staff_id,
                    "effective_on": effective_on.isoformat(), "lessons": moved})
    return Followed(len(slots), moved)


def lessons_of(staff_id: int, from_day: date) -> int:
    """How many untouched timetabled lessons `staff_id` has from `from_day` on (what a reassignment would move)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Lesson).where(
        Lesson.taught_by_id == staff_id, Lesson.day >= from_day, Lesson.slot_id.is_not(None)))


def install() -> None:
    """Register with the classes module (once; called when the teaching pages are registered)."""
    from app.school.classes.services import assignments

    if follow_teacher_change not in assignments.TEACHER_CHANGE_HOOKS:
        assignments.TEACHER_CHANGE_HOOKS.append(follow_teacher_change)
