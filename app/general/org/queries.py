"""Reading organisation units: what a user reaches, as a list or as a tree."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db
from app.general.org.models import ALLOWED_PARENT, OrgUnit, OrgUnitKind

KIND_ORDER = {OrgUnitKind.DISTRICT: 0, OrgUnitKind.SCHOOL: 1, OrgUnitKind.DEPARTMENT: 2}


@dataclass
class TreeNode:
    unit: OrgUnit
    children: list[TreeNode] = field(default_factory=list)


def scope_paths(user) -> list[str]:
    """The paths of the units the user is scoped to (each covers everything below it)."""
    return [scope.org_unit.path for scope in user.scopes]


def in_reach(user) -> sa.ColumnElement[bool]:
    """A condition on OrgUnit: inside one of the user's scopes (false when they have none)."""
    paths = scope_paths(user)
    if not paths:
        return sa.false()
    return sa.or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in paths))


def units_in_reach(user, *, include_inactive: bool = False, kinds: set[str] | None = None) -> list[OrgUnit]:
    """Every unit inside the user's scopes, ordered by name."""
    stmt = sa.select(OrgUnit).where(in_reach(user)).order_by(OrgUnit.name, OrgUnit.id)
    if not include_inactive:
        stmt = stmt.where(OrgUnit.is_active.is_(True))
    if kinds:
        stmt = stmt.where(OrgUnit.kind.in_(sorted(kinds)))
    return list(db.session.scalars(stmt))


def department_rows(user) -> list[tuple[int, str, str]]:
    """(id, name, school name) of the active departments in reach, by name: a filter's choices as plain rows,
    without loading a district's hundreds of units."""
    school = aliased(OrgUnit)
    stmt = (sa.select(OrgUnit.id, OrgUnit.name, sa.func.coalesce(school.name, ""))
            .outerjoin(school, school.id == OrgUnit.parent_id)
            .where(in_reach(user), OrgUnit.is_active.is_(True), OrgUnit.kind == OrgUnitKind.DEPARTMENT)
            .order_by(OrgUnit.name, OrgUnit.id))
    return [(unit_id, name, school_name) for unit_id, name, school_name in db.session.execute(stmt)]


def tree_for(user, *, include_inactive: bool = False) -> list[TreeNode]:
    """The units the user reaches as a forest: a unit whose parent is out of reach becomes a root."""
    units = units_in_reach(user, include_inactive=include_inactive)
    nodes = {unit.id: TreeNode(unit) for unit in units}
    roots: list[TreeNode] = []
    for unit in units:
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[unit.id])
    roots.sort(key=lambda node: (KIND_ORDER[OrgUnitKind(node.unit.kind)], node.unit.name))
    return roots


def schools_in_reach(user) -> list[OrgUnit]:
    """The active schools a user works in: those inside their scopes and those holding a scoped department."""
    units = units_in_reach(user, kinds={OrgUnitKind.SCHOOL})
    seen = {unit.id for unit in units}
    for scope in user.scopes:
        school = scope.org_unit.school
        if school is not None and school.is_active and school.id not in seen:
            units.append(school)
            seen.add(school.id)
    return sorted(units, key=lambda unit: unit.name)


def parent_candidates(user, kind: str | None = None) -> list[OrgUnit]:
    """Active units in reach that can hold a unit of `kind` (any kind when None)."""
    if kind:
        kinds = {k.value for k in ALLOWED_PARENT[OrgUnitKind(kind)] if k is not None}
    else:
        kinds = {OrgUnitKind.DISTRICT.value, OrgUnitKind.SCHOOL.value}
    return units_in_reach(user, kinds=kinds)


def counts_by_kind(user) -> dict[str, int]:
    """How many active units of each kind the user reaches."""
    stmt = (
        sa.select(OrgUnit.kind, sa.func.count())
        .where(in_reach(user), OrgUnit.is_active.is_(True))
        .group_by(OrgUnit.kind)
    )
    return {kind: count for kind, count in db.session.execute(stmt)}
