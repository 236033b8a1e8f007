"""Demo teaching and pay: for both demo schools, the autumn term 2026 (National Day week and Mid-Autumn closed, two
make-up weekend days, New Year's Day), a weekly timetable laid out from the classes demo's subject assignments, the
lesson ledger generated for the term, covers in November and in the current week, one cancellation, an open
class, invigilation, homeroom duties and an extra lesson, a pay scheme with multipliers, a bonus catalogue with a
few awards (approved, and one awaiting the head), the October pay run locked and November's calculated.

teacher01 (李伟) teaches maths, gives an open class in October (with its bonus), covers a colleague in November and
has a locked October statement. The class whose maths teacher changes on 2 November (classes demo) keeps its
September and October lessons with the old teacher: the slot moves to the new teacher from that day.

Idempotent: the term is matched by school and name; its timetable, ledger and adjustments are made only when the
term has none yet; schemes by school and start date, bonus types by code, awards when the school has none, pay runs
by school and month. Writes go through the services, audited as "system" (the head approves bonuses and pay);
timetable slots are written here (the timetable service checks one form or file at a time) and audited one by one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today
from app.school.teaching.calendar import iso_week_start, school_days
from app.school.teaching.covers import cover_board
from app.school.teaching.models import (
    Absence,
    BonusAward,
    BonusType,
    Lesson,
    LessonKind,
    PayScheme,
    Term,
    TimetableSlot,
)
from app.school.teaching.services import calendar, ledger, payruns, schemes

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.staffroom.test"
SCHOOLS = ("RS1", "RS2")
HEADS = {"RS1": "head1", "RS2": "head2"}
TERM_NAME = "2026-2027 秋季学期 Autumn term"
TERM_STARTS, TERM_ENDS = date(2026, 9, 1), date(2027, 1, 22)
CLOSURES = (  # (name, first day, last day, weekday followed by a make-up day)
    ("中秋节 Mid-Autumn Festival", date(2026, 9, 25), date(2026, 9, 25), None),
    ("国庆节 National Day", date(2026, 10, 1), date(2026, 10, 7), None),
    ("国庆调休 Make-up day (Monday's timetable)", date(2026, 9, 20), date(2026, 9, 20), 1),
    ("国庆调休 Make-up day (Wednesday's timetable)", date(2026, 10, 10), date(2026, 10, 10), 3),
    ("元旦 New Year's Day", date(2027, 1, 1), date(2027, 1, 1), None),
)
PERIODS_A_DAY = 7  # the timetable's periods; added lessons (meetings, exams) may also use the 8th
LOCKED_MONTH, DRAFT_MONTH = date(2026, 10, 1), date(2026, 11, 1)

SCHEME = {
    "name": "2026-2027 课时津贴 Teaching pay", "effective_from": "2026-09-01", "standard_monthly_periods": "60",
    "overtime_rate": "30", "homeroom_allowance": "800", "point_value": "10",
    "rate_regular": "50", "rate_cover": "60", "rate_extra": "55", "rate_open_class": "120",
    "rate_invigilation": "30", "rate_homeroom": "40",
}
MULTIPLIERS = {  # graduating-track grades weigh more; so would a very large class
    "RS1": [{"basis": "grade", "low": 8, "high": 9, "factor": "1.100"},
            {"basis": "class_size", "low": 45, "high": 80, "factor": "1.050"}],
    "RS2": [{"basis": "grade", "low": 5, "high": 6, "factor": "1.050"},
            {"basis": "class_size", "low": 45, "high": 80, "factor": "1.050"}],
}
BONUS_TYPES = (
    {"code": "OPEN", "name": "公开课 Open class", "amount": "300", "monthly_cap": "600"},
    {"code": "PAPER", "name": "发表论文 Published paper", "points": "50", "monthly_cap": "1000"},
    {"code": "COACH", "name": "竞赛辅导 Competition coaching", "amount": "400", "monthly_cap": "800"},
)


@dataclass(frozen=True)
class DemoAward:
    staff: int  # demo staff number (RS1-T001 …)
    code: str
    earned_on: date
    description: str
    evidence: str
    approve: bool


AWARDS = {
    "RS1": (
        DemoAward(1, "OPEN", date(2026, 10, 21), "区级数学公开课《一元一次方程》 District open class in maths",
                  "教研室听课记录 2026-10-21 District research office observation notes", True),
        DemoAward(4, "COACH", date(2026, 11, 14), "市青少年科技创新大赛辅导（二等奖） Coached the city science "
                  "contest team (2nd prize)", "获奖证书 SZ-2026-1187 Award certificate", True),
        DemoAward(2, "PAPER", date(2026, 11, 20), "《语文教学通讯》发表论文 Paper in Chinese Teaching Bulletin",
                  "期刊 2026 年第 11 期 第 34–37 页 Issue 11/2026, pp. 34–37", False),
    ),
    "RS2": (
        DemoAward(7, "OPEN", date(2026, 10, 15), "Open maths lesson for the district's primary teachers",
                  "District observation form 2026-10-15", True),
        DemoAward(8, "PAPER", date(2026, 11, 25), "Article on phonics teaching in Primary English Today",
                  "Primary English Today, vol. 12, pp. 8–11", False),
    ),
}


@dataclass(frozen=True)
class DemoAbsence:
    staff: int
    day: date | int  # a date, or a weekday (1 = Monday) of the current week
    first: int
    last: int
    reason: str


ABSENCES = {
    "RS1": (
        DemoAbsence(6, date(2026, 11, 18), 1, 12, "病假 Sick leave"),
        DemoAbsence(3, date(2026, 11, 25), 1, 4, "外出培训 District training day"),
        DemoAbsence(2, 1, 1, 12, "事假 Personal leave"),
        DemoAbsence(6, 3, 1, 4, "就医 Hospital appointment"),
    ),
    "RS2": (
        DemoAbsence(9, date(2026, 11, 11), 1, 12, "病假 Sick leave"),
        DemoAbsence(8, 2, 1, 12, "外出教研 Teaching research visit"),
    ),
}


@dataclass(frozen=True)
class DemoAdded:
    kind: str
    staff: int
    day: date
    periods: str
    reason: str
    class_index: int | None = None  # index in the school's classes (by id), None: no class


ADDED = {
    "RS1": (
        DemoAdded(LessonKind.OPEN_CLASS, 1, date(2026, 10, 21), "1", "区级公开课 District open class", 0),
        DemoAdded(LessonKind.INVIGILATION, 1, date(2026, 11, 12), "2", "期中考试监考 Mid-term exam invigilation"),
        DemoAdded(LessonKind.INVIGILATION, 11, date(2026, 11, 12), "2", "期中考试监考 Mid-term exam invigilation"),
        DemoAdded(LessonKind.EXTRA, 2, date(2026, 11, 19), "1", "期中讲评 Mid-term review lesson", 2),
    ),
    "RS2": (
        DemoAdded(LessonKind.EXTRA, 7, date(2026, 11, 19), "1", "Mid-term revision lesson", 2),
        DemoAdded(LessonKind.INVIGILATION, 10, date(2026, 11, 13), "1.5", "Mid-term exam invigilation"),
    ),
}
HOMEROOM_DUTY = (date(2026, 11, 20), "2", "家长会 Parents' meeting")  # every homeroom teacher, 8th period
CANCELLED = {"RS1": (date(2026, 11, 27), "PE", 2, "运动场维修 Sports ground closed for repairs")}


# --- calendar and timetable -----------------------------------------------------------------------------------


def _term(school: OrgUnit, counts: dict) -> Term:
    term = db.session.scalar(sa.select(Term).where(Term.school_id == school.id, Term.name == TERM_NAME))
    if term is not None:
        return term
    term = calendar.save_term(school, name=TERM_NAME, starts_on=TERM_STARTS, ends_on=TERM_ENDS, cover_window_days=10,
                              actor=SYSTEM)
    for name, first, last, follows in CLOSURES:
        calendar.add_closure(term, name=name, starts_on=first, ends_on=last, follows_weekday=follows, actor=SYSTEM)
    counts["terms"] += 1
    return term


def _subject_chains(term: Term) -> list[list[Assignment]]:
    """Per class and subject, its subject assignments running in the term, oldest first (a change of teacher
    makes a chain of two)."""
    rows = db.session.scalars(
        sa.select(Assignment).join(SchoolClass, SchoolClass.id == Assignment.class_id)
        .where(SchoolClass.school_id == term.school_id, Assignment.role == AssignmentRole.SUBJECT,
               Assignment.starts_on <= term.ends_on,
               sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= term.starts_on))
        .order_by(Assignment.class_id, Assignment.subject_id, Assignment.starts_on, Assignment.id))
    chains: dict[tuple[int, int], list[Assignment]] = {}
    for assignment in rows:
        chains.setdefault((assignment.class_id, assignment.subject_id), []).append(assignment)
    return list(chains.values())


class _Week:
    """Who is busy when, while the timetable is laid out."""

    def __init__(self):
        self.class_busy: set[tuple[int, int, int]] = set()
        self.staff_busy: set[tuple[int, int, int]] = set()
        self.class_load: dict[tuple[int, int], int] = {}

    def free(self, class_id: int, teachers: set[int], weekday: int, period: int) -> bool:
        return (class_id, weekday, period) not in self.class_busy and not any(
            (t, weekday, period) in self.staff_busy for t in teachers)

    def take(self, class_id: int, teachers: set[int], weekday: int, period: int) -> None:
        self.class_busy.add((class_id, weekday, period))
        self.staff_busy.update((t, weekday, period) for t in teachers)
        self.class_load[(class_id, weekday)] = self.class_load.get((class_id, weekday), 0) + 1


def _layout(chains: list[list[Assignment]]) -> list[tuple[int, int, Assignment]]:
    """(weekday, period, first assignment) for every weekly period, spread over the week: a subject at most once a
    day when it can be, the class's lightest day first, the earliest period free for the class and for every
    teacher of the chain."""
    week, placed = _Week(), []
    for chain in sorted(chains, key=lambda c: (c[0].class_id, -c[0].weekly_periods, c[0].subject_id)):
        first, teachers = chain[0], {a.staff_id for a in chain}
        days_used: dict[int, int] = {}
        for n in range(first.weekly_periods):
            options = [(days_used.get(d, 0), week.class_load.get((first.class_id, d), 0), (d - n) % 5, d, p)
                       for d in range(1, 6) for p in range(1, PERIODS_A_DAY + 1)
                       if week.free(first.class_id, teachers, d, p)]
            if not options:
                log.warning("demo: no room for subject %s in class %s", first.subject_id, first.class_id)
                break
            *_rank, weekday, period = min(options)
            week.take(first.class_id, teachers, weekday, period)
            days_used[weekday] = days_used.get(weekday, 0) + 1
            placed.append((weekday, period, first))
    return placed


def _slot_audit(slot: TimetableSlot) -> dict:
    return {"term_id": slot.term_id, "weekday": slot.weekday, "period": slot.period, "class_id": slot.class_id,
            "subject_id": slot.subject_id, "staff_id": slot.staff_id}


def _timetable(term: Term, counts: dict) -> list[list[Assignment]]:
    """The term's slots, each taught by the teacher of its subject on the first day of the term; returns the
    chains (for the changes of teacher to apply after generation)."""
    chains = _subject_chains(term)
    if db.session.scalar(sa.select(TimetableSlot.id).where(TimetableSlot.term_id == term.id).limit(1)):
        return chains
    slots = [TimetableSlot(term_id=term.id, weekday=weekday, period=period, class_id=a.class_id,
                           subject_id=a.subject_id, staff_id=a.staff_id) for weekday, period, a in _layout(chains)]
    db.session.add_all(slots)
    db.session.flush()
    for slot in slots:
        record("teaching.slot_created", subject=slot, actor=SYSTEM, unit=term.school, changes=_slot_audit(slot))
    counts["timetable_slots"] += len(slots)
    return chains


def _changes_of_teacher(term: Term, chains: list[list[Assignment]]) -> None:
    """A subject handed to a colleague mid-term: its slots go to the colleague, with their lessons from that day."""
    for chain in chains:
        for later in chain[1:]:
            slots = list(db.session.scalars(sa.select(TimetableSlot).where(
                TimetableSlot.term_id == term.id, TimetableSlot.class_id == later.class_id,
                TimetableSlot.subject_id == later.subject_id)))
            for slot in slots:
                before = slot.staff_id
                slot.staff_id = later.staff_id
                db.session.flush()
                record("teaching.slot_updated", subject=slot, actor=SYSTEM, unit=term.school,
                       changes={"staff_id": [before, later.staff_id], "from": later.starts_on.isoformat()})
            ledger.move_future_lessons([s.id for s in slots], later.staff_id, later.starts_on, SYSTEM)


def _generate(term: Term, counts: dict) -> None:
    chains = _timetable(term, counts)
    if term.generated_at is not None:
        return
    result = ledger.generate_term(term, SYSTEM)
    counts["lessons"] += result.added
    _changes_of_teacher(term, chains)


# --- adjustments ----------------------------------------------------------------------------------------------


def _this_week(term: Term, weekday: int) -> date | None:
    """The school day of the current week (the term's last week once the term is over) following `weekday`."""
    today = min(max(local_today(), term.starts_on), term.ends_on)
    monday = iso_week_start(today)
    days = school_days(term.starts_on, term.ends_on, term.closures, first=monday, last=monday + timedelta(days=6))
    return next((d.day for d in days if d.weekday == weekday), None)


def _cover_all(school: OrgUnit, absence: Absence, reason: str) -> int:
    """Cover each of the absent teacher's lessons with the cover screen's first choice, one at a time (so that
    the fairness tally counts the covers just given)."""
    made = 0
    while True:
        board = cover_board(school.id, absence.day)
        needs = next((a.lessons for a in board.absent if a.absence.id == absence.id), [])
        need = next((n for n in needs if n.lesson.kind == LessonKind.REGULAR and n.candidates), None)
        if need is None:
            return made
        ledger.assign_cover(need.lesson, need.candidates[0].staff, reason, SYSTEM)
        made += 1


def _absences(school: OrgUnit, term: Term, staff: dict[int, StaffMember], counts: dict) -> None:
    for spec in ABSENCES.get(school.code, ()):
        day = spec.day if isinstance(spec.day, date) else _this_week(term, spec.day)
        person = staff.get(spec.staff)
        if day is None or person is None:
            continue
        absence = ledger.record_absence(person, day, spec.first, spec.last, spec.reason, SYSTEM)
        counts["absences"] += 1
        counts["covers"] += _cover_all(school, absence, f"代课 Cover: {person.full_name} — {spec.reason}")


def _free_period(staff: StaffMember, day: date, class_id: int | None) -> int | None:
    """The first period (1–8) in which neither the teacher nor the class has a lesson."""
    busy = Lesson.taught_by_id == staff.id
    if class_id is not None:
        busy = sa.or_(busy, sa.and_(Lesson.class_id == class_id, Lesson.kind != LessonKind.CANCELLED))
    taken = set(db.session.scalars(sa.select(Lesson.period).where(Lesson.day == day, busy)))
    return next((p for p in range(1, PERIODS_A_DAY + 2) if p not in taken), None)


def _added(school: OrgUnit, staff: dict[int, StaffMember], classes: list[SchoolClass], counts: dict) -> None:
    for spec in ADDED.get(school.code, ()):
        person = staff.get(spec.staff)
        school_class = classes[spec.class_index] if spec.class_index is not None and classes else None
        period = _free_period(person, spec.day, school_class.id if school_class else None) if person else None
        if period is None:
            continue
        subject = next((s for s in person.subjects), None) if school_class else None
        ledger.add_lesson(school_id=school.id, kind=spec.kind, day=spec.day, period=period, staff=person,
                          school_class=school_class, subject=subject, periods=spec.periods, reason=spec.reason,
                          actor=SYSTEM)
        counts["added_lessons"] += 1
    day, periods, reason = HOMEROOM_DUTY
    for assignment in db.session.scalars(sa.select(Assignment).where(
            Assignment.class_id.in_([c.id for c in classes]), Assignment.role == AssignmentRole.HOMEROOM,
            Assignment.starts_on <= day, sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= day))):
        ledger.add_lesson(school_id=school.id, kind=LessonKind.HOMEROOM, day=day, period=PERIODS_A_DAY + 1,
                          staff=assignment.staff, school_class=assignment.school_class, subject=None,
                          periods=periods, reason=reason, actor=SYSTEM)
        counts["added_lessons"] += 1


