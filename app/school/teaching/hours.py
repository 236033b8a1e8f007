"""Teaching hours: periods taught per teacher per ISO week, month or whole range, by lesson kind (pandas).

The database sums the periods (as integer tenths: exact) per teacher, kind and, when weeks or months are wanted, per
day; pandas then buckets the days. Only the needed columns are read, the school or department filter is a join on
staff_members, and nothing loops per lesson in Python. Periods leave this module as exact Decimals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.core.names import full_name
from app.extensions import db
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.staff.models import StaffMember, StaffStatus
from app.school.teaching.calendar import iso_week_start
from app.school.teaching.models import Lesson, LessonKind

KINDS = tuple(kind.value for kind in LessonKind if kind != LessonKind.CANCELLED)  # the kinds that count
COLUMNS = ["staff_id", "day", "kind", "tenths"]
ZERO = Decimal("0")


def periods_of(tenths) -> Decimal:
    """Tenths of a period (an integer) as an exact Decimal number of periods."""
    return Decimal(int(tenths)) / 10


@dataclass(frozen=True)
class Filter:
    """Whose lessons: some teachers, or the teachers of a school or a department (both may be combined)."""

    staff_ids: tuple[int, ...] | None = None
    school_id: int | None = None
    department_id: int | None = None

    @classmethod
    def for_unit(cls, unit: OrgUnit) -> Filter:
        if unit.kind == OrgUnitKind.DEPARTMENT:
            return cls(department_id=unit.id)
        return cls(school_id=unit.id)


def _statement(where: Filter, first: date, last: date, *, by_day: bool) -> sa.Select:
    tenths = sa.func.sum(sa.cast(sa.func.round(Lesson.periods * 10), sa.Integer))
    keys = [Lesson.taught_by_id, *([Lesson.day] if by_day else []), Lesson.kind]
    stmt = (sa.select(*keys, tenths).where(Lesson.day >= first, Lesson.day <= last,
                                          Lesson.kind != LessonKind.CANCELLED, Lesson.taught_by_id.is_not(None))
            .group_by(*keys))
    if where.school_id is not None or where.department_id is not None:
        stmt = stmt.join(StaffMember, StaffMember.id == Lesson.taught_by_id)
        if where.school_id is not None:
            stmt = stmt.where(StaffMember.school_id == where.school_id)
        if where.department_id is not None:
            stmt = stmt.where(StaffMember.department_id == where.department_id)
    if where.staff_ids is not None:
        stmt = stmt.where(Lesson.taught_by_id.in_(where.staff_ids or (0,)))
    return stmt


def hours_frame(where: Filter, first: date, last: date, *, by_day: bool = True) -> pd.DataFrame:
    """Periods taught (in tenths) per teacher, kind and, with `by_day`, day: columns staff_id, day (datetime64, only
    with `by_day`), kind, tenths (int64). Cancelled lessons count for nobody."""
    columns = COLUMNS if by_day else [c for c in COLUMNS if c != "day"]
    rows = db.session.execute(_statement(where, first, last, by_day=by_day)).all()
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
    frame["staff_id"] = frame["staff_id"].astype("int64")
    frame["tenths"] = frame["tenths"].astype("int64")
    frame["kind"] = frame["kind"].astype("object")
    if by_day:
        frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _totals(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, Decimal]]:
    """{(key values): {kind: periods}} from a frame with `keys`, kind and tenths (one groupby, no loop per lesson)."""
    if frame.empty:
        return {}
    summed = frame.groupby([*keys, "kind"], sort=True)["tenths"].sum()
    result: dict[tuple, dict[str, Decimal]] = {}
    for index, tenths in summed.items():  # one item per (teacher, bucket, kind): a few per teacher
        *key, kind = index if isinstance(index, tuple) else (index,)
        result.setdefault(tuple(key), {})[kind] = periods_of(tenths)
    return result


def _bucketed(frame: pd.DataFrame, grain: str) -> pd.DataFrame:
    days = frame["day"]
    if grain == "week":
        bucket = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    else:
        bucket = days.dt.to_period("M").dt.to_timestamp()
    return frame.assign(bucket=bucket.dt.date)


def weekly(frame: pd.DataFrame) -> dict[int, dict[date, dict[str, Decimal]]]:
    """Per teacher, per ISO week (its Monday), periods by kind (a frame of `hours_frame(by_day=True)`)."""
    return _nest(_totals(_bucketed(frame, "week"), ["staff_id", "bucket"]) if not frame.empty else {})


def monthly(frame: pd.DataFrame) -> dict[int, dict[date, dict[str, Decimal]]]:
    """Per teacher, per month (its first day), periods by kind."""
    return _nest(_totals(_bucketed(frame, "month"), ["staff_id", "bucket"]) if not frame.empty else {})


def overall(frame: pd.DataFrame) -> dict[int, dict[str, Decimal]]:
    """Per teacher, periods by kind over the whole frame (a term, a month: whatever range was read)."""
    return {key[0]: kinds for key, kinds in _totals(frame, ["staff_id"]).items()}


def _nest(totals: dict[tuple, dict[str, Decimal]]) -> dict[int, dict[date, dict[str, Decimal]]]:
    nested: dict[int, dict[date, dict[str, Decimal]]] = {}
    for (staff_id, bucket), kinds in totals.items():
        nested.setdefault(int(staff_id), {})[bucket] = kinds
    return nested


# --- what the pages show ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekHours:
    week: date  # the Monday
    by_kind: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.by_kind.values(), ZERO)


@dataclass
class TeacherHours:
    staff_id: int
    name: str
    employee_number: str
    department: str
    by_kind: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum(self.by_kind.values(), ZERO)


def week_starts(first: date, last: date) -> list[date]:
    """The Mondays of every ISO week that overlaps [first, last]."""
    weeks, monday = [], iso_week_start(first)
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def my_hours(staff: StaffMember, first: date, last: date) -> list[WeekHours]:
    """The teacher's periods per ISO week from `first` to `last`, by kind; weeks without lessons included."""
    per_week = weekly(hours_frame(Filter(staff_ids=(staff.id,)), first, last)).get(staff.id, {})
    return [WeekHours(monday, per_week.get(monday, {})) for monday in week_starts(first, last)]


