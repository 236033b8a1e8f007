"""The cover screen's reading side: who is away on a day, their lessons period by period, and for each lesson the
colleagues free in that period, ranked (qualified for the subject, already teaching the class, fewest covers in
the fairness window, lightest day), with each one's cover tally. No writes: `services.ledger.assign_cover` records
the choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.school.classes.models import Assignment
from app.school.credentials.qualification import qualified_staff
from app.school.staff.models import StaffMember, StaffStatus, staff_subjects
from app.school.teaching.calendar import school_days
from app.school.teaching.models import Absence, Lesson, LessonKind, Term


@dataclass
class Candidate:
    staff: StaffMember
    qualified: bool
    teaches_class: bool
    covers_in_window: int
    lessons_today: int
    reasons: list[str] = field(default_factory=list)

    @property
    def rank_key(self) -> tuple:
        return (not self.qualified, not self.teaches_class, self.covers_in_window, self.lessons_today,
                self.staff.family_name, self.staff.given_name, self.staff.id)


@dataclass
class LessonNeed:
    lesson: Lesson
    candidates: list[Candidate]


@dataclass
class AbsentTeacher:
    absence: Absence
    lessons: list[LessonNeed]


@dataclass
class CoverBoard:
    day: date
    term: Term | None
    window_start: date | None
    absent: list[AbsentTeacher]
    tally: list[tuple[StaffMember, int]]  # covers per teacher in the window, most first


def window_days(term: Term, day: date, size: int | None = None) -> list[date]:
    """The term's last `size` (default: the term's `cover_window_days`) school days before `day`: the fairness
    window."""
    days = [d.day for d in school_days(term.starts_on, term.ends_on, term.closures, last=day) if d.day < day]
    return days[-(size or term.cover_window_days):]


def cover_counts(school_id: int, first: date | None, last: date) -> dict[int, int]:
    """Covers taught per teacher from `first` to the day before `last`."""
    if first is None:
        return {}
    return dict(db.session.execute(
        sa.select(Lesson.taught_by_id, sa.func.count()).where(
            Lesson.school_id == school_id, Lesson.kind == LessonKind.COVER, Lesson.day >= first, Lesson.day < last)
        .group_by(Lesson.taught_by_id)).all())


def cover_board(school_id: int, day: date, *, window: int | None = None, limit: int = 5) -> CoverBoard:
    """Everything the cover screen shows for one school and day (a handful of queries, whatever the size)."""
    term = db.session.scalar(sa.select(Term).where(Term.school_id == school_id, Term.starts_on <= day,
                                                   Term.ends_on >= day))
    absences = list(db.session.scalars(
        sa.select(Absence).join(StaffMember, StaffMember.id == Absence.staff_id)
        .where(Absence.day == day, StaffMember.school_id == school_id)
        .order_by(StaffMember.family_name, StaffMember.given_name)))
    if term is None:
        return CoverBoard(day, None, None, [AbsentTeacher(a, []) for a in absences], [])
    days = window_days(term, day, window)
    first = days[0] if days else None
    counts = cover_counts(school_id, first, day)
    lessons_today = db.session.execute(
        sa.select(Lesson.taught_by_id, Lesson.period).where(Lesson.school_id == school_id, Lesson.day == day,
                                                            Lesson.taught_by_id.is_not(None))).all()
    busy = {(staff_id, period) for staff_id, period in lessons_today}
    load: dict[int, int] = {}
    for staff_id, _period in lessons_today:
        load[staff_id] = load.get(staff_id, 0) + 1
    away = {}
    for absence in db.session.scalars(sa.select(Absence).where(Absence.day == day)):
        away[absence.staff_id] = (absence.first_period, absence.last_period)
    pool = list(db.session.scalars(
        sa.select(StaffMember).where(StaffMember.school_id == school_id, StaffMember.status != StaffStatus.DEPARTED,
                                     sa.or_(StaffMember.id.in_(sa.select(staff_subjects.c.staff_id)),
                                            StaffMember.id.in_(sa.select(Assignment.staff_id))))
        .order_by(StaffMember.family_name, StaffMember.given_name)))
    teaching = {(row.staff_id, row.class_id) for row in db.session.execute(
        sa.select(Assignment.staff_id, Assignment.class_id).where(
            Assignment.starts_on <= day, sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= day),
            Assignment.staff_id.in_([p.id for p in pool] or [0])))}
    subjects_of = {p.id: {s.id for s in p.subjects} for p in pool}

    by_teacher: dict[int, list[Lesson]] = {}
    if absences:  # every absent teacher's lessons of the day in one query
        for lesson in db.session.scalars(
                sa.select(Lesson).where(Lesson.scheduled_staff_id.in_([a.staff_id for a in absences]),
                                        Lesson.day == day, Lesson.slot_id.is_not(None)).order_by(Lesson.period)):
            by_teacher.setdefault(lesson.scheduled_staff_id, []).append(lesson)
    qualified_for: dict[tuple, dict] = {}  # the credential check once per (subject, grade), for the whole pool
    absent = []
    for absence in absences:
        lessons = [lesson for lesson in by_teacher.get(absence.staff_id, ())
                   if absence.first_period <= lesson.period <= absence.last_period]
        needs = []
        for lesson in lessons:
            free = [p for p in pool if p.id != absence.staff_id and (p.id, lesson.period) not in busy
                    and not (p.id in away and away[p.id][0] <= lesson.period <= away[p.id][1])]
            grade = lesson.school_class.grade if lesson.school_class else None
            key = (lesson.subject_id, grade)
            if lesson.subject and key not in qualified_for:
                qualified_for[key] = qualified_staff(pool, lesson.subject, grade, day)
            credentials_ok = qualified_for.get(key, {}) if lesson.subject else {}
            candidates = []
            for person in free:
                holds = credentials_ok.get(person.id)
                qualified = (lesson.subject_id in subjects_of[person.id]) and (holds is None or bool(holds))
                candidates.append(Candidate(person, qualified, (person.id, lesson.class_id) in teaching,
                                            counts.get(person.id, 0), load.get(person.id, 0)))
            candidates.sort(key=lambda c: c.rank_key)
            needs.append(LessonNeed(lesson, candidates[:limit]))
        absent.append(AbsentTeacher(absence, needs))
    names = {p.id: p for p in pool}
    tally = sorted(((names[i], n) for i, n in counts.items() if i in names), key=lambda t: (-t[1], t[0].full_name))
    return CoverBoard(day, term, first, absent, tally)
