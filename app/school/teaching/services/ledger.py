"""The lesson ledger: generated from timetable × term calendar, then adjusted (cover, cancellation, added
lessons), each change audited.

Generation is set-based and idempotent: UNIQUE(slot, day) means a second run adds nothing; lessons of a
closed day or a removed slot go, unless someone adjusted them or their month's pay is locked; a slot whose
teacher changed moves its untouched lessons from `from_day` on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition, NotAllowed
from app.core.imports.bulk import among, insert_many
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.school.classes.models import SchoolClass, Subject
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today
from app.school.teaching.calendar import first_of_month, month_bounds, school_days
from app.school.teaching.models import (
    ADDED_KINDS,
    Absence,
    Lesson,
    LessonKind,
    PayRun,
    PayRunStatus,
    Term,
    TimetableSlot,
)
from app.school.teaching.services.common import (
    actor_id,
    check_reach,
    clean_decimal,
    clean_int,
    clean_optional_text,
    clean_text,
    guarded_flush,
    lock,
    raise_if,
)

REASON_MAX = 300


@dataclass(frozen=True)
class GenerationResult:
    added: int
    removed: int
    moved: int
    kept: int  # lessons already there and left as they were
    skipped_locked_months: tuple[str, ...] = ()
    blocked: int = 0  # lessons not added or not moved because the teacher or the class was taken then


def _locked_months(school_id: int) -> set[date]:
    return set(db.session.scalars(sa.select(PayRun.month).where(
        PayRun.school_id == school_id, PayRun.status == PayRunStatus.LOCKED)))


def psycopg_unique_violation() -> type[Exception]:
    """The driver's own unique-violation error: a COPY (bulk insert on PostgreSQL) raises it unwrapped."""
    try:
        from psycopg.errors import UniqueViolation
    except ImportError:  # pragma: no cover  (psycopg is a dependency; SQLite-only installs still work)
        return sa.exc.IntegrityError
    return UniqueViolation


def term_of(school_id: int, day: date) -> Term | None:
    """The school's term that `day` falls in."""
    return db.session.scalar(sa.select(Term).where(Term.school_id == school_id, Term.starts_on <= day,
                                                   Term.ends_on >= day))


