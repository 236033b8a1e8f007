"""Fixtures and builders shared by the pay tests.

Two kinds of helpers:

- in memory, for the engine (`scheme_info`, `month_inputs`): `engine.calculate` is pure, so its tests build
  `MonthInputs` frames directly and need no database;
- in the database (`pay_school` fixture, `save_test_scheme`, `put_lesson`): school A's autumn term 2026 with
  National Day (1–7 October), two classes, teachers with portal accounts, and a timetable in which Wang teaches
  7(2) Maths on Monday, Wednesday and Friday, period 2 (ten lessons in October 2026).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass, Subject
from app.school.staff.models import StaffMember
from app.school.teaching.engine import MonthInputs, SchemeInfo
from app.school.teaching.models import Closure, Lesson, LessonKind, PayScheme, Term, TimetableSlot
from tests import factories

TERM_STARTS, TERM_ENDS = date(2026, 9, 1), date(2027, 1, 22)
NATIONAL_DAY = (date(2026, 10, 1), date(2026, 10, 7))
OCTOBER = date(2026, 10, 1)
MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)
D = Decimal


# --- in memory (engine) -------------------------------------------------------------------------------------

KINDS = ("regular", "cover", "extra", "open_class", "invigilation", "homeroom")


def scheme_info(scheme_id: int = 1, *, school_id: int = 1, effective_from: date = date(2026, 1, 1),
                load: str = "10", overtime: str = "30", allowance: str = "600", rates: dict | None = None,
                multipliers: tuple = ()) -> SchemeInfo:
    """A scheme for the engine; `rates` default to 50 for every kind."""
    table = {kind: D("50") for kind in KINDS}
    table.update({k: D(str(v)) for k, v in (rates or {}).items()})
    return SchemeInfo(scheme_id, school_id, f"scheme {scheme_id}", effective_from, D(load), D(overtime),
                      D(allowance), table, tuple((b, lo, hi, D(str(f))) for b, lo, hi, f in multipliers))


def month_inputs(month: date, schemes: list[SchemeInfo], *, lessons=(), staff=(), homeroom=(), awards=(),
                 classes: dict | None = None, school_id: int = 1) -> MonthInputs:
    """MonthInputs from plain tuples.

    lessons: (staff_id, dom, kind, tenths[, class_id]); staff: (staff_id, first_dom, last_dom) — every teacher
    named in lessons/homeroom/awards must be listed; homeroom: (staff_id, first_dom, last_dom);
    awards: (staff_id, award_id, name, Decimal amount).
    """
    lesson_rows = [(s, school_id, dom, kind, tenths, rest[0] if rest else -1)
                   for s, dom, kind, tenths, *rest in lessons]
    frame = pd.DataFrame(lesson_rows, columns=["staff_id", "school_id", "dom", "kind", "tenths", "class_id"])
    frame = frame.astype({"staff_id": "int64", "school_id": "int64", "dom": "int64", "kind": "category",
                          "tenths": "int64", "class_id": "int64"})
    staff_frame = pd.DataFrame([(s, school_id, f, last) for s, f, last in staff],
                               columns=["staff_id", "school_id", "first_dom", "last_dom"])
    homeroom_frame = pd.DataFrame(list(homeroom), columns=["staff_id", "first_dom", "last_dom"])
    award_frame = pd.DataFrame(list(awards), columns=["staff_id", "award_id", "name", "amount"])
    return MonthInputs(month, schemes, frame, staff_frame, homeroom_frame, award_frame, dict(classes or {}))


def line_of(lines, staff_id: int):
    return next(line for line in lines if line.staff_id == staff_id)


# --- in the database --------------------------------------------------------------------------------------------


@dataclass
class PaySchool:
    """School A's autumn term; `wang` (Maths, teaches 7(2) and 7(3)) has the timetable Mon/Wed/Fri period 2 in 7(2);
    `li` (Maths) is homeroom teacher of 7(2); `zhao` (Maths, no class); `chen` (Chinese). Each has a portal
    account. `admin` manages school A's pay, `head` approves it."""

    school: OrgUnit
    admin: User
    head: User
    term: Term
    math: Subject
    chinese: Subject
    class_2: SchoolClass
    class_3: SchoolClass
    wang: StaffMember
    li: StaffMember
    zhao: StaffMember
    chen: StaffMember
    slots: list[TimetableSlot]


