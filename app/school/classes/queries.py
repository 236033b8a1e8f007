"""Reading classes, students, guardians and assignments: scoped lists, the class and student pages, a parent's
children, and teachers' weekly loads. Each page costs a fixed number of queries, whatever the district's size.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload, selectinload

from app.extensions import db
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.models import (
    Assignment,
    AssignmentRole,
    Enrollment,
    Guardian,
    SchoolClass,
    Student,
    StudentGuardian,
    Subject,
)
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today

__all__ = ["local_today"]  # re-exported: the classes views date "now" the same way as the staff pages

SEARCH_TERMS_MAX = 5


# --- scope --------------------------------------------------------------------------------------------------


def _scope_paths(user) -> list[str]:
    return [scope.org_unit.path for scope in user.scopes]


def in_scope(user, unit) -> sa.ColumnElement[bool]:
    """`unit` (an OrgUnit alias) lies inside one of the user's scopes: the policy's `covers` as SQL."""
    paths = _scope_paths(user)
    if not paths:
        return sa.false()
    return sa.or_(*(unit.path.startswith(path, autoescape=True) for path in paths))


def schools_for(user) -> list[OrgUnit]:
    """The active schools wholly inside the user's scopes (those whose classes and students they reach)."""
    stmt = (sa.select(OrgUnit).where(OrgUnit.kind == OrgUnitKind.SCHOOL, OrgUnit.is_active.is_(True),
                                     in_scope(user, OrgUnit)).order_by(OrgUnit.name, OrgUnit.id))
    return list(db.session.scalars(stmt))


def full_name(family_name: str, given_name: str) -> str:
    """A person's name as the models write it: family name first for CJK names, given name first otherwise."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in family_name + given_name):
        return f"{family_name}{given_name}"
    return f"{given_name} {family_name}"


def _covering(model, on: date) -> sa.ColumnElement[bool]:
    """A dated row (assignment or enrolment) that runs on `on`."""
    return sa.and_(model.starts_on <= on, sa.or_(model.ends_on.is_(None), model.ends_on >= on))


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
        sa.select(Enrollment.class_id, sa.func.count()).where(Enrollment.class_id.in_(ids), _covering(Enrollment, on))
        .group_by(Enrollment.class_id))
    for class_id, count in counts:
        summaries[class_id].students = count
    teachers = db.session.execute(
        sa.select(Assignment.class_id, Assignment.role, StaffMember.family_name, StaffMember.given_name)
        .join(StaffMember, StaffMember.id == Assignment.staff_id)
        .where(Assignment.class_id.in_(ids), _covering(Assignment, on)))
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


def _assignment_order():
    return (sa.case((Assignment.role == AssignmentRole.HOMEROOM, 0), else_=1), Subject.name,
            Assignment.starts_on.desc(), Assignment.id.desc())


def class_page(school_class: SchoolClass, on: date) -> ClassPage:
    """The class's teachers (now, to come, before) and its students on `on` with their guardians."""
    page = ClassPage(school_class=school_class, today=on)
    assignments = db.session.scalars(
        sa.select(Assignment).outerjoin(Subject, Subject.id == Assignment.subject_id)
        .where(Assignment.class_id == school_class.id).order_by(*_assignment_order()))
    for assignment in assignments:
        if assignment.ends_on is not None and assignment.ends_on < on:
            page.past.append(assignment)
        elif assignment.starts_on > on:
            page.upcoming.append(assignment)
        else:
            page.current.append(assignment)
    page.enrolments = list(db.session.scalars(
        sa.select(Enrollment).join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.class_id == school_class.id, _covering(Enrollment, on))
        .options(selectinload(Enrollment.student).selectinload(Student.guardian_links)
                 .joinedload(StudentGuardian.guardian))
        .order_by(Student.family_name, Student.given_name, Student.id)))
    return page


# --- students -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentFilter:
    q: str = ""
    school_id: int | None = None
    class_id: int | None = None
    status: str = "active"  # active | left | all


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _student_search(text: str) -> sa.ColumnElement[bool] | None:
    """Every word must match the start of the number or a name; a CJK word may also span the whole name
    (王小明), which is the only case that needs the costlier concatenation."""
    terms = text.split()[:SEARCH_TERMS_MAX]
    if not terms:
        return None
    conditions = []
    for term in terms:
        options = [Student.student_number.startswith(term.upper(), autoescape=True),
                   Student.family_name.icontains(term, autoescape=True),
                   Student.given_name.icontains(term, autoescape=True)]
        if _is_cjk(term):
            options.append((Student.family_name + Student.given_name).contains(term, autoescape=True))
        conditions.append(sa.or_(*options))
    return sa.and_(*conditions)


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
            _covering(Enrollment, on or local_today())).exists())
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
        .where(Enrollment.student_id.in_(ids), _covering(Enrollment, on)).order_by(Enrollment.starts_on))
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
    return db.session.scalar(sa.select(StudentGuardian).where(StudentGuardian.student_id == student_id,
                                                              StudentGuardian.guardian_id == guardian_id))


