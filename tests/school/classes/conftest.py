"""Fixtures of the classes tests: a school year with subjects, classes, teachers and students in two schools."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from app.general.org.models import OrgUnit
from app.school.classes.models import SchoolClass, Subject
from app.school.staff.models import StaffMember
from tests import factories

SEP1 = date(2026, 9, 1)


@dataclass
class Year:
    """School A and B of `org`, each with a class and two teachers; MATH and ENG in the catalogue."""

    school_a: OrgUnit
    school_b: OrgUnit
    math: Subject
    english: Subject
    class_a: SchoolClass
    class_b: SchoolClass
    teacher_a: StaffMember  # maths, 16 periods at most
    teacher_a2: StaffMember  # maths and English
    teacher_b: StaffMember


@pytest.fixture
def year(org) -> Year:
    math = factories.make_subject("MATH", "Maths")
    english = factories.make_subject("ENG", "English")
    return Year(
        school_a=org.school_a, school_b=org.school_b, math=math, english=english,
        class_a=factories.make_class(org.school_a, name="Grade 7 Class 1"),
        class_b=factories.make_class(org.school_b, name="Grade 7 Class 1"),
        teacher_a=factories.make_staff(org.school_a, department=org.dept_a, family_name="Li", given_name="Wei",
                                       subjects=[math]),
        teacher_a2=factories.make_staff(org.school_a, family_name="Johnson", given_name="Emily",
                                        subjects=[math, english]),
        teacher_b=factories.make_staff(org.school_b, department=org.dept_b, family_name="Yang", given_name="Lei",
                                       subjects=[math]),
    )
