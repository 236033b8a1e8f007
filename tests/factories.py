"""Test data builders: org units, users. Plain functions that add and flush."""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import User, UserScope
from app.general.org.models import OrgUnit

_seq = itertools.count(1)
TEST_PASSWORD = "correct horse battery staple"


def make_unit(kind: str, name: str, parent: OrgUnit | None = None, code: str | None = None) -> OrgUnit:
    unit = OrgUnit(kind=kind, name=name, code=code or f"{kind[:3].upper()}{next(_seq)}", parent=parent)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


@dataclass
class District:
    district: OrgUnit
    school_a: OrgUnit
    school_b: OrgUnit
    dept_a: OrgUnit
    dept_b: OrgUnit


def make_district() -> District:
    district = make_unit("district", "Test District")
    school_a = make_unit("school", "School A", district)
    school_b = make_unit("school", "School B", district)
    return District(
        district, school_a, school_b,
        make_unit("department", "Maths A", school_a), make_unit("department", "Maths B", school_b),
    )


@functools.cache
def _hashed(password: str) -> str:
    """One argon2id hash per distinct test password: hashing costs ~0.2 s, and factories make thousands of users.
    (Unique salts are the password module's own test, which calls it directly.)"""
    from app.general.auth import passwords

    return passwords.hash_password(password)


def make_user(role: str = "teacher", *, unit: OrgUnit | None = None, email: str | None = None,
              password: str | None = TEST_PASSWORD, locale: str | None = "en", totp: bool = True) -> User:

    n = next(_seq)
    user = User(
        email=email or f"{role}{n}@example.test",
        display_name=f"{role.title()} {n}",
        role=role,
        locale=locale,
        password_hash=_hashed(password) if password else None,
    )
    if totp and role in ("admin", "head"):
        import pyotp

        user.totp_secret = pyotp.random_base32()
        user.totp_enabled_at = utcnow()
    db.session.add(user)
    if unit is not None:
        user.scopes.append(UserScope(org_unit=unit))
    db.session.flush()
    return user


def log_in(client, user: User, *, fresh: bool = True, second_factor: bool = True) -> None:
    """Put an authenticated session into the test client's cookie, as the login page would."""
    now = utcnow().isoformat()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        sess["_auth_at"] = now
        sess["_last_seen"] = now
        if fresh:
            sess["_fresh_at"] = now
        sess["_2fa_ok"] = second_factor


def make_subject(code: str | None = None, name: str | None = None, *, is_active: bool = True):
    """A subject of the district catalogue (unique code)."""
    from app.school.classes.models import Subject

    n = next(_seq)
    subject = Subject(code=code or f"SUB{n}", name=name or f"Subject {n}", is_active=is_active)
    db.session.add(subject)
    db.session.flush()
    return subject


def make_staff(school: OrgUnit | None = None, *, department: OrgUnit | None = None, user: User | None = None,
               employee_number: str | None = None, family_name: str = "Teacher", given_name: str | None = None,
               email: str | None = None, hired_on=None, probation_ends_on=None, status: str = "active",
               max_weekly_periods: int = 16, subjects=()):
    """A staff member in `school` (or the school of `department`), optionally linked to `user`."""
    from datetime import date

    from app.school.staff.models import StaffMember

    n = next(_seq)
    staff = StaffMember(
        school=school or department.parent, department=department, user=user,
        employee_number=employee_number or f"E{n:05d}", family_name=family_name, given_name=given_name or f"T{n}",
        email=email, hired_on=hired_on or date(2020, 9, 1), probation_ends_on=probation_ends_on, status=status,
        max_weekly_periods=max_weekly_periods,
    )
    staff.subjects = list(subjects)
    db.session.add(staff)
    db.session.flush()
    return staff


# --- classes (the classes module's builders) -----------------------------------------------------------------


def make_class(school: OrgUnit, *, name: str | None = None, academic_year: str = "2026-2027", grade: int = 7):
    """A class of `school` (direct insert: no rules, no audit)."""
    from app.school.classes.models import SchoolClass

    school_class = SchoolClass(school=school, academic_year=academic_year, grade=grade,
                               name=name or f"Grade {grade} Class {next(_seq)}")
    db.session.add(school_class)
    db.session.flush()
    return school_class


def make_student(school: OrgUnit, *, family_name: str = "Student", given_name: str | None = None,
                 student_number: str | None = None, school_class=None, starts_on=None, is_active: bool = True):
    """A student of `school`, enrolled in `school_class` from `starts_on` (default 2026-09-01) when given."""
    from datetime import date

    from app.school.classes.models import Enrollment, Student

    n = next(_seq)
    student = Student(school=school, student_number=student_number or f"S{n:06d}", family_name=family_name,
                      given_name=given_name or f"S{n}", is_active=is_active)
    db.session.add(student)
    if school_class is not None:
        db.session.add(Enrollment(student=student, school_class=school_class, starts_on=starts_on or date(2026, 9, 1)))
    db.session.flush()
    return student


def make_guardian(*students, full_name: str | None = None, email: str | None = None, phone: str | None = None,
                  user: User | None = None, relationship: str = "mother", preferred_channel: str = "email",
                  locale: str = "zh"):
    """A guardian of each of `students`, optionally linked to a parent account."""
    from app.school.classes.models import Guardian, StudentGuardian

    n = next(_seq)
    guardian = Guardian(full_name=full_name or f"Guardian {n}", email=email or f"guardian{n}@example.test",
                        phone=phone, preferred_channel=preferred_channel, locale=locale, user=user)
    db.session.add(guardian)
    for student in students:
        db.session.add(StudentGuardian(student=student, guardian=guardian, relationship_kind=relationship))
    db.session.flush()
    return guardian


def make_assignment(school_class, staff, *, subject=None, weekly_periods: int = 4, starts_on=None, ends_on=None):
    """An assignment (homeroom when `subject` is None) inserted directly, bypassing the rules."""
    from datetime import date

    from app.school.classes.models import Assignment

    assignment = Assignment(school_class=school_class, staff=staff, role="subject" if subject else "homeroom",
                            subject=subject, weekly_periods=weekly_periods, starts_on=starts_on or date(2026, 9, 1),
                            ends_on=ends_on)
    db.session.add(assignment)
    db.session.flush()
    return assignment
