"""Students and guardians: the scoped search, a student's page, lookups, and a parent's children."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from app.core.names import is_cjk
from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import (
    STUDENT_FULL_NAME,
    STUDENT_NAMES,
    Assignment,
    AssignmentRole,
    Enrollment,
    Guardian,
    SchoolClass,
    Student,
    StudentGuardian,
    Subject,
)
from app.school.classes.queries.classes import assignment_order
from app.school.classes.queries.common import covering, in_scope, local_today

SEARCH_TERMS_MAX = 5


# --- students -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentFilter:
    q: str = ""
    school_id: int | None = None
    class_id: int | None = None
    status: str = "active"  # active | left | all





def _student_search(text: str) -> sa.ColumnElement[bool] | None:
    """Every word must match the start of the number or lie within a name; a CJK word may also span the whole
    name (王小明). Words are matched against the indexed expressions STUDENT_NAMES and STUDENT_FULL_NAME."""
    terms = text.split()[:SEARCH_TERMS_MAX]
    if not terms:
        return None
    return sa.and_(*(sa.or_(Student.student_number.startswith(term.upper(), autoescape=True), *_name_matches(term))
                     for term in terms))


def _name_matches(term: str) -> list[sa.ColumnElement[bool]]:
    # A word without upper or lower case (CJK, digits) needs no case folding: plain LIKE, much cheaper than ILIKE.
    # Within the names written together it also lies within one name or spans both: the CJK rule in one test.
    caseless = term.lower() == term.upper()
    if caseless and is_cjk(term):
        return [STUDENT_FULL_NAME.contains(term, autoescape=True)]
    matches = [STUDENT_NAMES.contains(term, autoescape=True) if caseless
               else STUDENT_NAMES.icontains(term, autoescape=True)]
    if is_cjk(term):
        matches.append(STUDENT_FULL_NAME.contains(term, autoescape=True))
    return matches


def students_for(user, student_filter: StudentFilter | None = None, on: date | None = None) -> sa.Select:
    """The students of the schools in the user's scopes, searched and filtered, by school and student number;
    a statement to paginate."""
    f = student_filter or StudentFilter()
    school = aliased(OrgUnit)
    stmt = sa.select(Student).join(school, school.id == Student.school_id).where(in_scope(user, school))
    conditions = [_student_search(f.q or "")]
    if f.school_id:
        conditions.append(Student.school_id == f.school_id)
    if f.status == "active":
        conditions.append(Student.is_active.is_(True))
    elif f.status == "left":
        conditions.append(Student.is_active.is_(False))
    if f.class_id:
        conditions.append(sa.select(Enrollment.id).where(
            Enrollment.student_id == Student.id, Enrollment.class_id == f.class_id,
            covering(Enrollment, on or local_today())).exists())
    stmt = stmt.where(*(c for c in conditions if c is not None))
    # School and number: the order of the class lists, and the unique index's order (no sort at district scale)
    return stmt.order_by(Student.school_id, Student.student_number)


def current_classes(student_ids: Iterable[int], on: date) -> dict[int, SchoolClass]:
    """Each student's class on `on` (one query for a page of students)."""
    ids = sorted(set(student_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Enrollment.student_id, SchoolClass).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(Enrollment.student_id.in_(ids), covering(Enrollment, on)).order_by(Enrollment.starts_on))
    return {student_id: school_class for student_id, school_class in rows}


@dataclass
class StudentPage:
    student: Student
    today: date
    links: list[StudentGuardian] = field(default_factory=list)
    enrolments: list[Enrollment] = field(default_factory=list)

    @property
    def current(self) -> Enrollment | None:
        return next((e for e in self.enrolments if e.starts_on <= self.today
                     and (e.ends_on is None or e.ends_on >= self.today)), None)


def student_page(student: Student, on: date) -> StudentPage:
    """A student's guardians and enrolment history (newest first)."""
    links = db.session.scalars(
        sa.select(StudentGuardian).where(StudentGuardian.student_id == student.id)
        .options(joinedload(StudentGuardian.guardian)).order_by(StudentGuardian.id))
    enrolments = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.student_id == student.id)
        .order_by(Enrollment.starts_on.desc(), Enrollment.id.desc()))
    return StudentPage(student=student, today=on, links=list(links), enrolments=list(enrolments))


def student_by_number(school_id: int, number: str) -> Student | None:
    """The student with this number in the school (numbers are stored upper-case)."""
    wanted = (number or "").strip().upper()
    if not wanted:
        return None
    return db.session.scalar(sa.select(Student).where(Student.school_id == school_id,
                                                      Student.student_number == wanted))


def taken_student_numbers(school_id: int, numbers: Iterable[str]) -> set[str]:
    """Which of `numbers` (normalised) are already used in the school: one query per 500 numbers."""
    wanted = sorted({n for n in numbers if n})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(db.session.scalars(sa.select(Student.student_number).where(
            Student.school_id == school_id, Student.student_number.in_(wanted[start:start + 500]))))
    return found


def guardian_link(student_id: int, guardian_id: int) -> StudentGuardian | None:
    """The link making this guardian a guardian of this student, if there is one."""
    return db.session.scalar(sa.select(StudentGuardian).where(StudentGuardian.student_id == student_id,
                                                              StudentGuardian.guardian_id == guardian_id))


def guardian_by_email(email: str | None) -> Guardian | None:
    """The guardian with exactly this e-mail address (compared case-insensitively)."""
    address = (email or "").strip().lower()
    if not address:
        return None
    return db.session.scalar(sa.select(Guardian).where(sa.func.lower(Guardian.email) == address).limit(1))


# --- a parent's children ------------------------------------------------------------------------------------


def guardian_for_user(user) -> Guardian | None:
    """The guardian record linked to a (parent) portal account."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(sa.select(Guardian).where(Guardian.user_id == user.id))


@dataclass
class Child:
    """One of a guardian's children as the parent sees them: class and current teachers, nothing else."""

    student: Student
    relationship: str
    school_class: SchoolClass | None = None
    teachers: list[Assignment] = field(default_factory=list)

    @property
    def homeroom(self) -> Assignment | None:
        return next((a for a in self.teachers if a.role == AssignmentRole.HOMEROOM), None)


def children_of(guardian: Guardian, on: date) -> list[Child]:
    """The guardian's children with their class and teachers on `on` (three queries in all)."""
    links = db.session.scalars(
        sa.select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)
        .options(joinedload(StudentGuardian.student)))
    children = {link.student_id: Child(link.student, link.relationship_kind) for link in links
                if link.student.is_active}
    classes = current_classes(children, on)
    for student_id, school_class in classes.items():
        children[student_id].school_class = school_class
    by_class: dict[int, list[Assignment]] = defaultdict(list)
    if classes:
        rows = db.session.scalars(
            sa.select(Assignment).outerjoin(Subject, Subject.id == Assignment.subject_id)
            .where(Assignment.class_id.in_(sorted({c.id for c in classes.values()})), covering(Assignment, on))
            .order_by(*assignment_order()))
        for assignment in rows:
            by_class[assignment.class_id].append(assignment)
    for child in children.values():
        if child.school_class is not None:
            child.teachers = by_class[child.school_class.id]
    return sorted(children.values(), key=lambda c: (c.student.family_name, c.student.given_name, c.student.id))