def generate_term(term: Term, actor: Any, *, from_day: date | None = None) -> GenerationResult:
    """Bring the term's ledger in line with its timetable and calendar (the caller commits).

    The first generation fills the whole term (a term generated late is complete). Later ones change the ledger
    from `from_day` on (default: today), so that the past stays as it was taught: missing lessons are added,
    untouched regular lessons that no longer belong go (a slot gone or moved to another day), and untouched
    lessons follow their slot's current period, class, subject and teacher. Whatever the day, untouched lessons
    on a day that is no longer a school day go (a closure added afterwards). Adjusted lessons (covers,
    cancellations) and months whose pay is locked are never touched; a lesson that would double-book a teacher
    or a class stays as it was and is counted in `blocked`.
    """
    check_reach(actor, "teaching.manage", term)
    lock(Term, term)
    locked = _locked_months(term.school_id)
    start = term.starts_on if term.generated_at is None else max(from_day or local_today(), term.starts_on)
    calendar_days = school_days(term.starts_on, term.ends_on, term.closures)
    school_day_set = {d.day for d in calendar_days}
    days = [d for d in calendar_days if d.day >= start and first_of_month(d.day) not in locked]
    slots = db.session.execute(sa.select(TimetableSlot.id, TimetableSlot.weekday, TimetableSlot.period,
                                         TimetableSlot.class_id, TimetableSlot.subject_id, TimetableSlot.staff_id)
                               .where(TimetableSlot.term_id == term.id)).all()
    by_weekday: dict[int, list] = {}
    for slot in slots:
        by_weekday.setdefault(slot.weekday, []).append(slot)
    employed = _employment({slot.staff_id for slot in slots})
    candidates = [(slot, d.day) for d in days for slot in by_weekday.get(d.weekday, ())]
    planned = {(slot.id, day): slot for slot, day in candidates if _employed_on(employed, slot.staff_id, day)}
    not_employed = len(candidates) - len(planned)  # a slot's teacher not yet (or no longer) at the school that day

    existing = db.session.execute(
        sa.select(Lesson.id, Lesson.slot_id, Lesson.day, Lesson.period, Lesson.class_id, Lesson.subject_id,
                  Lesson.kind, Lesson.adjusted_at, Lesson.taught_by_id)
        .where(Lesson.term_id == term.id, Lesson.slot_id.is_not(None))).all()
    have = {(row.slot_id, row.day) for row in existing}
    untouched = [row for row in existing if row.kind == LessonKind.REGULAR and row.adjusted_at is None
                 and first_of_month(row.day) not in locked]
    remove_ids = [row.id for row in untouched
                  if row.day not in school_day_set or (row.day >= start and (row.slot_id, row.day) not in planned)]
    removed = set(remove_ids)
    changes = [(row, planned[(row.slot_id, row.day)]) for row in untouched
               if row.id not in removed and (row.slot_id, row.day) in planned
               and (row.period, row.class_id, row.subject_id, row.taught_by_id)
               != (planned[(row.slot_id, row.day)].period, planned[(row.slot_id, row.day)].class_id,
                   planned[(row.slot_id, row.day)].subject_id, planned[(row.slot_id, row.day)].staff_id)]
    stamp = utcnow()
    rows = [{"school_id": term.school_id, "term_id": term.id, "slot_id": slot.id, "day": day,
             "period": slot.period, "class_id": slot.class_id, "subject_id": slot.subject_id,
             "scheduled_staff_id": slot.staff_id, "taught_by_id": slot.staff_id, "kind": LessonKind.REGULAR.value,
             "periods": Decimal("1"), "created_at": stamp, "version": 1}
            for (slot_id, day), slot in planned.items() if (slot_id, day) not in have]
    try:
        with db.session.begin_nested():
            if remove_ids:
                for condition in among(Lesson.id, remove_ids):
                    db.session.execute(sa.delete(Lesson).where(condition))
            moved, blocked = _follow_slots(term.school_id, changes)
            added = _insert_free(rows)
    except (sa.exc.IntegrityError, psycopg_unique_violation()):
        raise Conflict(_("Lessons of this school were changed while the term was being generated (a cover or an "
                         "added lesson). Nothing was generated: press the button again.")) from None
    blocked += len(rows) - added + not_employed
    term.generated_at = stamp
    skipped = tuple(sorted(m.strftime("%Y-%m") for m in locked if term.starts_on.replace(day=1) <= m <= term.ends_on))
    result = GenerationResult(added=added, removed=len(remove_ids), moved=moved,
                              kept=len(have) - len(remove_ids), skipped_locked_months=skipped, blocked=blocked)
    record("teaching.lessons_generated", subject=term, actor=actor,
           changes={"from": start.isoformat(), "added": result.added, "removed": result.removed,
                    "moved": result.moved, "blocked": result.blocked, "kept": result.kept,
                    "locked_months": list(result.skipped_locked_months)})
    db.session.flush()
    return result


def _employment(staff_ids: set[int]) -> dict[int, tuple[date, date | None]]:
    """Each teacher's first and last day at the school (None: still there)."""
    if not staff_ids:
        return {}
    return {row.id: (row.hired_on, row.departed_on) for row in db.session.execute(
        sa.select(StaffMember.id, StaffMember.hired_on, StaffMember.departed_on)
        .where(StaffMember.id.in_(staff_ids)))}


def _employed_on(employed: dict[int, tuple[date, date | None]], staff_id: int, day: date) -> bool:
    hired, departed = employed.get(staff_id, (day, None))
    return hired <= day and (departed is None or day <= departed)


def _busy(school_id: int, first: date, last: date) -> tuple[set, set]:
    """(teacher, day, period) and (class, day, period) already taken in the ledger between two days."""
    teachers = set(db.session.execute(
        sa.select(Lesson.taught_by_id, Lesson.day, Lesson.period).where(
            Lesson.school_id == school_id, Lesson.taught_by_id.is_not(None), Lesson.day >= first,
            Lesson.day <= last)).all())
    classes = set(db.session.execute(
        sa.select(Lesson.class_id, Lesson.day, Lesson.period).where(
            Lesson.school_id == school_id, Lesson.class_id.is_not(None), Lesson.kind != LessonKind.CANCELLED,
            Lesson.day >= first, Lesson.day <= last)).all())
    return teachers, classes


