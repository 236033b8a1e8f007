"""Teaching rows for the teaching bench, built on a district already in the database (bench.generate): for every
school an autumn term, a weekly timetable, November's lesson ledger with a few hundred covers, a pay scheme with
rates and multipliers, a bonus catalogue and ~1,000 approved awards paid in November.

The timetable fills each teacher's week up to their maximum weekly periods (~16: ~155,000 slots, ~650,000 lessons in
November's 21 school days), as the issue's scale asks. The district's own assignments hold only ~69,000 weekly
periods (a class gets its core subjects and an elective or two), so a teacher's slots go first to the classes and
subjects of their assignments (up to 10 a week in one class), then to other classes of their school in a subject
they teach. Days have 10 periods (a class is ~78% full). A teacher or a class is never in two places at once (the
unique indexes hold). Deterministic for a seed.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from bench.datagen import FULL, Dataset

WEEKDAYS, PERIODS = 5, 10
POSITIONS = WEEKDAYS * PERIODS  # position = (weekday - 1) * PERIODS + (period - 1)
PER_CLASS_MAX = 10  # a teacher's periods a week in one class
ABSENCES = 120  # teacher-days away in the month; each of their lessons that day is covered
AWARDS = 1_000

TERM_COLUMNS = ("id", "school_id", "name", "starts_on", "ends_on", "cover_window_days", "generated_at", "created_at",
                "version")
CLOSURE_COLUMNS = ("id", "term_id", "name", "starts_on", "ends_on", "follows_weekday")
SLOT_COLUMNS = ("id", "term_id", "weekday", "period", "class_id", "subject_id", "staff_id", "created_at", "version")
LESSON_COLUMNS = ("id", "school_id", "term_id", "slot_id", "day", "period", "class_id", "subject_id",
                  "scheduled_staff_id", "taught_by_id", "kind", "periods", "reason", "adjusted_by_id", "adjusted_at",
                  "created_at", "version")
ABSENCE_COLUMNS = ("id", "staff_id", "day", "first_period", "last_period", "reason", "recorded_by_id", "created_at")
SCHEME_COLUMNS = ("id", "school_id", "name", "effective_from", "standard_monthly_periods", "overtime_rate",
                  "homeroom_allowance", "point_value", "created_by_id", "created_at", "version")
RATE_COLUMNS = ("scheme_id", "kind", "rate")
MULTIPLIER_COLUMNS = ("id", "scheme_id", "basis", "low", "high", "factor")
BONUS_TYPE_COLUMNS = ("id", "school_id", "code", "name", "amount", "points", "monthly_cap", "is_active", "created_at",
                      "version")
AWARD_COLUMNS = ("id", "staff_id", "bonus_type_id", "earned_on", "description", "evidence", "status", "amount",
                 "pay_month", "decision_note", "proposed_by_id", "decided_by_id", "decided_at", "created_at", "version")

RATES = {"regular": "50", "cover": "60", "extra": "55", "open_class": "120", "invigilation": "30", "homeroom": "40"}
BONUS_TYPES = (("OPEN", "公开课 Open class", Decimal("300"), None, Decimal("600")),
               ("PAPER", "发表论文 Published paper", None, Decimal("50"), Decimal("1000")),
               ("COACH", "竞赛辅导 Competition coaching", Decimal("400"), None, Decimal("800")))
POINT_VALUE = Decimal("10")


@dataclass
class District:
    """What the timetable is built from, read from the bench database."""

    year_start: date
    schools: list[int]
    teachers: dict[int, list[tuple[int, int]]]  # school → [(staff id, max weekly periods)]
    assignments: dict[int, list[tuple[int, int, int]]]  # staff → [(class id, subject id, weekly periods)]
    classes: dict[int, list[int]]  # school → class ids
    subjects: dict[int, list[int]]  # staff → subject ids they teach
    any_subject: int


@dataclass
class Teaching:
    """The built rows and what the benchmarks need to know about them."""

    dataset: Dataset
    month: date
    term_of: dict[int, int] = field(default_factory=dict)  # school → term id
    unplaced: int = 0  # weekly periods no free place was found for


def month_of(year_start: date) -> date:
    """The bench month: November of the academic year (no closure in it)."""
    return date(year_start.year, 11, 1)


def read_district(conn: sa.Connection) -> District:
    """The schools, teachers, classes and current subject assignments of the generated district."""
    year = conn.execute(sa.text("SELECT MIN(academic_year) FROM school_classes")).scalar_one()
    schools = [r[0] for r in conn.execute(sa.text("SELECT id FROM org_units WHERE kind = 'school' ORDER BY id"))]
    teachers: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for staff_id, school_id, periods in conn.execute(sa.text(
            "SELECT id, school_id, max_weekly_periods FROM staff_members WHERE status <> 'departed' "
            "AND max_weekly_periods > 0 ORDER BY id")):
        teachers[school_id].append((staff_id, periods))
    assignments: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for row in conn.execute(sa.text("SELECT staff_id, class_id, subject_id, weekly_periods FROM assignments "
                                    "WHERE role = 'subject' AND ends_on IS NULL ORDER BY id")):
        assignments[row[0]].append((row[1], row[2], row[3]))
    classes: dict[int, list[int]] = defaultdict(list)
    for class_id, school_id in conn.execute(sa.text("SELECT id, school_id FROM school_classes ORDER BY id")):
        classes[school_id].append(class_id)
    subjects: dict[int, list[int]] = defaultdict(list)
    for staff_id, subject_id in conn.execute(sa.text("SELECT staff_id, subject_id FROM staff_subjects "
                                                     "ORDER BY staff_id, subject_id")):
        subjects[staff_id].append(subject_id)
    any_subject = conn.execute(sa.text("SELECT MIN(id) FROM subjects")).scalar_one()
    return District(date(int(year[:4]), 9, 1), schools, teachers, assignments, classes, subjects, any_subject)


class _Week:
    """Who is busy in which position of the week, in one school."""

    def __init__(self):
        self.class_busy: dict[int, set[int]] = defaultdict(set)
        self.staff_busy: dict[int, set[int]] = defaultdict(set)


def _wishes(district: District, staff_id: int, target: int, school_classes: list[int],
            rng: random.Random) -> list[tuple[int, int, int]]:
    """(class, subject, periods a week) the teacher's week is made of: their assignments, raised evenly up to
    PER_CLASS_MAX each, then other classes of the school in a subject of theirs."""
    own = district.assignments.get(staff_id, [])
    wishes = [[c, s, p] for c, s, p in own]
    left = target - sum(p for _c, _s, p in own)
    while left > 0 and any(w[2] < PER_CLASS_MAX for w in wishes):
        for wish in wishes:
            if left > 0 and wish[2] < PER_CLASS_MAX:
                wish[2] += 1
                left -= 1
    subject = (district.subjects.get(staff_id) or [district.any_subject])[0]
    taken = {w[0] for w in wishes}
    others = [c for c in school_classes if c not in taken]
    rng.shuffle(others)
    for class_id in others:
        if left <= 0:
            break
        periods = min(left, 5)
        wishes.append([class_id, subject, periods])
        left -= periods
    return [tuple(w) for w in wishes]


def _place(week: _Week, staff_id: int, wishes: list[tuple[int, int, int]], rng: random.Random) -> tuple[list, int]:
    """Positions for the wishes, spread over the week; returns [(position, class, subject)] and how many found none."""
    order = list(range(POSITIONS))
    rng.shuffle(order)
    mine = week.staff_busy[staff_id]
    placed, missing = [], 0
    for class_id, subject_id, periods in wishes:
        busy = week.class_busy[class_id]
        for _n in range(periods):
            position = next((p for p in order if p not in mine and p not in busy), None)
            if position is None:
                missing += 1
                continue
            mine.add(position)
            busy.add(position)
            placed.append((position, class_id, subject_id))
    return placed, missing


def _school_days(month: date) -> list[date]:
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)
            if (first + timedelta(days=n)).isoweekday() <= WEEKDAYS]


def _calendar(ds: Dataset, teaching: Teaching, district: District, at: datetime) -> None:
    start = district.year_start
    end = date(start.year + 1, 1, 22)
    for school_id in district.schools:
        term_id = ds.add("terms", (ds.next_id("terms"), school_id, f"{start.year}-{start.year + 1} autumn term", start,
                                   end, 10, at, at, 1))
        teaching.term_of[school_id] = term_id
        ds.add("term_closures", (ds.next_id("term_closures"), term_id, "National Day", date(start.year, 10, 1),
                                 date(start.year, 10, 7), None))
        ds.add("term_closures", (ds.next_id("term_closures"), term_id, "Make-up day", date(start.year, 10, 10),
                                 date(start.year, 10, 10), 3))


def _timetable(ds: Dataset, teaching: Teaching, district: District, at: datetime, rng: random.Random) -> dict:
    """Slots of every school; returns {school: {staff: [(slot id, position, class, subject)]}}."""
    slots: dict[int, dict[int, list]] = {}
    for school_id in district.schools:
        week, term_id, mine = _Week(), teaching.term_of[school_id], {}
        people = list(district.teachers.get(school_id, []))
        rng.shuffle(people)
        for staff_id, target in people:
            wishes = _wishes(district, staff_id, target, district.classes.get(school_id, []), rng)
            placed, missing = _place(week, staff_id, wishes, rng)
            teaching.unplaced += missing
            rows = []
            for position, class_id, subject_id in sorted(placed):
                weekday, period = position // PERIODS + 1, position % PERIODS + 1
                slot_id = ds.add("timetable_slots", (ds.next_id("timetable_slots"), term_id, weekday, period,
                                                     class_id, subject_id, staff_id, at, 1))
                rows.append((slot_id, weekday, period, class_id, subject_id))
            mine[staff_id] = rows
        slots[school_id] = mine
    return slots


def _absences(ds: Dataset, slots: dict, days: list[date], at: datetime, rng: random.Random) -> dict:
    """ABSENCES teacher-days away, each lesson of the day covered by a colleague of the school free in that period;
    returns {(staff, day, period): covering staff}."""
    covers: dict[tuple[int, date, int], int] = {}
    away: set[tuple[int, date]] = set()
    taken: set[tuple[int, date, int]] = set()
    schools = [s for s in slots if slots[s]]
    while len(away) < ABSENCES:
        school_id = rng.choice(schools)
        staff_id, day = rng.choice(list(slots[school_id])), rng.choice(days)
        lessons = [r for r in slots[school_id][staff_id] if r[1] == day.isoweekday()]
        if not lessons or (staff_id, day) in away:
            continue
        away.add((staff_id, day))
        ds.add("absences", (ds.next_id("absences"), staff_id, day, 1, 12, "Sick leave", None, at))
        colleagues = list(slots[school_id])
        for _slot, weekday, period, _class, _subject in lessons:
            for _try in range(50):
                other = rng.choice(colleagues)
                busy = any(r[1] == weekday and r[2] == period for r in slots[school_id][other])
                if other != staff_id and not busy and (other, day) not in away and (other, day, period) not in taken:
                    covers[(staff_id, day, period)] = other
                    taken.add((other, day, period))
                    break
    return covers


def _lessons(ds: Dataset, teaching: Teaching, slots: dict, covers: dict, days: list[date], at: datetime) -> None:
    table = ds.tables["lessons"]
    one = Decimal("1")
    next_id = 1
    for school_id, people in slots.items():
        term_id = teaching.term_of[school_id]
        for day in days:
            weekday = day.isoweekday()
            for staff_id, rows in people.items():
                for slot_id, slot_weekday, period, class_id, subject_id in rows:
                    if slot_weekday != weekday:
                        continue
                    cover = covers.get((staff_id, day, period))
                    if cover is None:
                        row = (next_id, school_id, term_id, slot_id, day, period, class_id, subject_id, staff_id,
                               staff_id, "regular", one, None, None, None, at, 1)
                    else:
                        row = (next_id, school_id, term_id, slot_id, day, period, class_id, subject_id, staff_id,
                               cover, "cover", one, "Cover: colleague away", None, at, at, 2)
                    table.rows.append(row)
                    next_id += 1


def _pay(ds: Dataset, district: District, month: date, at: datetime, rng: random.Random) -> None:
    """One scheme per school, its bonus catalogue, and AWARDS approved awards paid in `month`."""
    types: dict[int, list[tuple[int, Decimal]]] = {}
    for school_id in district.schools:
        scheme_id = ds.add("pay_schemes", (ds.next_id("pay_schemes"), school_id, "Teaching pay",
                                           district.year_start, Decimal("60"), Decimal("30"), Decimal("800"),
                                           POINT_VALUE, None, at, 1))
        for kind, rate in RATES.items():
            ds.tables["pay_rates"].rows.append((scheme_id, kind, Decimal(rate)))
        ds.add("pay_multipliers", (ds.next_id("pay_multipliers"), scheme_id, "grade", 9, 9, Decimal("1.100")))
        ds.add("pay_multipliers", (ds.next_id("pay_multipliers"), scheme_id, "class_size", 45, 80, Decimal("1.050")))
        types[school_id] = []
        for code, name, amount, points, cap in BONUS_TYPES:
            type_id = ds.add("bonus_types", (ds.next_id("bonus_types"), school_id, code, name, amount, points, cap,
                                             True, at, 1))
            types[school_id].append((type_id, amount if amount is not None else points * POINT_VALUE))
    days = _school_days(month)
    schools = [s for s in district.schools if district.teachers.get(s)]
    for _n in range(AWARDS):
        school_id = rng.choice(schools)
        staff_id = rng.choice(district.teachers[school_id])[0]
        type_id, amount = rng.choice(types[school_id])
        ds.add("bonus_awards", (ds.next_id("bonus_awards"), staff_id, type_id, rng.choice(days), "Bench award",
                                "bench evidence", "approved", amount, month, None, None, None, at, at, 2))


def build_teaching(conn: sa.Connection, seed: int) -> Teaching:
    """Every teaching row of the bench, in write order."""
    district = read_district(conn)
    month = month_of(district.year_start)
    ds = Dataset(seed=seed, scale=FULL, year_start=district.year_start, password_hash="")
    for name, columns in (("terms", TERM_COLUMNS), ("term_closures", CLOSURE_COLUMNS),
                          ("timetable_slots", SLOT_COLUMNS), ("absences", ABSENCE_COLUMNS),
                          ("lessons", LESSON_COLUMNS), ("pay_schemes", SCHEME_COLUMNS), ("pay_rates", RATE_COLUMNS),
                          ("pay_multipliers", MULTIPLIER_COLUMNS), ("bonus_types", BONUS_TYPE_COLUMNS),
                          ("bonus_awards", AWARD_COLUMNS)):
        ds.table(name, columns)
    teaching = Teaching(ds, month)
    at = datetime(district.year_start.year, 8, 25, 2, 0, tzinfo=UTC)
    rng = random.Random(f"staffroom-bench|{seed}|teaching")
    _calendar(ds, teaching, district, at)
    slots = _timetable(ds, teaching, district, at, rng)
    days = _school_days(month)
    covers = _absences(ds, slots, days, at, rng)
    _lessons(ds, teaching, slots, covers, days, at)
    _pay(ds, district, month, at, rng)
    return teaching
