"""What a month's pay calculation reads, loaded set-based into the frames `engine.calculate` takes.

The lesson rows are the bulk (a district month is ~700,000). The database sums them per teacher, school, scheme
segment (the days a scheme is in effect), kind and class — what prices them — so some 25,000 rows reach pandas,
on PostgreSQL through COPY straight into its CSV parser; no Python object is made per lesson.
"""
from __future__ import annotations

import io
from datetime import date

import pandas as pd
import sqlalchemy as sa

from app.extensions import db
from app.school.classes.models import Assignment, AssignmentRole, Enrollment, SchoolClass
from app.school.staff.models import StaffMember
from app.school.teaching.calendar import month_bounds
from app.school.teaching.engine import MonthInputs, SchemeInfo
from app.school.teaching.models import AwardStatus, BonusAward, BonusType, LessonKind, PayScheme

LESSON_COLUMNS = ["staff_id", "school_id", "dom", "kind", "tenths", "class_id", "lessons"]
DTYPES = {"staff_id": "int64", "school_id": "int64", "dom": "int64", "kind": "category", "tenths": "int64",
          "class_id": "int64", "lessons": "int64"}


def _ids(values) -> str:
    return ", ".join(str(int(v)) for v in values)  # integers only: safe to inline


def _segment(changes: dict[int, list[date]]) -> str:
    """SQL for the first day (of the month) of the scheme segment a lesson's day falls in: 1, or the day a scheme
    of its school starts within the month. Any day of a segment is priced by the same scheme, so the database
    can sum a segment's rows."""
    if not changes:
        return "1"
    cases = [f"WHEN l.school_id = {int(school)} AND l.day >= '{start.isoformat()}' THEN {start.day}"
             for school, starts in sorted(changes.items()) for start in sorted(starts, reverse=True)]
    return f"CASE {' '.join(cases)} ELSE 1 END"


def lesson_sql(dialect: str, school_ids: list[int], first: date, last: date, staff_id: int | None = None,
               changes: dict[int, list[date]] | None = None) -> str:
    """The month's taught lessons of these schools (one teacher's, if given), summed per teacher, school, scheme
    segment, kind and class, with the number of lesson rows behind each sum. Ints and dates are inlined as
    literals so that the same text serves COPY, which takes no parameters."""
    tenths = "(l.periods * 10)::int" if dialect == "postgresql" else "CAST(ROUND(l.periods * 10) AS INTEGER)"
    who = f" AND l.taught_by_id = {int(staff_id)}" if staff_id is not None else ""
    segment = _segment(changes or {})
    # a lesson on a day its teacher was not employed (before joining, after leaving) is no pay: the ledger is
    # wrong there, and the pages show it, but the money does not follow it
    return (f"SELECT l.taught_by_id, l.school_id, {segment} AS segment, l.kind, SUM({tenths}), "  # noqa: S608
            f"COALESCE(l.class_id, -1) AS class_key, COUNT(*) FROM lessons l "
            f"JOIN staff_members s ON s.id = l.taught_by_id "
            f"WHERE l.school_id IN ({_ids(school_ids)}) AND l.day >= '{first.isoformat()}' "
            f"AND l.day <= '{last.isoformat()}' AND l.kind <> '{LessonKind.CANCELLED.value}'{who} "
            f"AND l.day >= s.hired_on AND (s.departed_on IS NULL OR l.day <= s.departed_on) "
            f"GROUP BY l.taught_by_id, l.school_id, segment, l.kind, class_key")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in DTYPES.items()})


