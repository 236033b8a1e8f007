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