def _cancel(school: OrgUnit, classes: list[SchoolClass], counts: dict) -> None:
    spec = CANCELLED.get(school.code)
    if spec is None or len(classes) <= spec[2]:
        return
    day, subject_code, class_index, reason = spec
    lesson = db.session.scalar(sa.select(Lesson).join(Lesson.subject).where(
        Lesson.class_id == classes[class_index].id, Lesson.day == day, Lesson.kind == LessonKind.REGULAR,
        Lesson.subject.has(code=subject_code)).order_by(Lesson.period).limit(1))
    if lesson is not None:
        ledger.cancel_lesson(lesson, reason, SYSTEM)
        counts["cancelled"] += 1


def _adjust(school: OrgUnit, term: Term, staff: dict[int, StaffMember], counts: dict) -> None:
    """Covers, a cancellation and added lessons, once: only while the term has no absence and no added lesson."""
    has_absence = db.session.scalar(sa.select(Absence.id).join(StaffMember, StaffMember.id == Absence.staff_id).where(
        StaffMember.school_id == school.id, Absence.day >= term.starts_on, Absence.day <= term.ends_on).limit(1))
    has_added = db.session.scalar(sa.select(Lesson.id).where(Lesson.term_id == term.id, Lesson.slot_id.is_(None))
                                  .limit(1))
    if has_absence or has_added:
        return
    classes = list(db.session.scalars(sa.select(SchoolClass).where(SchoolClass.school_id == school.id)
                                      .order_by(SchoolClass.id)))
    _added(school, staff, classes, counts)
    _cancel(school, classes, counts)
    _absences(school, term, staff, counts)