def read_lessons(school_ids: list[int], first: date, last: date, staff_id: int | None = None,
                 changes: dict[int, list[date]] | None = None) -> pd.DataFrame:
    """The frame of `lesson_sql`: on PostgreSQL through COPY into pandas' CSV parser."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    sql = lesson_sql(dialect, school_ids, first, last, staff_id, changes)
    if dialect == "postgresql":
        buffer = io.BytesIO()
        with connection.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return _empty()
        return pd.read_csv(buffer, header=None, names=LESSON_COLUMNS, dtype=DTYPES, engine="c")
    rows = connection.exec_driver_sql(sql).all()
    return pd.DataFrame.from_records(rows, columns=LESSON_COLUMNS).astype(DTYPES) if rows else _empty()


def scheme_infos(school_ids: list[int], last: date) -> list[SchemeInfo]:
    schemes = db.session.scalars(sa.select(PayScheme).where(PayScheme.school_id.in_(school_ids),
                                                            PayScheme.effective_from <= last))
    return [SchemeInfo(s.id, s.school_id, s.name, s.effective_from, s.standard_monthly_periods, s.overtime_rate,
                       s.homeroom_allowance, {r.kind: r.rate for r in s.rates},
                       tuple((m.basis, m.low, m.high, m.factor) for m in s.multipliers)) for s in schemes]


def _class_facts(class_ids: set[int], on: date) -> dict[int, tuple[int | None, int | None]]:
    """(students enrolled on `on`, grade) of each class."""
    if not class_ids:
        return {}
    grades = dict(db.session.execute(sa.select(SchoolClass.id, SchoolClass.grade)
                                     .where(SchoolClass.id.in_(class_ids))).all())
    sizes = dict(db.session.execute(
        sa.select(Enrollment.class_id, sa.func.count()).where(
            Enrollment.class_id.in_(class_ids), Enrollment.starts_on <= on,
            sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= on))
        .group_by(Enrollment.class_id)).all())
    return {cid: (sizes.get(cid, 0), grades.get(cid)) for cid in class_ids}


def _dom(day: date, first: date, last: date) -> int:
    return min(max(day, first), last).day


def employed_days(hired: date, departed: date | None, last_day: date | None, first: date,
                  last: date) -> tuple[int, int]:
    """The first and last day of the month (as days of the month) the person was employed; first > last when
    they were not employed at all that month (joined after it, or left before it)."""
    start = hired if hired > first else first
    end = min(d for d in (departed, last_day, last) if d is not None)
    if start > last or end < first or start > end:
        return 1, 0
    return start.day, end.day


def load_month(school_ids: list[int], month: date, *, staff_id: int | None = None,
               last_day: date | None = None) -> MonthInputs:
    """Everything the month's pay of these schools needs (one teacher's only, if `staff_id`; employment cut at
    `last_day`, if given: the departure flow's final month)."""
    first, last = month_bounds(month)
    schemes = scheme_infos(school_ids, last)
    changes: dict[int, list[date]] = {}
    for scheme in schemes:
        if first < scheme.effective_from <= last:
            changes.setdefault(scheme.school_id, []).append(scheme.effective_from)
    lessons = read_lessons(school_ids, first, min(last, last_day or last), staff_id, changes)
    homeroom_rows = db.session.execute(
        sa.select(Assignment.staff_id, Assignment.starts_on, Assignment.ends_on, SchoolClass.school_id)
        .join(SchoolClass, SchoolClass.id == Assignment.class_id)
        .where(SchoolClass.school_id.in_(school_ids), Assignment.role == AssignmentRole.HOMEROOM,
               Assignment.starts_on <= last, sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= first),
               *( [Assignment.staff_id == staff_id] if staff_id is not None else []))).all()
    homeroom = pd.DataFrame(
        [(s, _dom(a, first, last), _dom(e or last, first, last), school) for s, a, e, school in homeroom_rows],
        columns=["staff_id", "first_dom", "last_dom", "school_id"])
    award_rows = db.session.execute(
        sa.select(BonusAward.staff_id, BonusAward.id, BonusType.name, BonusAward.amount, BonusType.school_id)
        .join(BonusType, BonusType.id == BonusAward.bonus_type_id)
        .where(BonusType.school_id.in_(school_ids), BonusAward.status == AwardStatus.APPROVED,
               BonusAward.pay_month == first,
               *( [BonusAward.staff_id == staff_id] if staff_id is not None else []))).all()
    awards = pd.DataFrame([tuple(r) for r in award_rows],
                          columns=["staff_id", "award_id", "name", "amount", "school_id"])
    people = set(lessons["staff_id"].unique().tolist()) | set(homeroom["staff_id"].tolist()) \
        | set(awards["staff_id"].tolist())
    columns = (StaffMember.id, StaffMember.school_id, StaffMember.hired_on, StaffMember.departed_on)
    staff_rows = [row for row in db.session.execute(sa.select(*columns).where(StaffMember.school_id.in_(school_ids)))
                  if row.id in people]
    elsewhere = sorted(people - {row.id for row in staff_rows})  # a covering teacher of another school, rarely
    if elsewhere:
        staff_rows += db.session.execute(sa.select(*columns).where(StaffMember.id.in_(elsewhere))).all()
    staff = pd.DataFrame([(i, school, *employed_days(hired, departed, last_day, first, last))
                          for i, school, hired, departed in staff_rows],
                         columns=["staff_id", "school_id", "first_dom", "last_dom"])
    classes = _class_facts({int(c) for c in lessons["class_id"].unique().tolist() if c >= 0}, last)
    return MonthInputs(first, schemes, lessons, staff, homeroom, awards, classes)



def for_school(inputs: MonthInputs, school_id: int) -> MonthInputs:
    """One school's share of a month loaded for many: its lessons, homeroom assignments and bonuses, and the
    people they concern — exactly what loading that school alone gives."""
    lessons = inputs.lessons[inputs.lessons["school_id"] == school_id]
    homeroom = inputs.homeroom[inputs.homeroom["school_id"] == school_id]
    awards = inputs.awards[inputs.awards["school_id"] == school_id]
    people = set(lessons["staff_id"].tolist()) | set(homeroom["staff_id"].tolist()) | set(awards["staff_id"].tolist())
    staff = inputs.staff[inputs.staff["staff_id"].isin(people)]
    return MonthInputs(inputs.month, [s for s in inputs.schemes if s.school_id == school_id], lessons, staff,
                       homeroom, awards, inputs.classes)