def _follow_slots(school_id: int, changes: list[tuple]) -> tuple[int, int]:
    """Give untouched lessons their slot's current period, class, subject and teacher, unless that would
    double-book a teacher or a class (then the lesson stays as it is). Returns (moved, blocked)."""
    if not changes:
        return 0, 0
    teachers, classes = _busy(school_id, min(r.day for r, _s in changes), max(r.day for r, _s in changes))
    moved = blocked = 0
    for row, slot in changes:
        teachers.discard((row.taught_by_id, row.day, row.period))
        classes.discard((row.class_id, row.day, row.period))
        if (slot.staff_id, row.day, slot.period) in teachers or (slot.class_id, row.day, slot.period) in classes:
            teachers.add((row.taught_by_id, row.day, row.period))
            classes.add((row.class_id, row.day, row.period))
            blocked += 1
            continue
        db.session.execute(sa.update(Lesson).where(Lesson.id == row.id).values(
            period=slot.period, class_id=slot.class_id, subject_id=slot.subject_id, taught_by_id=slot.staff_id,
            scheduled_staff_id=slot.staff_id, version=Lesson.version + 1))
        teachers.add((slot.staff_id, row.day, slot.period))
        classes.add((slot.class_id, row.day, slot.period))
        moved += 1
    return moved, blocked


def _insert_free(rows: list[dict]) -> int:
    """Insert generated lessons, leaving out any whose teacher or class already has a lesson in that period
    (an extra lesson or a cover recorded before the slot existed): the ledger never double-books. Returns how
    many were inserted."""
    if not rows:
        return 0
    teachers, classes = _busy(rows[0]["school_id"], min(r["day"] for r in rows), max(r["day"] for r in rows))
    free = []
    for r in rows:
        teacher, klass = (r["taught_by_id"], r["day"], r["period"]), (r["class_id"], r["day"], r["period"])
        if teacher in teachers or klass in classes:
            continue
        teachers.add(teacher)
        classes.add(klass)
        free.append(r)
    insert_many(Lesson.__table__, free)
    return len(free)


def move_future_lessons(slot_ids: list[int], new_staff_id: int, from_day: date, actor: Any) -> int:
    """Give the untouched lessons of these slots from `from_day` on to another teacher (a reassignment); covers
    and other adjusted lessons stay as recorded. Returns how many moved.

    Lessons of a month whose pay is locked are left as they were paid.

    :raises Conflict: the new teacher already has a lesson (a cover, an added lesson) at one of those times.
    """
    if not slot_ids:
        return 0
    moved = 0
    school_id = db.session.scalar(sa.select(Term.school_id).join(TimetableSlot, TimetableSlot.term_id == Term.id)
                                  .where(TimetableSlot.id == slot_ids[0]))
    paid = [sa.not_(Lesson.day.between(*month_bounds(month))) for month in _locked_months(school_id)
            if month_bounds(month)[1] >= from_day]  # a locked month's lessons stay as they were paid
    try:
        with db.session.begin_nested():
            for condition in among(Lesson.slot_id, slot_ids):
                moved += db.session.execute(
                    sa.update(Lesson).where(condition, Lesson.day >= from_day, Lesson.kind == LessonKind.REGULAR,
                                            Lesson.adjusted_at.is_(None), *paid)
                    .values(taught_by_id=new_staff_id, scheduled_staff_id=new_staff_id, version=Lesson.version + 1)
                    .execution_options(synchronize_session=False)).rowcount
    except sa.exc.IntegrityError:
        staff = db.session.get(StaffMember, new_staff_id)
        raise Conflict(_("%(name)s already has a lesson (a cover or an added lesson) at the time of one of these "
                         "lessons from %(day)s on. Resolve that lesson first.",
                         name=staff.full_name if staff else new_staff_id, day=from_day.isoformat())) from None
    record("teaching.lessons_moved", subject_type="staff", subject_id=new_staff_id, actor=actor,
           changes={"slots": sorted(slot_ids), "from": from_day.isoformat(), "lessons": moved})
    return moved


# --- adjustments ------------------------------------------------------------------------------------------
# A lesson of a month whose pay is locked may still be corrected (the ledger says what happened), but the locked
# run keeps its figures: paying the difference takes a correction of that month's run. `locked_notice` is what the
# pages tell the admin after such a change.


def locked_notice(lesson: Lesson) -> str | None:
    """The warning for a change to a lesson whose month's pay is locked, or None."""
    from app.school.teaching.services.common import locked_month

    if not locked_month(lesson.school_id, lesson.day):
        return None
    return _("The pay for %(month)s is already locked and does not include this change. To pay the difference, "
             "start a correction of that month's pay run.", month=lesson.day.strftime("%Y-%m"))


def _clean_reason(reason: Any) -> str:
    text, problem = clean_text(reason, missing=_("Give the reason for the change."), maximum=REASON_MAX)
    raise_if({"reason": problem})
    return text


