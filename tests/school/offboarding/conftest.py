"""Fixtures of the departure tests: school A with a departing Maths teacher (王芳) who teaches Maths to two
classes and is homeroom teacher of one, two colleagues who could take over, students and their guardians (one
guardian with a child in each class), a term with a timetable, and the admin and head who work the case."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from app.extensions import db as _db
from app.general.auth.models import User
from app.school.classes.models import Assignment, Guardian, SchoolClass, Student, Subject
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.teaching.conftest import MON, TUE, WED, make_slot, make_term

TODAY = date(2026, 12, 7)


@dataclass
class Departure:
    maths: Subject
    class_a: SchoolClass
    class_b: SchoolClass
    leaving: StaffMember
    leaving_user: User
    colleague: StaffMember
    other: StaffMember
    maths_a: Assignment
    maths_b: Assignment
    homeroom_a: Assignment
    students: list[Student]
    guardians: list[Guardian]
    twin_guardian: Guardian
    admin: User
    head: User


@pytest.fixture
def departure(db, org) -> Departure:
    maths = factories.make_subject("MATH", "Maths")
    leaving_user = factories.make_user("teacher", unit=org.school_a)
    leaving = factories.make_staff(org.school_a, department=org.dept_a, user=leaving_user, family_name="王",
                                   given_name="芳", subjects=[maths], hired_on=date(2020, 9, 1))
    colleague = factories.make_staff(org.school_a, department=org.dept_a, family_name="Chen", given_name="Jing",
                                     subjects=[maths], max_weekly_periods=20)
    other = factories.make_staff(org.school_a, family_name="Zhao", given_name="Lei", subjects=[maths],
                                 max_weekly_periods=20)
    class_a = factories.make_class(org.school_a, name="7(2)")
    class_b = factories.make_class(org.school_a, name="7(3)")
    maths_a = factories.make_assignment(class_a, leaving, subject=maths, weekly_periods=5)
    maths_b = factories.make_assignment(class_b, leaving, subject=maths, weekly_periods=5)
    homeroom_a = factories.make_assignment(class_a, leaving, weekly_periods=2)
    students, guardians = [], []
    for n in range(3):
        for school_class in (class_a, class_b):
            student = factories.make_student(org.school_a, school_class=school_class,
                                             given_name=f"{school_class.name}-{n}")
            students.append(student)
            guardians.append(factories.make_guardian(student))
    twin_a = factories.make_student(org.school_a, school_class=class_a, given_name="Twin A")
    twin_b = factories.make_student(org.school_a, school_class=class_b, given_name="Twin B")
    twin_guardian = factories.make_guardian(twin_a, twin_b, phone="+8613800000001", preferred_channel="sms",
                                            locale="en")
    term = make_term(org.school_a)
    make_slot(term, MON, 1, class_a, maths, leaving)
    make_slot(term, TUE, 2, class_b, maths, leaving)
    make_slot(term, WED, 3, class_b, maths, colleague)  # not a clash: another class time
    admin = factories.make_user("admin", unit=org.school_a)
    head = factories.make_user("head", unit=org.school_a)
    _db.session.flush()
    return Departure(maths, class_a, class_b, leaving, leaving_user, colleague, other, maths_a, maths_b, homeroom_a,
                     students + [twin_a, twin_b], guardians, twin_guardian, admin, head)


# --- service-test helpers (appended for test_notice_rule / test_cases / test_plan / test_notices / test_access /
# test_settlement / test_races_pg) ---------------------------------------------------------------------------

LAST_DAY = date(2027, 1, 8)  # a Friday, later than the statutory earliest day (2027-01-06) for notice on TODAY


SETTLEMENT_DAY = date(2030, 1, 7)  # after every test's last working day


@pytest.fixture(autouse=True)
def _settling_after_the_last_day(monkeypatch) -> None:
    """Settlement waits for the last working day; the tests settle on a day after every last day they use (the
    guard itself is tested with its own day)."""
    monkeypatch.setattr("app.school.offboarding.services.settlement.local_today", lambda: SETTLEMENT_DAY)


@pytest.fixture
def today(monkeypatch) -> date:
    """The services' "today" pinned to TODAY (the schools' calendar day; the machine's clock may be elsewhere)."""
    for target in ("app.school.offboarding.services.cases.local_today",
                   "app.school.offboarding.services.plan.local_today"):
        monkeypatch.setattr(target, lambda: TODAY)
    return TODAY