def make_slot(term: Term, weekday: int, period: int, school_class: SchoolClass, subject: Subject,
              staff: StaffMember) -> TimetableSlot:
    slot = TimetableSlot(term=term, weekday=weekday, period=period, school_class=school_class, subject=subject,
                         staff=staff)
    _db.session.add(slot)
    _db.session.flush()
    return slot


def _teacher(school, family, given, subjects, **kwargs) -> StaffMember:
    return factories.make_staff(school, family_name=family, given_name=given, subjects=subjects,
                                user=factories.make_user("teacher", unit=school), **kwargs)


@pytest.fixture
def pay_school(org) -> PaySchool:
    school = org.school_a
    admin = factories.make_user("admin", unit=school)
    head = factories.make_user("head", unit=school)
    math = factories.make_subject("MATH", "Maths")
    chinese = factories.make_subject("CHN", "Chinese")
    class_2 = factories.make_class(school, name="7(2)", grade=7)
    class_3 = factories.make_class(school, name="7(3)", grade=7)
    wang = _teacher(school, "Wang", "Fang", [math])
    li = _teacher(school, "Li", "Lei", [math])
    zhao = _teacher(school, "Zhao", "Min", [math])
    chen = _teacher(school, "Chen", "Jing", [chinese])
    for school_class in (class_2, class_3):
        factories.make_assignment(school_class, wang, subject=math, starts_on=TERM_STARTS)
    factories.make_assignment(class_2, li, starts_on=TERM_STARTS)  # homeroom
    term = Term(school=school, name="Autumn 2026", starts_on=TERM_STARTS, ends_on=TERM_ENDS)
    term.closures.append(Closure(name="National Day", starts_on=NATIONAL_DAY[0], ends_on=NATIONAL_DAY[1]))
    _db.session.add(term)
    _db.session.flush()
    slots = [make_slot(term, weekday, 2, class_2, math, wang) for weekday in (MON, WED, FRI)]
    return PaySchool(school, admin, head, term, math, chinese, class_2, class_3, wang, li, zhao, chen, slots)


SCHEME_DATA = {"name": "2026 scheme", "effective_from": "2026-09-01", "standard_monthly_periods": "10",
               "overtime_rate": "30", "homeroom_allowance": "600", "point_value": "5", "rate_regular": "50",
               "rate_cover": "60", "rate_extra": "55", "rate_open_class": "100", "rate_invigilation": "20",
               "rate_homeroom": "40"}


def save_test_scheme(school: OrgUnit, actor, **overrides) -> PayScheme:
    from app.school.teaching.services import schemes

    return schemes.save_scheme(school, {**SCHEME_DATA, **overrides}, actor)


def put_lesson(ps: PaySchool, staff: StaffMember, day: date, period: int, *, kind: str = LessonKind.EXTRA,
               periods: str = "1", school_class: SchoolClass | None = None) -> Lesson:
    """A ledger row written straight to the database (no rules): for pay tests that need exact inputs."""
    lesson = Lesson(school_id=ps.school.id, term_id=ps.term.id, day=day, period=period, kind=str(kind),
                    class_id=school_class.id if school_class else None, scheduled_staff_id=staff.id,
                    taught_by_id=staff.id, periods=D(periods))
    _db.session.add(lesson)
    _db.session.flush()
    return lesson


def lessons_of(staff_id: int | None = None, *, first: date | None = None, last: date | None = None,
               **filters) -> list[Lesson]:
    stmt = sa.select(Lesson).order_by(Lesson.day, Lesson.period)
    if staff_id is not None:
        stmt = stmt.where(Lesson.taught_by_id == staff_id)
    if first is not None:
        stmt = stmt.where(Lesson.day >= first)
    if last is not None:
        stmt = stmt.where(Lesson.day <= last)
    for name, value in filters.items():
        stmt = stmt.where(getattr(Lesson, name) == value)
    return list(_db.session.scalars(stmt))


def locked_run(ps: PaySchool, month: date):
    """The school's pay for `month` calculated, approved by the head and locked (a scheme must exist)."""
    from app.school.teaching.services import payruns

    run = payruns.open_run(ps.school, month, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    payruns.lock_run(run, ps.admin)
    return run