def _teacher_problem(staff: StaffMember | None, lesson_school_id: int, day: date) -> str | None:
    if staff is None:
        return _("Choose the teacher.")
    if staff.school_id != lesson_school_id:
        return _("%(name)s does not work at this school.", name=staff.full_name)
    if staff.status == StaffStatus.DEPARTED or (staff.departed_on is not None and staff.departed_on < day):
        return _("%(name)s has left the school.", name=staff.full_name)
    if staff.hired_on is not None and staff.hired_on > day:
        return _("%(name)s starts at the school on %(day)s.", name=staff.full_name, day=staff.hired_on.isoformat())
    return None


def _busy_problem(staff: StaffMember, day: date, period: int, except_id: int | None = None) -> str | None:
    """Why `staff` cannot take a lesson in this period (another lesson, or away), or None."""
    clash = db.session.scalar(sa.select(Lesson).where(
        Lesson.taught_by_id == staff.id, Lesson.day == day, Lesson.period == period,
        Lesson.id != (except_id or 0)))
    if clash is not None:
        where = clash.school_class.name if clash.school_class else str(kind_labels().get(clash.kind, clash.kind))
        return _("%(name)s already has a lesson in period %(period)d that day (%(where)s).",
                 name=staff.full_name, period=period, where=where)
    if away(staff.id, day, period):
        return _("%(name)s is recorded as absent in period %(period)d that day.", name=staff.full_name, period=period)
    return None


def away(staff_id: int, day: date, period: int) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Absence).where(
        Absence.staff_id == staff_id, Absence.day == day, Absence.first_period <= period,
        Absence.last_period >= period)) > 0


def _touch(lesson: Lesson, actor: Any, reason: str | None) -> None:
    lesson.reason = reason
    lesson.adjusted_by_id = actor_id(actor)
    lesson.adjusted_at = utcnow()


def _unique_conflicts() -> dict[str, Conflict]:
    busy = Conflict(_("That teacher or class was given another lesson in this period at the same time. Nothing "
                      "was saved: reload the page and choose again."))
    return {"uq_lessons_teacher_time": busy, "uq_lessons_class_time": busy, "lessons.taught_by_id": busy,
            "lessons.class_id": busy}


def assign_cover(lesson: Lesson, covering: StaffMember, reason: Any, actor: Any,
                 expected_version: int | None = None) -> Lesson:
    """The lesson is taught by `covering` instead of the scheduled teacher (the ledger credits `covering`), who
    is told through the outbox. Pressing twice changes nothing."""
    check_reach(actor, "teaching.manage", lesson)
    if lesson.kind == LessonKind.COVER and lesson.taught_by_id == covering.id:
        return lesson
    lock(Lesson, lesson, expected_version)
    if lesson.kind not in (LessonKind.REGULAR, LessonKind.COVER, LessonKind.CANCELLED) or lesson.slot_id is None:
        raise InvalidTransition(_("Only a timetabled lesson can be covered."))
    text = _clean_reason(reason)
    problem = _teacher_problem(covering, lesson.school_id, lesson.day)
    if problem is None and covering.id == lesson.scheduled_staff_id:
        problem = _("Choose a colleague: %(name)s is the scheduled teacher.", name=covering.full_name)
    problem = problem or _busy_problem(covering, lesson.day, lesson.period, except_id=lesson.id)
    raise_if({"staff_id": problem})
    before = {"kind": lesson.kind, "taught_by": lesson.taught_by_id}
    lesson.kind = LessonKind.COVER
    lesson.taught_by_id = covering.id
    lesson.taught_by = covering
    _touch(lesson, actor, text)
    guarded_flush(_unique_conflicts())
    record("teaching.lesson_covered", subject=lesson, actor=actor,
           changes={"before": before, "taught_by": covering.id, "reason": text, "day": lesson.day.isoformat(),
                    "period": lesson.period})
    _tell_cover(lesson, covering)
    return lesson


def _tell_cover(lesson: Lesson, covering: StaffMember) -> None:
    from app.general.contracts.services.common import link
    from app.general.notifications.services import notify_user

    if covering.user is None or not covering.user.is_active:
        return
    notify_user(covering.user, template="teaching/messages/cover_assigned",
                key=f"lesson:{lesson.id}:cover:{covering.id}:v{lesson.version}",
                context={"day": lesson.day, "period": lesson.period,
                         "class_name": lesson.school_class.name if lesson.school_class else "",
                         "subject": lesson.subject.name if lesson.subject else "",
                         "absent_name": lesson.scheduled_staff.full_name if lesson.scheduled_staff else "",
                         "link": link("teaching.my_hours")})