def guardian_by_email(email: str | None) -> Guardian | None:
    address = (email or "").strip().lower()
    if not address:
        return None
    return db.session.scalar(sa.select(Guardian).where(sa.func.lower(Guardian.email) == address).limit(1))


# --- subjects -----------------------------------------------------------------------------------------------


def subjects(*, active_only: bool = False) -> list[Subject]:
    """The subject catalogue by name."""
    stmt = sa.select(Subject).order_by(Subject.name, Subject.code)
    if active_only:
        stmt = stmt.where(Subject.is_active.is_(True))
    return list(db.session.scalars(stmt))


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
            .where(Assignment.class_id.in_(sorted({c.id for c in classes.values()})), _covering(Assignment, on))
            .order_by(*_assignment_order()))
        for assignment in rows:
            by_class[assignment.class_id].append(assignment)
    for child in children.values():
        if child.school_class is not None:
            child.teachers = by_class[child.school_class.id]
    return sorted(children.values(), key=lambda c: (c.student.family_name, c.student.given_name, c.student.id))


# --- teachers' loads ----------------------------------------------------------------------------------------


def weekly_load(staff: StaffMember, on: date) -> int:
    """The weekly periods of the staff member's assignments running on `on`."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Assignment.weekly_periods), 0)).where(
        Assignment.staff_id == staff.id, _covering(Assignment, on))
    return int(db.session.scalar(stmt) or 0)


@dataclass(frozen=True)
class LoadRow:
    staff_id: int
    name: str
    department: str | None
    status: str
    used: int
    maximum: int

    @property
    def over(self) -> bool:
        return self.used > self.maximum

    @property
    def spare(self) -> int:
        return self.maximum - self.used


def _loads(on: date, school_id: int):
    """Periods a week per staff member of one school on `on` (a subquery to join)."""
    return (sa.select(Assignment.staff_id, sa.func.sum(Assignment.weekly_periods).label("used"))
            .join(StaffMember, StaffMember.id == Assignment.staff_id)
            .where(StaffMember.school_id == school_id, _covering(Assignment, on))
            .group_by(Assignment.staff_id).subquery())


def load_overview(user, school_id: int, on: date, *, department_id: int | None = None,
                  sort: str = "load") -> list[LoadRow]:
    """Periods used on `on` against the maximum, per current teacher of the school within the user's scopes
    (one query). `sort` is "load" (fullest first) or "name"."""
    loads, unit, department = _loads(on, school_id), aliased(OrgUnit), aliased(OrgUnit)
    used = sa.func.coalesce(loads.c.used, 0)
    stmt = (
        sa.select(StaffMember.id, StaffMember.family_name, StaffMember.given_name, department.name.label("dept"),
                  StaffMember.status, StaffMember.max_weekly_periods, used.label("used"))
        .join(unit, unit.id == sa.func.coalesce(StaffMember.department_id, StaffMember.school_id))
        .outerjoin(department, department.id == StaffMember.department_id)
        .outerjoin(loads, loads.c.staff_id == StaffMember.id)
        .where(in_scope(user, unit), StaffMember.school_id == school_id, StaffMember.status != StaffStatus.DEPARTED)
    )
    if department_id:
        stmt = stmt.where(StaffMember.department_id == department_id)
    by_name = (sa.func.lower(StaffMember.family_name), sa.func.lower(StaffMember.given_name), StaffMember.id)
    if sort == "name":
        stmt = stmt.order_by(*by_name)
    else:
        ratio = used * 1000 / sa.func.nullif(StaffMember.max_weekly_periods, 0)
        stmt = stmt.order_by(sa.func.coalesce(ratio, used * 1000).desc(), *by_name)
    return [LoadRow(row.id, full_name(row.family_name, row.given_name), row.dept, row.status, int(row.used),
                    row.max_weekly_periods) for row in db.session.execute(stmt)]


@dataclass(frozen=True)
class TeacherChoice:
    staff_id: int
    name: str
    used: int
    maximum: int

    @property
    def spare(self) -> int:
        return self.maximum - self.used


def teacher_choices(school_id: int, on: date) -> list[TeacherChoice]:
    """The active staff of a school with their load on `on`: the choices of the assignment forms (one query)."""
    loads = _loads(on, school_id)
    stmt = (sa.select(StaffMember.id, StaffMember.family_name, StaffMember.given_name, StaffMember.max_weekly_periods,
                      sa.func.coalesce(loads.c.used, 0).label("used"))
            .outerjoin(loads, loads.c.staff_id == StaffMember.id)
            .where(StaffMember.school_id == school_id, StaffMember.status == StaffStatus.ACTIVE)
            .order_by(sa.func.lower(StaffMember.family_name), sa.func.lower(StaffMember.given_name), StaffMember.id))
    return [TeacherChoice(row.id, full_name(row.family_name, row.given_name), int(row.used), row.max_weekly_periods)
            for row in db.session.execute(stmt)]
