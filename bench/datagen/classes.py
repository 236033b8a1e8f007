"""Classes of one academic year and their teachers: a homeroom teacher and 3–5 subject teachers each.

Teachers are picked by spare capacity (largest first) so that nobody exceeds their maximum weekly
periods; a few subject assignments carry history (an ended assignment, then the current one).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bench.datagen import Dataset, split_evenly
from bench.datagen.people import People, StaffInfo

HOMEROOM_PERIODS = 2
HISTORY_SHARE = 0.02  # subject assignments that replaced an earlier teacher this year

# (core subjects, electives) with weekly periods, by the first grade of the band
CURRICULUM = {
    1: ((("CHN", 6), ("MATH", 5), ("ENG", 3)), (("SCI", 2), ("MUS", 2), ("ART", 2), ("PE", 3), ("ETH", 2))),
    7: ((("CHN", 5), ("MATH", 5), ("ENG", 5)),
        (("PHY", 3), ("BIO", 2), ("HIST", 2), ("GEO", 2), ("ETH", 2), ("PE", 3), ("IT", 1))),
    10: ((("CHN", 5), ("MATH", 5), ("ENG", 5)),
         (("PHY", 4), ("CHEM", 3), ("BIO", 3), ("HIST", 2), ("GEO", 2), ("ETH", 2), ("PE", 2), ("IT", 2))),
}
CLASS_COLUMNS = ("id", "school_id", "academic_year", "grade", "name", "created_at", "version")
ASSIGNMENT_COLUMNS = ("id", "class_id", "staff_id", "role", "subject_id", "weekly_periods", "starts_on", "ends_on",
                      "end_reason", "qualification_override", "created_at")


@dataclass
class ClassInfo:
    id: int
    school_id: int
    grade: int


@dataclass
class Classes:
    classes: list[ClassInfo]
    unfilled: int  # subject or homeroom posts no teacher had room for


def _band(grade: int) -> int:
    return 10 if grade >= 10 else 7 if grade >= 7 else 1


class _Staffing:
    """Who may still take periods in one school: remaining capacity and homeroom duty."""

    def __init__(self, staff: list[StaffInfo]):
        teaching = [s for s in staff if s.status != "departed" and s.max_periods > 0]
        self.remaining = {s.id: s.max_periods for s in teaching}
        self.by_subject: dict[str, list[StaffInfo]] = {}
        for s in teaching:
            for code in s.subjects:
                self.by_subject.setdefault(code, []).append(s)
        self.homeroom: set[int] = set()
        self.teaching = teaching

    def pick(self, candidates: list[StaffInfo], periods: int) -> StaffInfo | None:
        fitting = [s for s in candidates if self.remaining[s.id] >= periods]
        if not fitting:
            return None
        chosen = max(fitting, key=lambda s: (self.remaining[s.id], -s.id))
        self.remaining[chosen.id] -= periods
        return chosen

    def pick_homeroom(self, preferred: list[StaffInfo]) -> StaffInfo | None:
        free = [s for s in preferred if s.id not in self.homeroom and s.status == "active"]
        chosen = self.pick(free, HOMEROOM_PERIODS) if free else None
        if chosen is None:
            chosen = self.pick([s for s in self.teaching if s.id not in self.homeroom and s.status == "active"],
                               HOMEROOM_PERIODS)
        if chosen is not None:
            self.homeroom.add(chosen.id)
        return chosen


def _class_rows(ds: Dataset, people: People) -> list[ClassInfo]:
    at, year = ds.created_at, ds.academic_year
    classes = []
    for school, count in zip(people.schools, split_evenly(ds.scale.classes, len(people.schools)), strict=True):
        grades = list(school.grades)
        per_grade: dict[int, int] = {}
        for j in range(count):
            grade = grades[j * len(grades) // count]
            per_grade[grade] = per_grade.get(grade, 0) + 1
            cid = ds.add("school_classes", (ds.next_id("school_classes"), school.id, year, grade,
                                            f"Grade {grade} Class {per_grade[grade]}", at, 1))
            classes.append(ClassInfo(cid, school.id, grade))
    return classes


def _assign(ds: Dataset, cls: ClassInfo, staff: StaffInfo, subject_id: int | None, periods: int,
            starts_on, ends_on=None, reason: str | None = None) -> None:
    role = "subject" if subject_id else "homeroom"
    ds.add("assignments", (ds.next_id("assignments"), cls.id, staff.id, role, subject_id, periods, starts_on,
                           ends_on, reason, None, ds.created_at))


def _subject_post(ds: Dataset, people: People, cls: ClassInfo, staffing: _Staffing, code: str, periods: int,
                  rng) -> StaffInfo | None:
    """One subject teacher for the class (with, now and then, the colleague they took over from)."""
    pool = staffing.by_subject.get(code, [])
    teacher = staffing.pick(pool, periods)
    if teacher is None:
        return None
    starts = ds.year_start
    if rng.random() < HISTORY_SHARE and len(pool) > 1:
        before = rng.choice([s for s in pool if s.id != teacher.id])
        ended = ds.year_start + timedelta(days=rng.randint(7, 30))
        _assign(ds, cls, before, people.subject_ids[code], periods, starts, ended, "timetable change")
        starts = ended + timedelta(days=1)
    _assign(ds, cls, teacher, people.subject_ids[code], periods, starts)
    return teacher


def _staff_class(ds: Dataset, people: People, cls: ClassInfo, staffing: _Staffing, rng) -> int:
    """Core subject teachers, 0–2 electives (another elective when one has no teacher with room), then the
    homeroom teacher of one class; returns how many posts stayed empty."""
    core, electives = CURRICULUM[_band(cls.grade)]
    wanted = rng.choice((0, 1, 2))
    unfilled, teachers = 0, []
    for code, periods in core:
        teacher = _subject_post(ds, people, cls, staffing, code, periods, rng)
        unfilled += teacher is None
        teachers += [teacher] if teacher else []
    for code, periods in rng.sample(electives, len(electives)):
        if wanted == 0:
            break
        teacher = _subject_post(ds, people, cls, staffing, code, periods, rng)
        wanted -= teacher is not None
    homeroom = staffing.pick_homeroom(teachers)
    if homeroom is None:
        return unfilled + 1
    _assign(ds, cls, homeroom, None, HOMEROOM_PERIODS, ds.year_start)
    return unfilled


def build_classes(ds: Dataset, people: People) -> Classes:
    """`scale.classes` classes spread over the schools' grades, each staffed within teachers' maxima."""
    ds.table("school_classes", CLASS_COLUMNS)
    ds.table("assignments", ASSIGNMENT_COLUMNS)
    classes = _class_rows(ds, people)
    rng = ds.rng("assignments")
    unfilled = 0
    for school in people.schools:
        staffing = _Staffing([s for s in people.staff if s.school_id == school.id])
        for cls in (c for c in classes if c.school_id == school.id):
            unfilled += _staff_class(ds, people, cls, staffing, rng)
    return Classes(classes, unfilled)