def cancel_lesson(lesson: Lesson, reason: Any, actor: Any, expected_version: int | None = None) -> Lesson:
    """The lesson did not take place: it counts for nobody. Pressing twice changes nothing."""
    check_reach(actor, "teaching.manage", lesson)
    if lesson.kind == LessonKind.CANCELLED:
        return lesson
    lock(Lesson, lesson, expected_version)
    text = _clean_reason(reason)
    before = {"kind": lesson.kind, "taught_by": lesson.taught_by_id}
    lesson.kind = LessonKind.CANCELLED
    lesson.taught_by_id = None
    lesson.taught_by = None
    _touch(lesson, actor, text)
    guarded_flush(_unique_conflicts())
    record("teaching.lesson_cancelled", subject=lesson, actor=actor,
           changes={"before": before, "reason": text, "day": lesson.day.isoformat(), "period": lesson.period})
    return lesson


def restore_lesson(lesson: Lesson, actor: Any, expected_version: int | None = None) -> Lesson:
    """Undo a cover or a cancellation: the scheduled teacher teaches it again (if free)."""
    check_reach(actor, "teaching.manage", lesson)
    if lesson.kind == LessonKind.REGULAR:
        return lesson
    if lesson.slot_id is None:
        raise InvalidTransition(_("An added lesson cannot be restored; remove it instead."))
    lock(Lesson, lesson, expected_version)
    scheduled = lesson.scheduled_staff
    problem = _busy_problem(scheduled, lesson.day, lesson.period, except_id=lesson.id) if scheduled else None
    if problem:
        raise Conflict(problem)
    before = {"kind": lesson.kind, "taught_by": lesson.taught_by_id, "reason": lesson.reason}
    lesson.kind = LessonKind.REGULAR
    lesson.taught_by_id = lesson.scheduled_staff_id
    lesson.taught_by = scheduled
    _touch(lesson, actor, None)
    guarded_flush(_unique_conflicts())
    record("teaching.lesson_restored", subject=lesson, actor=actor, changes={"before": before})
    return lesson


def add_lesson(*, school_id: int, kind: str, day: Any, period: Any, staff: StaffMember | None,
               school_class: SchoolClass | None, subject: Subject | None, periods: Any, reason: Any,
               actor: Any) -> Lesson:
    """Record an extra lesson, an open class, an invigilation or homeroom duties. A second identical
    submission returns the first."""
    from app.school.teaching.services.common import clean_date

    if kind not in {k.value for k in ADDED_KINDS}:
        raise_if({"kind": _("Choose what kind of lesson this is.")})
    day, day_problem = clean_date(day, missing=_("Enter the date."))
    period, period_problem = clean_int(period, low=1, high=12, message=_("Enter a period from 1 to 12."))
    count, count_problem = clean_decimal(periods, low=Decimal("0"), high=Decimal("12"), places=1,
                                         low_inclusive=False, message=_("Enter the periods it counts for, such as 1 "
                                                                        "or 1.5."))
    text, reason_problem = clean_optional_text(reason, REASON_MAX)
    term = term_of(school_id, day) if day else None
    errors = {"day": day_problem or (None if term else _("No term of this school includes that date.")),
              "period": period_problem, "periods": count_problem, "reason": reason_problem,
              "staff_id": _teacher_problem(staff, school_id, day) if day else None}
    if kind in (LessonKind.EXTRA, LessonKind.OPEN_CLASS) and school_class is None:
        errors["class_id"] = _("Choose the class.")
    if school_class is not None and school_class.school_id != school_id:
        errors["class_id"] = _("That class belongs to another school.")
    raise_if(errors)
    lesson = Lesson(school_id=school_id, term_id=term.id, day=day, period=period, kind=kind,
                    class_id=school_class.id if school_class else None, subject_id=subject.id if subject else None,
                    scheduled_staff_id=staff.id, taught_by_id=staff.id, periods=count, reason=text,
                    adjusted_by_id=actor_id(actor), adjusted_at=utcnow())
    lesson.school = term.school
    check_reach(actor, "teaching.manage", lesson)
    same = db.session.scalar(sa.select(Lesson).where(
        Lesson.taught_by_id == staff.id, Lesson.day == day, Lesson.period == period, Lesson.kind == kind,
        Lesson.class_id.is_(None) if school_class is None else Lesson.class_id == school_class.id))
    if same is not None:
        return same  # the same thing submitted twice
    raise_if({"period": _busy_problem(staff, day, period)})
    if school_class is not None:
        taken = db.session.scalar(sa.select(Lesson).where(Lesson.class_id == school_class.id, Lesson.day == day,
                                                          Lesson.period == period,
                                                          Lesson.kind != LessonKind.CANCELLED))
        if taken is not None:
            raise_if({"period": _("%(class_name)s already has a lesson in period %(period)d that day.",
                                  class_name=school_class.name, period=period)})
    db.session.add(lesson)
    guarded_flush(_unique_conflicts())
    record("teaching.lesson_added", subject=lesson, actor=actor,
           changes={"kind": kind, "staff": staff.id, "day": day.isoformat(), "period": period,
                    "class": lesson.class_id, "periods": str(count), "reason": text})
    return lesson


