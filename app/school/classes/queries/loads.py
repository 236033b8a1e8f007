"""Teachers' weekly loads: one teacher's, a school's overview, and the choices of the assignment forms."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment
from app.school.classes.queries.common import covering, full_name, in_scope
from app.school.staff.models import StaffMember, StaffStatus

# --- teachers' loads ----------------------------------------------------------------------------------------


def weekly_load(staff: StaffMember, on: date) -> int:
    """The weekly periods of the staff member's assignments running on `on`."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Assignment.weekly_periods), 0)).where(
        Assignment.staff_id == staff.id, covering(Assignment, on))
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
            .where(StaffMember.school_id == school_id, covering(Assignment, on))
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
