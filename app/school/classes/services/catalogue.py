"""Subjects (the district's catalogue) and classes (per school and academic year): create, edit, deactivate."""
from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.models import Assignment, Enrollment, SchoolClass, Subject
from app.school.classes.services.common import (
    check_reach,
    clean_academic_year,
    clean_int,
    clean_text,
    guarded_flush,
    lock_class,
    raise_if,
)

log = logging.getLogger(__name__)

SUBJECT_CODE_MAX = 20
SUBJECT_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")


# --- subjects ------------------------------------------------------------------------------------------


def may_manage_catalogue(actor: Any) -> bool:
    """Subjects are shared by every school: only an administrator of a top-level unit (a district, or a
    stand-alone school) changes them."""
    from app.general.auth.policy import can

    if actor == SYSTEM:
        return True
    return can(actor, "classes.manage") and any(scope.org_unit.parent_id is None for scope in actor.scopes)


def _check_catalogue(actor: Any) -> None:
    if not may_manage_catalogue(actor):
        raise NotAllowed(_("Subjects are shared by every school: ask your district's administrator to change them."))


def clean_subject_code(value: Any) -> tuple[str, str | None]:
    """An upper-case subject code and the problem with it, if any."""
    code = ("" if value is None else str(value)).strip().upper()
    if not code:
        return code, _("Enter a code.")
    if len(code) > SUBJECT_CODE_MAX or not SUBJECT_CODE_PATTERN.match(code):
        return code, _("A code has up to %(n)d letters, digits, dashes or underscores.", n=SUBJECT_CODE_MAX)
    return code, None


def _code_conflict(code: str) -> Conflict:
    return Conflict(_("The code %(code)s is already used by another subject.", code=code), field="code")