def sum_kinds(rows) -> dict[str, Decimal]:
    """Periods by kind added up over rows with `by_kind`."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        for kind, periods in row.by_kind.items():
            totals[kind] = totals.get(kind, ZERO) + periods
    return totals


def department_overview(unit: OrgUnit, first: date, last: date, *, sort: str = "name") -> list[TeacherHours]:
    """One row per teacher of the school or department: periods by kind from `first` to `last` and the total.
    Current teachers are listed even without a lesson; departed ones only when they taught in the range.
    `sort`: "name", or "total" (most first)."""
    where = Filter.for_unit(unit)
    per_teacher = overall(hours_frame(where, first, last, by_day=False))
    department = aliased(OrgUnit)
    stmt = (sa.select(StaffMember.id, StaffMember.family_name, StaffMember.given_name, StaffMember.employee_number,
                      department.name)
            .outerjoin(department, department.id == StaffMember.department_id)
            .where(StaffMember.school_id == where.school_id if where.school_id is not None
                   else StaffMember.department_id == where.department_id,
                   sa.or_(StaffMember.status != StaffStatus.DEPARTED, StaffMember.id.in_(list(per_teacher) or [0]))))
    rows = [TeacherHours(i, full_name(family, given), number, dept or "", per_teacher.get(i, {}))
            for i, family, given, number, dept in db.session.execute(stmt)]
    rows.sort(key=lambda r: (r.name, r.employee_number))
    if sort == "total":
        rows.sort(key=lambda r: r.total, reverse=True)
    return rows
