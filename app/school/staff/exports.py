"""The staff export: the staff the user may see, in the staff import's columns (so a file can go back in)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.school.staff import queries
from app.school.staff.imports import COLUMNS


class StaffExport:
    kind = "staff"
    title = _l("Staff")
    description = _l("Every staff member you may see, current and departed, in the import's columns.")

    def header(self) -> list[str]:
        return [c.name for c in COLUMNS] + ["status", "departed_on"]

    def rows(self, user, today: date) -> Iterator[list]:
        """Rows of the staff in the user's scopes (the staff list's own query), by school and number."""
        stmt = queries.staff_list(user, status="all", sort="number").execution_options(yield_per=1000)
        for staff in db.session.scalars(stmt):
            yield [
                staff.school.code, staff.department.code if staff.department else "", staff.employee_number,
                staff.family_name, staff.given_name, staff.email, staff.phone, staff.hired_on,
                staff.probation_ends_on, staff.max_weekly_periods, ";".join(s.code for s in staff.subjects),
                staff.status, staff.departed_on,
            ]
