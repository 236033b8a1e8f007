"""Classes: the scoped list with its per-page summaries, a class's page, the subject catalogue."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import (
    Assignment,
    AssignmentRole,
    Enrollment,
    SchoolClass,
    Student,
    StudentGuardian,
    Subject,
)
from app.school.classes.queries.common import covering, full_name, in_scope
from app.school.staff.models import StaffMember

# --- classes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassFilter:
    school_id: int | None = None
    academic_year: str = ""
    grade: int | None = None
    q: str = ""


def classes_for(user, class_filter: ClassFilter | None = None) -> sa.Select:
    """The classes of the schools in the user's scopes, filtered; a statement to paginate."""
    f = class_filter or ClassFilter()
    school = aliased(OrgUnit)
    stmt = sa.select(SchoolClass).join(school, school.id == SchoolClass.school_id).where(in_scope(user, school))
    if f.school_id:
        stmt = stmt.where(SchoolClass.school_id == f.school_id)
    if f.academic_year:
        stmt = stmt.where(SchoolClass.academic_year == f.academic_year)
    if f.grade:
        stmt = stmt.where(SchoolClass.grade == f.grade)
    if f.q.strip():
        stmt = stmt.where(SchoolClass.name.icontains(f.q.strip(), autoescape=True))
    return stmt.order_by(school.name, SchoolClass.academic_year.desc(), SchoolClass.grade, SchoolClass.name,
                         SchoolClass.id)


def academic_years(user) -> list[str]:
    """The academic years that have classes in the user's schools, newest first."""
    school = aliased(OrgUnit)
    stmt = (sa.select(SchoolClass.academic_year).join(school, school.id == SchoolClass.school_id)
            .where(in_scope(user, school)).distinct().order_by(SchoolClass.academic_year.desc()))
    return list(db.session.scalars(stmt))


def classes_of_school(school_id: int, academic_year: str | None = None) -> list[SchoolClass]:
    """A school's classes (of one year), in grade and name order: the choices of a "move to" form."""
    stmt = sa.select(SchoolClass).where(SchoolClass.school_id == school_id)
    if academic_year:
        stmt = stmt.where(SchoolClass.academic_year == academic_year)
    return list(db.session.scalars(stmt.order_by(SchoolClass.grade, SchoolClass.name)))


@dataclass
class ClassSummary:
    homeroom: list[str] = field(default_factory=list)
    students: int = 0
    teachers: int = 0


def class_summaries(class_ids: Iterable[int], on: date) -> dict[int, ClassSummary]:
    """For a page of classes: homeroom teachers, students and teachers on `on` (two queries)."""
    ids = sorted(set(class_ids))
    summaries = {class_id: ClassSummary() for class_id in ids}
    if not ids:
        return summaries
    counts = db.session.execute(
        sa.select(Enrollment.class_id, sa.func.count()).where(Enrollment.class_id.in_(ids), covering(Enrollment, on))
        .group_by(Enrollment.class_id))
    for class_id, count in counts:
        summaries[class_id].students = count
    teachers = db.session.execute(
        sa.select(Assignment.class_id, Assignment.role, StaffMember.family_name, StaffMember.given_name)
        .join(StaffMember, StaffMember.id == Assignment.staff_id)
        .where(Assignment.class_id.in_(ids), covering(Assignment, on)))
    for row in teachers:
        summary = summaries[row.class_id]
        summary.teachers += 1
        if row.role == AssignmentRole.HOMEROOM:
            summary.homeroom.append(full_name(row.family_name, row.given_name))
    return summaries


@dataclass
class ClassPage:
    """Everything the class page shows."""

    school_class: SchoolClass
    today: date
    current: list[Assignment] = field(default_factory=list)
    upcoming: list[Assignment] = field(default_factory=list)
    past: list[Assignment] = field(default_factory=list)
    enrolments: list[Enrollment] = field(default_factory=list)

    @property
    def homeroom(self) -> Assignment | None:
        return next((a for a in self.current if a.role == AssignmentRole.HOMEROOM), None)

    @property
    def weekly_periods(self) -> int:
        return sum(a.weekly_periods for a in self.current)


def assignment_order():
    """Homeroom first, then by subject, newest first."""
    return (sa.case((Assignment.role == AssignmentRole.HOMEROOM, 0), else_=1), Subject.name,
            Assignment.starts_on.desc(), Assignment.id.desc())


def class_page(school_class: SchoolClass, on: date) -> ClassPage:
    """The class's teachers (now, to come, before) and its students on `on` with their guardians."""
    page = ClassPage(school_class=school_class, today=on)
    assignments = db.session.scalars(
        sa.select(Assignment).outerjoin(Subject, Subject.id == Assignment.subject_id)
        .where(Assignment.class_id == school_class.id).order_by(*assignment_order()))
    for assignment in assignments:
        if assignment.ends_on is not None and assignment.ends_on < on:
            page.past.append(assignment)
        elif assignment.starts_on > on:
            page.upcoming.append(assignment)
        else:
            page.current.append(assignment)
    page.enrolments = list(db.session.scalars(
        sa.select(Enrollment).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.class_id == school_class.id, covering(Enrollment, on))
        .options(selectinload(Enrollment.student).selectinload(Student.guardian_links)
                 .joinedload(StudentGuardian.guardian))
        .order_by(Student.family_name, Student.given_name, Student.id)))
    return page


# --- subjects -----------------------------------------------------------------------------------------------


def subjects(*, active_only: bool = False) -> list[Subject]:
    """The subject catalogue by name."""
    stmt = sa.select(Subject).order_by(Subject.name, Subject.code)
    if active_only:
        stmt = stmt.where(Subject.is_active.is_(True))
    return list(db.session.scalars(stmt))