def remove_added_lesson(lesson: Lesson, actor: Any, expected_version: int | None = None) -> None:
    """Take back an added lesson recorded by mistake (a timetabled one is cancelled instead)."""
    check_reach(actor, "teaching.manage", lesson)
    if lesson.slot_id is not None:
        raise InvalidTransition(_("A timetabled lesson is cancelled, not removed."))
    lock(Lesson, lesson, expected_version)
    record("teaching.lesson_removed", subject=lesson, actor=actor,
           changes={"kind": lesson.kind, "staff": lesson.taught_by_id, "day": lesson.day.isoformat(),
                    "period": lesson.period})
    db.session.delete(lesson)
    guarded_flush()


# --- absences ----------------------------------------------------------------------------------------


def record_absence(staff: StaffMember, day: Any, first_period: Any, last_period: Any, reason: Any,
                   actor: Any) -> Absence:
    """A teacher is away (all day or some periods); their lessons then wait on the cover screen. Recording
    the same day again updates the periods and reason."""
    from app.school.teaching.services.common import clean_date

    check_reach(actor, "teaching.manage", staff)
    day, day_problem = clean_date(day, missing=_("Enter the date."))
    first, first_problem = clean_int(first_period or 1, low=1, high=12, message=_("Enter a period from 1 to 12."))
    last, last_problem = clean_int(last_period or 12, low=1, high=12, message=_("Enter a period from 1 to 12."))
    if not (first_problem or last_problem) and first > last:
        last_problem = _("The last period cannot come before the first.")
    text, reason_problem = clean_text(reason, missing=_("Give the reason for the absence."), maximum=REASON_MAX)
    raise_if({"day": day_problem, "first_period": first_problem, "last_period": last_problem,
              "reason": reason_problem})
    if staff.status == StaffStatus.DEPARTED:
        raise NotAllowed(_("%(name)s has left the school.", name=staff.full_name))
    absence = db.session.scalar(sa.select(Absence).where(Absence.staff_id == staff.id, Absence.day == day))
    if absence is not None and (absence.first_period, absence.last_period, absence.reason) == (first, last, text):
        return absence
    action = "teaching.absence_changed" if absence else "teaching.absence_recorded"
    if absence is None:
        absence = Absence(staff_id=staff.id, day=day)
        absence.staff = staff
        db.session.add(absence)
    absence.first_period, absence.last_period, absence.reason = first, last, text
    absence.recorded_by_id = actor_id(actor)
    guarded_flush({"absences": Conflict(_("This absence was recorded by someone else at the same time. Reload "
                                          "the page."))})
    record(action, subject=absence, actor=actor,
           changes={"staff": staff.id, "day": day.isoformat(), "periods": [first, last]})
    return absence


def remove_absence(absence: Absence, actor: Any) -> None:
    """The teacher came in after all; lessons already covered stay covered until restored."""
    check_reach(actor, "teaching.manage", absence)
    record("teaching.absence_removed", subject=absence, actor=actor,
           changes={"staff": absence.staff_id, "day": absence.day.isoformat()})
    db.session.delete(absence)
    db.session.flush()


def kind_labels() -> dict[str, str]:
    """The label of each lesson kind, in the current language."""
    return {LessonKind.REGULAR: _("Regular"), LessonKind.COVER: _("Cover"), LessonKind.CANCELLED: _("Cancelled"),
            LessonKind.EXTRA: _("Extra lesson"), LessonKind.OPEN_CLASS: _("Open class"),
            LessonKind.INVIGILATION: _("Invigilation"), LessonKind.HOMEROOM: _("Homeroom duties")}
