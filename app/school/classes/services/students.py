"""Students: field rules (pure, for forms and spreadsheet rows alike), create, edit, leave and return.
Each change audited; flush, never commit."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.general.audit.services import record
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.models import Enrollment, Student
from app.school.classes.services.common import as_date, check_reach, clean_text, guarded_flush, raise_if

STUDENT_NUMBER_MAX = 40
STUDENT_NUMBER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._/-]*$")


@dataclass
class StudentValues:
    student_number: str
    family_name: str
    given_name: str
    born_on: date | None


# --- pure field rules ---------------------------------------------------------------------------------


def normalise_student_number(value: Any) -> str:
    """Student numbers are compared and stored upper-case without surrounding blanks."""
    return "" if value is None else str(value).strip().upper()


def _student_number(value: Any) -> tuple[str, str | None]:
    number = normalise_student_number(value)
    if not number:
        return number, _("Enter the student number.")
    if len(number) > STUDENT_NUMBER_MAX or not STUDENT_NUMBER_PATTERN.match(number):
        return number, _("A student number has up to %(n)d letters, digits, dots, dashes, slashes or underscores.",
                         n=STUDENT_NUMBER_MAX)
    return number, None


def _born_on(value: Any, today: date) -> tuple[date | None, str | None]:
    if value in (None, ""):
        return None, None
    day = as_date(value)
    if day is None:
        return None, _("Enter a valid date of birth.")
    if day > today or day.year < 1990:
        return day, _("Enter a real date of birth.")
    return day, None


def clean_student(*, student_number: Any, family_name: Any, given_name: Any, born_on: Any = None,
                  today: date | None = None) -> tuple[StudentValues | None, dict[str, str]]:
    """The cleaned student fields and the field errors (empty when all is well); no database access.

    Uniqueness of the number within the school is not checked here: see `queries.taken_student_numbers`.
    """
    results = {
        "student_number": _student_number(student_number),
        "family_name": clean_text(family_name, missing=_("Enter the family name.")),
        "given_name": clean_text(given_name, missing=_("Enter the given name.")),
        "born_on": _born_on(born_on, today or date.today()),
    }
    errors = {name: problem for name, (_value, problem) in results.items() if problem}
    if errors:
        return None, errors
    return StudentValues(**{name: value for name, (value, _problem) in results.items()}), {}


# --- students ---------------------------------------------------------------------------------------------


def _number_conflict(number: str) -> Conflict:
    return Conflict(_("The student number %(number)s is already used in this school.", number=number),
                    field="student_number")


def _number_taken(school_id: int, number: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(Student.id).where(Student.school_id == school_id, Student.student_number == number)
    if exclude_id is not None:
        stmt = stmt.where(Student.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _student_snapshot(student: Student) -> dict:
    return {"school": student.school.code, "student_number": student.student_number,
            "family_name": student.family_name, "given_name": student.given_name, "born_on": student.born_on,
            "is_active": student.is_active}


def _prepared_student(fields: dict) -> StudentValues:
    values, errors = clean_student(**fields)
    raise_if(errors)
    return values


def create_student(*, school: OrgUnit | None, actor: Any, **fields: Any) -> Student:
    """Add a student to a school. `fields` are those of `clean_student`.

    :raises ClassesInvalid: field errors. :raises Conflict: the number is taken in this school.
    """
    if school is None or school.kind != OrgUnitKind.SCHOOL:
        raise ValidationFailed(_("Choose a school."), field="school")
    check_reach(actor, "classes.manage", school)
    values = _prepared_student(fields)
    if _number_taken(school.id, values.student_number):
        raise _number_conflict(values.student_number)
    student = Student(school=school, is_active=True, **asdict(values))
    db.session.add(student)
    guarded_flush({"student_number": _number_conflict(values.student_number)})
    record("classes.student_created", subject=student, actor=actor, changes=_student_snapshot(student))
    return student


def update_student(student: Student, *, actor: Any, **fields: Any) -> dict:
    """Correct a student's number, names or date of birth; returns the changes."""
    check_reach(actor, "classes.manage", student)
    values = _prepared_student(fields)
    if _number_taken(student.school_id, values.student_number, student.id):
        raise _number_conflict(values.student_number)
    before = _student_snapshot(student)
    for name, value in asdict(values).items():
        setattr(student, name, value)
    after = _student_snapshot(student)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        guarded_flush({"student_number": _number_conflict(values.student_number)})
        record("classes.student_updated", subject=student, actor=actor, changes=changes)
    return changes


def deactivate_student(student: Student, *, on: date, actor: Any) -> list[Enrollment]:
    """The student leaves the school: enrolments running on `on` end that day; returns them.

    :raises ValidationFailed: an enrolment starts after `on` (end it first).
    """
    check_reach(actor, "classes.manage", student)
    if not student.is_active:
        raise ValidationFailed(_("%(name)s has already left.", name=student.full_name))
    rows = list(db.session.scalars(sa.select(Enrollment).where(
        Enrollment.student_id == student.id, sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on > on))))
    if any(row.starts_on > on for row in rows):
        raise ValidationFailed(_("%(name)s has an enrolment starting after %(day)s: end it first.",
                                 name=student.full_name, day=on.isoformat()), field="on")
    for row in rows:
        row.ends_on = on
    student.is_active = False
    db.session.flush()
    record("classes.student_deactivated", subject=student, actor=actor,
           changes={"on": on, "enrolments_ended": [row.id for row in rows]})
    return rows


def reactivate_student(student: Student, *, actor: Any) -> Student:
    """The student is back (enrol them in a class afterwards)."""
    check_reach(actor, "classes.manage", student)
    if not student.is_active:
        student.is_active = True
        db.session.flush()
        record("classes.student_reactivated", subject=student, actor=actor, changes={"is_active": [False, True]})
    return student
