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

    def rows(self, user, today: date) -> Iterator[list]:
        """Three queries: the students in scope, their latest running or coming enrolment, their guardians."""
        school = aliased(OrgUnit)
        scoped = sa.select(Student.id).join(school, school.id == Student.school_id).where(in_scope(user, school))
        students = db.session.execute(
            sa.select(Student.id, Student.student_number, Student.family_name, Student.given_name, Student.born_on,
                      Student.is_active, school.code).join(school, school.id == Student.school_id)
            .where(in_scope(user, school)).order_by(school.code, Student.student_number)).all()
        classes = {row.student_id: row for row in db.session.execute(
            sa.select(Enrollment.student_id, Enrollment.starts_on, SchoolClass.academic_year, SchoolClass.name)
            .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
            .where(Enrollment.student_id.in_(scoped),
                   sa.or_(Enrollment.ends_on.is_(None), Enrollment.ends_on >= today))
            .order_by(Enrollment.starts_on))}  # the latest start wins
        guardians: dict[int, list] = {}
        for g in db.session.execute(
                sa.select(StudentGuardian.student_id, StudentGuardian.relationship_kind, Guardian.full_name,
                          Guardian.email, Guardian.phone, Guardian.preferred_channel, Guardian.locale)
                .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
                .where(StudentGuardian.student_id.in_(scoped)).order_by(StudentGuardian.id)):
            guardians.setdefault(g.student_id, []).append(g)
        for student in students:
            enrolment = classes.get(student.id)
            head = [student.code, student.student_number, student.family_name, student.given_name, student.born_on,
                    enrolment.academic_year if enrolment else "", enrolment.name if enrolment else "",
                    enrolment.starts_on if enrolment else ""]
            for g in guardians.get(student.id) or [None]:
                tail = ([g.full_name, g.relationship_kind, g.email, g.phone, g.preferred_channel, g.locale] if g
                        else ["", "", "", "", "", ""])
                yield [*head, *tail, "yes" if student.is_active else "no"]


class AssignmentExport:
    kind = "assignments"
    title = _l("Teaching assignments")
    description = _l("Assignments running today or starting later, in your schools' classes.")

    def header(self) -> list[str]:
        return [c.name for c in ASSIGNMENT_COLUMNS] + ["teacher", "ends_on"]

    def rows(self, user, today: date) -> Iterator[list]:
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
        for a in db.session.execute(stmt):
            yield [a.school_code, a.academic_year, a.name, a.employee_number, a.role, a.subject_code or "",
                   a.weekly_periods, a.starts_on, a.qualification_override or "",
                   full_name(a.family_name, a.given_name), a.ends_on]