# --- pay --------------------------------------------------------------------------------------------------------


def _scheme(school: OrgUnit, counts: dict) -> None:
    start = date.fromisoformat(SCHEME["effective_from"])
    if db.session.scalar(sa.select(PayScheme.id).where(PayScheme.school_id == school.id,
                                                       PayScheme.effective_from == start)):
        return
    schemes.save_scheme(school, {**SCHEME, "multipliers": MULTIPLIERS.get(school.code, [])}, SYSTEM)
    counts["pay_schemes"] += 1


def _bonus_types(school: OrgUnit, counts: dict) -> dict[str, BonusType]:
    found = {t.code: t for t in db.session.scalars(sa.select(BonusType).where(BonusType.school_id == school.id))}
    for spec in BONUS_TYPES:
        if spec["code"] not in found:
            found[spec["code"]] = schemes.save_bonus_type(school, dict(spec), SYSTEM)
            counts["bonus_types"] += 1
    return found


def _awards(school: OrgUnit, staff: dict[int, StaffMember], types: dict[str, BonusType], head: User | None,
            counts: dict) -> None:
    """Proposed by the school office, decided by the head (all of them at once: when the school has none)."""
    if db.session.scalar(sa.select(BonusAward.id).join(BonusType).where(BonusType.school_id == school.id).limit(1)):
        return
    for spec in AWARDS.get(school.code, ()):
        person = staff.get(spec.staff)
        if person is None:
            continue
        award = schemes.propose_award(person, types[spec.code], spec.earned_on, spec.description, spec.evidence,
                                      SYSTEM)
        if spec.approve and head is not None:
            schemes.approve_award(award, "同意 Approved", head)
        counts["bonus_awards"] += 1


