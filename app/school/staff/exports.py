"""The staff export: the staff the user may see, in the staff import's columns (so a file can go back in)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import Subject
from app.school.classes.queries import in_scope
from app.school.staff.imports import COLUMNS
from app.school.staff.models import StaffMember, staff_subjects


class StaffExport:
    kind = "staff"
    title = _l("Staff")
    description = _l("Every staff member you may see, current and departed, in the import's columns.")

    def header(self) -> list[str]:
        return [c.name for c in COLUMNS] + ["status", "departed_on"]

    def rows(self, user, today: date, school_id: int | None = None) -> Iterator[tuple]:
        """The staff whose department (else school) lies in the user's scopes, by school and number: two queries."""
        scope_unit, school, department = aliased(OrgUnit), aliased(OrgUnit), aliased(OrgUnit)
        people = (
            sa.select(StaffMember.id).join(scope_unit, scope_unit.id == sa.func.coalesce(
                StaffMember.department_id, StaffMember.school_id)).where(in_scope(user, scope_unit))
        )
        if school_id:
            people = people.where(StaffMember.school_id == school_id)
        subjects: dict[int, list[str]] = {}
        held = (sa.select(staff_subjects.c.staff_id, Subject.code)
                .join(Subject, Subject.id == staff_subjects.c.subject_id)
                .where(staff_subjects.c.staff_id.in_(people)).order_by(Subject.code))
        for staff_id, code in db.session.execute(held):
            subjects.setdefault(staff_id, []).append(code)
        stmt = (
            sa.select(StaffMember.id, school.code, department.code, StaffMember.employee_number,
                      StaffMember.family_name, StaffMember.given_name, StaffMember.email, StaffMember.phone,
                      StaffMember.hired_on, StaffMember.probation_ends_on, StaffMember.max_weekly_periods,
                      StaffMember.status, StaffMember.departed_on)
            .join(school, school.id == StaffMember.school_id)
            .outerjoin(department, department.id == StaffMember.department_id)
            .where(StaffMember.id.in_(people)).order_by(school.code, StaffMember.employee_number)
        )
        for staff_id, *head, periods, status, departed_on in db.session.execute(stmt).tuples():
            yield (*head, periods, ";".join(subjects.get(staff_id, ())), status, departed_on)
