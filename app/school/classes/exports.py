"""Exports of the classes module: students with guardians, and teaching assignments, in the import columns."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.imports.assignments import COLUMNS as ASSIGNMENT_COLUMNS
from app.school.classes.imports.students import COLUMNS as STUDENT_COLUMNS
from app.school.classes.models import Assignment, Enrollment, Guardian, SchoolClass, Student, StudentGuardian, Subject
from app.school.classes.queries import full_name, in_scope
from app.school.staff.models import StaffMember


class StudentExport:
    kind = "students"
    title = _l("Students and guardians")
    description = _l("Students of your schools with their class and guardians, one row per student and guardian.")

    def header(self) -> list[str]:
        return [c.name for c in STUDENT_COLUMNS] + ["student_active"]

    def rows(self, user, today: date, school_id: int | None = None) -> Iterator[tuple]:
        """One query: each student of the user's schools with their latest running (or coming) enrolment, once
        per guardian (once with empty guardian cells when they have none), by school and student number."""
        school = aliased(OrgUnit)
        latest = (
            sa.select(Enrollment.student_id, Enrollment.starts_on, SchoolClass.academic_year,
                      SchoolClass.name.label("class_name"),
                      sa.func.row_number().over(partition_by=Enrollment.student_id,
                                                order_by=(Enrollment.starts_on.desc(), Enrollment.id.desc()))
                      .label("n"))
            .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
            .where(sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= today))
            .subquery()
        )
        stmt = (
            sa.select(school.code, Student.student_number, Student.family_name, Student.given_name, Student.born_on,
                      latest.c.academic_year, latest.c.class_name, latest.c.starts_on, Guardian.full_name,
                      StudentGuardian.relationship_kind, Guardian.email, Guardian.phone, Guardian.preferred_channel,
                      Guardian.locale, sa.case((Student.is_active, "yes"), else_="no"))
            .join(school, school.id == Student.school_id)
            .outerjoin(latest, sa.and_(latest.c.student_id == Student.id, latest.c.n == 1))
            .outerjoin(StudentGuardian, StudentGuardian.student_id == Student.id)
            .outerjoin(Guardian, Guardian.id == StudentGuardian.guardian_id)
            .where(in_scope(user, school))
            .order_by(school.code, Student.student_number, StudentGuardian.id)
        )
        if school_id:
            stmt = stmt.where(Student.school_id == school_id)
        return db.session.execute(stmt.execution_options(yield_per=5000)).tuples()


class AssignmentExport:
    kind = "assignments"
    title = _l("Teaching assignments")
    description = _l("Assignments running today or starting later, in your schools' classes.")

    def header(self) -> list[str]:
        return [c.name for c in ASSIGNMENT_COLUMNS] + ["teacher", "ends_on"]

    def rows(self, user, today: date, school_id: int | None = None) -> Iterator[tuple]:
        """One query: assignments not yet ended, of classes in the user's schools."""
        school = aliased(OrgUnit)
        stmt = (
            sa.select(Assignment.role, Assignment.weekly_periods, Assignment.starts_on, Assignment.ends_on,
                      Assignment.qualification_override, SchoolClass.academic_year, SchoolClass.name,
                      StaffMember.employee_number, StaffMember.family_name, StaffMember.given_name,
                      Subject.code.label("subject_code"), school.code.label("school_code"))
            .join(SchoolClass, SchoolClass.id == Assignment.class_id)
            .join(school, school.id == SchoolClass.school_id)
            .join(StaffMember, StaffMember.id == Assignment.staff_id)
            .outerjoin(Subject, Subject.id == Assignment.subject_id)
            .where(in_scope(user, school), sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today))
            .order_by(school.code, SchoolClass.academic_year, SchoolClass.name, Assignment.role, Subject.code,
                      Assignment.starts_on)
        )
        if school_id:
            stmt = stmt.where(SchoolClass.school_id == school_id)
        for a in db.session.execute(stmt):
            yield (a.school_code, a.academic_year, a.name, a.employee_number, a.role, a.subject_code or "",
                   a.weekly_periods, a.starts_on, a.qualification_override or "",
                   full_name(a.family_name, a.given_name), a.ends_on)