def _code_taken(code: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(Subject.id).where(sa.func.upper(Subject.code) == code)
    if exclude_id is not None:
        stmt = stmt.where(Subject.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _clean_subject(code: Any, name: Any, exclude_id: int | None) -> tuple[str, str]:
    clean_code, code_problem = clean_subject_code(code)
    clean_name, name_problem = clean_text(name, missing=_("Enter the subject's name."))
    raise_if({"code": code_problem, "name": name_problem})
    if _code_taken(clean_code, exclude_id):
        raise _code_conflict(clean_code)
    return clean_code, clean_name


def create_subject(*, code: Any, name: Any, actor: Any) -> Subject:
    """Add a subject to the catalogue.

    :raises ClassesInvalid: code or name. :raises Conflict: the code is taken. :raises NotAllowed: not a
    district administrator.
    """
    _check_catalogue(actor)
    clean_code, clean_name = _clean_subject(code, name, None)
    subject = Subject(code=clean_code, name=clean_name, is_active=True)
    db.session.add(subject)
    guarded_flush({"code": _code_conflict(clean_code)})
    record("classes.subject_created", subject=subject, actor=actor, changes={"code": clean_code, "name": clean_name})
    log.info("subject %s created", clean_code)
    return subject


def update_subject(subject: Subject, *, code: Any, name: Any, actor: Any) -> dict:
    """Rename or re-code a subject; returns the changes."""
    _check_catalogue(actor)
    clean_code, clean_name = _clean_subject(code, name, subject.id)
    changes = {key: [old, new] for key, old, new in
               (("code", subject.code, clean_code), ("name", subject.name, clean_name)) if old != new}
    if changes:
        subject.code, subject.name = clean_code, clean_name
        guarded_flush({"code": _code_conflict(clean_code)})
        record("classes.subject_updated", subject=subject, actor=actor, changes=changes)
    return changes


def set_subject_active(subject: Subject, active: bool, *, actor: Any) -> Subject:
    """Deactivate a subject (no new assignments; existing ones keep it) or bring it back."""
    _check_catalogue(actor)
    if subject.is_active == active:
        return subject
    subject.is_active = active
    db.session.flush()
    record("classes.subject_reactivated" if active else "classes.subject_deactivated", subject=subject,
           actor=actor, changes={"is_active": [not active, active]})
    return subject


# --- classes -------------------------------------------------------------------------------------------


def _name_conflict(name: str, year: str) -> Conflict:
    return Conflict(_("This school already has a class named %(name)s in %(year)s.", name=name, year=year),
                    field="name")


def _clean_class(academic_year: Any, grade: Any, name: Any) -> tuple[str, int, str]:
    year, year_problem = clean_academic_year(academic_year)
    number, grade_problem = clean_int(grade, low=1, high=12, message=_("Choose a grade from 1 to 12."))
    clean_name, name_problem = clean_text(name, missing=_("Enter the class's name, such as Grade 7 Class 2."))
    raise_if({"academic_year": year_problem, "grade": grade_problem, "name": name_problem})
    return year, number, clean_name


def _name_taken(school_id: int, year: str, name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(SchoolClass.id).where(SchoolClass.school_id == school_id, SchoolClass.academic_year == year,
                                           SchoolClass.name == name)
    if exclude_id is not None:
        stmt = stmt.where(SchoolClass.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _snapshot(school_class: SchoolClass) -> dict:
    return {"school": school_class.school.code, "academic_year": school_class.academic_year,
            "grade": school_class.grade, "name": school_class.name}


def create_class(*, school: OrgUnit | None, academic_year: Any, grade: Any, name: Any, actor: Any) -> SchoolClass:
    """Add a class to a school for an academic year.

    :raises ClassesInvalid: school, academic_year, grade or name. :raises Conflict: the name is taken in that
    school and year. :raises NotAllowed: a school outside the actor's scope.
    """
    if school is None or school.kind != OrgUnitKind.SCHOOL:
        raise ValidationFailed(_("Choose a school."), field="school")
    check_reach(actor, "classes.manage", school)
    if not school.is_active:
        raise ValidationFailed(_("%(name)s is deactivated: choose an active school.", name=school.name),
                               field="school")
    year, number, clean_name = _clean_class(academic_year, grade, name)
    if _name_taken(school.id, year, clean_name):
        raise _name_conflict(clean_name, year)
    school_class = SchoolClass(school=school, academic_year=year, grade=number, name=clean_name)
    db.session.add(school_class)
    guarded_flush({"name": _name_conflict(clean_name, year)})
    record("classes.class_created", subject=school_class, actor=actor, changes=_snapshot(school_class))
    log.info("class %s created in %s", school_class.id, school.code)
    return school_class


def _in_use(school_class: SchoolClass) -> bool:
    for model in (Enrollment, Assignment):
        if db.session.scalar(sa.select(model.id).where(model.class_id == school_class.id).limit(1)) is not None:
            return True
    return False


def update_class(school_class: SchoolClass, *, academic_year: Any, grade: Any, name: Any, actor: Any,
                 expected_version: int | None = None) -> dict:
    """Rename a class or change its grade (its school is fixed; its year only while nobody is in it).

    :raises Conflict: stale version or name taken. :raises ValidationFailed: a year change of a class in use.
    """
    check_reach(actor, "classes.manage", school_class)
    year, number, clean_name = _clean_class(academic_year, grade, name)
    lock_class(school_class, expected_version)
    if year != school_class.academic_year and _in_use(school_class):
        raise ValidationFailed(_("Students or teachers are dated within %(year)s: the year of this class cannot "
                                 "change. Create a class for the other year instead.",
                                 year=school_class.academic_year), field="academic_year")
    if _name_taken(school_class.school_id, year, clean_name, school_class.id):
        raise _name_conflict(clean_name, year)
    before = _snapshot(school_class)
    school_class.academic_year, school_class.grade, school_class.name = year, number, clean_name
    after = _snapshot(school_class)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        guarded_flush({"name": _name_conflict(clean_name, year)})
        record("classes.class_updated", subject=school_class, actor=actor, changes=changes)
    return changes
