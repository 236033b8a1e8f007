"""What a user may list: the departure cases of people inside their scopes."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.general.org.models import OrgUnit
from app.school.classes.queries.common import in_scope
from app.school.offboarding.models import DepartureCase
from app.school.staff.models import StaffMember


def scoped(user: Any, stmt: sa.Select) -> sa.Select:
    """`stmt` over DepartureCase narrowed to people whose department, else school, lies in a scope of `user`."""
    unit = aliased(OrgUnit)
    return (stmt.join(StaffMember, StaffMember.id == DepartureCase.staff_id)
            .join(unit, unit.id == sa.func.coalesce(StaffMember.department_id, StaffMember.school_id))
            .where(in_scope(user, unit)))


def visible_cases(user: Any) -> sa.Select:
    """The departure cases a user may see (admins and heads: their scope)."""
    return scoped(user, sa.select(DepartureCase))