def _runs(school: OrgUnit, head: User | None, counts: dict) -> None:
    """October approved by the head and locked (statements published); November calculated, awaiting approval."""
    if payruns.latest_run(school.id, LOCKED_MONTH) is None and head is not None:
        run = payruns.open_run(school, LOCKED_MONTH, SYSTEM)
        payruns.calculate_run(run, SYSTEM)
        payruns.approve_run(run, head)
        payruns.lock_run(run, SYSTEM)
        counts["pay_runs"] += 1
    if payruns.latest_run(school.id, DRAFT_MONTH) is None:
        payruns.calculate_run(payruns.open_run(school, DRAFT_MONTH, SYSTEM), SYSTEM)
        counts["pay_runs"] += 1


# --- the step ---------------------------------------------------------------------------------------------------


def _demo_staff(school: OrgUnit) -> dict[int, StaffMember]:
    """The school's demo staff by number (RS1-T001 → 1)."""
    prefix = f"{school.code}-T"
    return {int(s.employee_number[len(prefix):]): s for s in db.session.scalars(
        sa.select(StaffMember).where(StaffMember.school_id == school.id,
                                     StaffMember.employee_number.like(f"{prefix}%")))}


def _school(school: OrgUnit, head: User | None, counts: dict) -> None:
    staff = _demo_staff(school)
    if not staff:
        log.info("demo: no staff at %s, no teaching data created there", school.code)
        return
    term = _term(school, counts)
    _generate(term, counts)
    _scheme(school, counts)
    types = _bonus_types(school, counts)
    _awards(school, staff, types, head, counts)  # before the runs: October's approved bonus is paid in October
    _adjust(school, term, staff, counts)
    _runs(school, head, counts)


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: terms, timetables, lesson ledgers with adjustments, pay schemes, bonuses and pay runs."""
    counts = dict.fromkeys(("terms", "timetable_slots", "lessons", "added_lessons", "cancelled", "absences", "covers",
                            "pay_schemes", "bonus_types", "bonus_awards", "pay_runs"), 0)
    for code in SCHOOLS:
        if code in units:
            _school(units[code], users.get(f"{HEADS[code]}@{DEMO_DOMAIN}"), counts)
    for what, count in counts.items():
        result.add(what, count)
    log.info("demo: teaching %s", counts)
