"""Fixtures shared by the teaching tests: school A's autumn term 2026 (1 September 2026 – 22 January 2027) with
the National Day holiday (1–7 October) and a make-up day (Saturday 26 September, taught as a Wednesday), two
classes of 2026-2027 and two teachers with their assignments. Rows are written straight to the database (the
services are tested on their own), so any teaching test can start from a known calendar and timetable."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass, Subject
from app.school.staff.models import StaffMember
from app.school.teaching.models import Closure, Term, TimetableSlot
from tests import factories

TERM_STARTS, TERM_ENDS = date(2026, 9, 1), date(2027, 1, 22)
NATIONAL_DAY = (date(2026, 10, 1), date(2026, 10, 7))
MAKEUP_DAY = date(2026, 9, 26)  # a Saturday, taught with Wednesday's timetable
MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)


def make_term(school: OrgUnit, *, name: str = "2026-2027 autumn term", starts_on: date = TERM_STARTS,
              ends_on: date = TERM_ENDS, cover_window_days: int = 10) -> Term:
    """A term written straight to the database."""
    term = Term(school=school, name=name, starts_on=starts_on, ends_on=ends_on, cover_window_days=cover_window_days)
    _db.session.add(term)
    _db.session.flush()
    return term


def make_closure(term: Term, name: str, starts_on: date, ends_on: date | None = None,
                 follows_weekday: int | None = None) -> Closure:
    """A holiday (or, with `follows_weekday`, a make-up day) written straight to the database."""
    closure = Closure(term=term, name=name, starts_on=starts_on, ends_on=ends_on or starts_on,
                      follows_weekday=follows_weekday)
    _db.session.add(closure)
    _db.session.flush()
    return closure


def make_slot(term: Term, weekday: int, period: int, school_class: SchoolClass, subject: Subject,
              staff: StaffMember) -> TimetableSlot:
    """A timetable slot written straight to the database (no rules)."""
    slot = TimetableSlot(term=term, weekday=weekday, period=period, school_class=school_class, subject=subject,
                         staff=staff)
    _db.session.add(slot)
    _db.session.flush()
    return slot


@dataclass
class Teaching:
    """School A's autumn term and the people and classes of its timetable.

    `wang` (王芳, Maths) teaches Maths to 7(2) and 7(3); `li` (李伟, Chinese) is homeroom teacher of 7(2)
    and lists Chinese; `zhao` (赵敏, Maths) has no assignment; `left` has departed; `teacher_b` works at
    school B. Each teacher of school A has a portal account (`wang_user` …)."""

    school: OrgUnit
    school_b: OrgUnit
    term: Term
    national_day: Closure
    makeup_day: Closure
    math: Subject
    chinese: Subject
    class_2: SchoolClass
    class_3: SchoolClass
    wang: StaffMember
    li: StaffMember
    zhao: StaffMember
    left: StaffMember
    teacher_b: StaffMember
    wang_user: User
    li_user: User


def _teacher(school: OrgUnit, family: str, given: str, subjects: list[Subject], number: str, *,
             department: OrgUnit | None = None, status: str = "active", account: bool = True) -> StaffMember:
    user = factories.make_user("teacher", unit=department or school) if account else None
    return factories.make_staff(school, department=department, family_name=family, given_name=given,
                                subjects=subjects, user=user, employee_number=number, status=status)


@pytest.fixture
def teaching(org) -> Teaching:
    math = factories.make_subject("MATH", "Maths")
    chinese = factories.make_subject("CHN", "Chinese")
    class_2 = factories.make_class(org.school_a, name="7(2)", grade=7)
    class_3 = factories.make_class(org.school_a, name="7(3)", grade=7)
    wang = _teacher(org.school_a, "王", "芳", [math], "A-T001", department=org.dept_a)
    li = _teacher(org.school_a, "李", "伟", [chinese], "A-T002")
    zhao = _teacher(org.school_a, "赵", "敏", [math], "A-T003")
    left = _teacher(org.school_a, "陈", "静", [math], "A-T004", status="departed", account=False)
    teacher_b = _teacher(org.school_b, "杨", "磊", [math], "B-T001", department=org.dept_b)
    for school_class in (class_2, class_3):
        factories.make_assignment(school_class, wang, subject=math, starts_on=TERM_STARTS)
    factories.make_assignment(class_2, li, starts_on=TERM_STARTS)  # homeroom
    factories.make_assignment(class_2, left, subject=math, starts_on=date(2026, 8, 1), ends_on=date(2026, 8, 31))
    term = make_term(org.school_a)
    return Teaching(
        school=org.school_a, school_b=org.school_b, term=term,
        national_day=make_closure(term, "National Day", *NATIONAL_DAY),
        makeup_day=make_closure(term, "Make-up day for National Day", MAKEUP_DAY, follows_weekday=WED),
        math=math, chinese=chinese, class_2=class_2, class_3=class_3, wang=wang, li=li, zhao=zhao, left=left,
        teacher_b=teacher_b, wang_user=wang.user, li_user=li.user,
    )


@pytest.fixture
def admin(db, org) -> User:
    """An administrator of school A."""
    return factories.make_user("admin", unit=org.school_a)


@pytest.fixture
def head(db, org) -> User:
    """A head of school A."""
    return factories.make_user("head", unit=org.school_a)


@pytest.fixture
def admin_b(db, org) -> User:
    """An administrator of school B (outside school A's scope)."""
    return factories.make_user("admin", unit=org.school_b)


def errors_of(raised) -> dict:
    """Every field message a service's error carries (one field for a plain DomainError)."""
    return getattr(raised.value, "errors", None) or {raised.value.field: raised.value.message}


@pytest.fixture
def audit_events(db):
    """`audit_events(action)`: this test's audit events of `action`."""
    from app.general.audit.models import AuditEvent

    baseline = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))
    return lambda action: list(_db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.seq > baseline).order_by(AuditEvent.seq)))