def make_contract(staff: StaffMember, *, kind: str = "labour", terms: dict | None = None,
                  starts_on: date = date(2020, 9, 1), ends_on: date | None = None, status: str = "active"):
    """A contract of `staff` (party "StaffMember") inserted straight into the database, in force by default."""
    from app.core.models import utcnow
    from app.general.contracts.models import Contract
    from tests.general.contracts.factories import make_template

    template = make_template(staff.school, kind=kind)
    contract = Contract(template=template, template_version=template.version, kind=kind, employer=staff.school,
                        party_type="StaffMember", party_id=staff.id, party_user_id=staff.user_id,
                        party_name=staff.full_name, title=f"{kind} contract", starts_on=starts_on, ends_on=ends_on,
                        terms=dict(terms or {}), status=status, rendered_text="The contract.",
                        rendered_sha256="0" * 64, activated_at=utcnow())
    _db.session.add(contract)
    _db.session.flush()
    return contract


def open_case(d: Departure, *, kind: str = "resignation", last_day: date = LAST_DAY, actor=None, **kwargs):
    """A submitted case (filed by the admin unless `actor` is given); call with the `today` fixture active."""
    from app.school.offboarding.services import cases

    return cases.submit(d.leaving, kind=kind, last_working_day=last_day, actor=actor or d.admin, **kwargs)


def to_handover(d: Departure, **kwargs):
    """A case approved by the head and in handover (its checklist drawn)."""
    from app.school.offboarding.services import cases

    case = open_case(d, **kwargs)
    cases.approve(case, actor=d.head)
    cases.start_handover(case, actor=d.admin)
    return case


def choose_all(d: Departure, case, to: StaffMember | None = None) -> None:
    """Every assignment of the departing teacher handed to `to` (the colleague by default)."""
    from app.school.offboarding.services import plan

    for line in plan.lines(case):
        plan.choose(case, line.assignment, to or d.colleague, actor=d.admin)


def to_reassigned(d: Departure, **kwargs):
    """A case whose plan (everything to the colleague) is confirmed: notices written to the outbox."""
    from app.school.offboarding.services import plan

    case = to_handover(d, **kwargs)
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    return case


def mark_outbox(case, status: str = "sent", *, guardian_ids=None, error: str | None = None) -> int:
    """Set the external deliveries (e-mail/SMS) of the case's notices to `status`, as the worker would."""
    import sqlalchemy as sa

    from app.general.notifications.models import Notification

    stmt = sa.update(Notification).where(Notification.idempotency_key.like(f"departure:{case.id}:guardian:%"),
                                         Notification.channel != "inbox")
    if guardian_ids is not None:
        stmt = stmt.where(sa.or_(*[Notification.idempotency_key.like(f"departure:{case.id}:guardian:{g}:%")
                                   for g in guardian_ids]))
    return _db.session.execute(stmt.values(status=status, last_error=error)).rowcount


def to_access_revoked(d: Departure, **kwargs):
    """A case carried through reassignment and delivered notices to access revoked by the beat task."""
    from datetime import UTC, datetime, timedelta

    from app.school.offboarding.services import access

    case = to_reassigned(d, **kwargs)
    mark_outbox(case)
    access.tick(now=datetime.combine(case.last_working_day + timedelta(days=1), datetime.min.time(),
                                     tzinfo=UTC) + timedelta(hours=1))
    _db.session.refresh(case)
    assert case.status == "access_revoked", case.status
    return case


def tick_off_all(d: Departure, case) -> None:
    from app.school.offboarding.services import checklist

    for item in case.items:
        checklist.complete_item(item, actor=d.admin, evidence="done", amount="0" if item.is_money else None)
