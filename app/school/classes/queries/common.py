"""What every read of the classes module shares: the user's scope as SQL, dated rows running on a day, names."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.core.names import full_name
from app.extensions import db
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.staff.queries import local_today

__all__ = ["covering", "full_name", "in_scope", "local_today", "schools_for"]  # local_today: dated as the staff pages


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


def covering(model, on: date) -> sa.ColumnElement[bool]:
    """A dated row (assignment or enrolment) that runs on `on`."""
    return sa.and_(model.starts_on <= on, sa.or_(model.ends_on.is_(None), model.ends_on >= on))
