"""Organisation units: create, edit (rename, re-code, move) and deactivate, each audited.

Every function validates everything before it changes anything, so a rule that fails leaves the
session untouched; the caller commits.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.extensions import db
from app.general.audit.services import record
from app.general.org.models import ALLOWED_PARENT, OrgUnit, OrgUnitKind

log = logging.getLogger(__name__)

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
NAME_MAX, CODE_MAX = 200, 40
_UNCHANGED: Any = object()


def normalise_code(code: str | None) -> str:
    """Codes are compared and stored upper-case without surrounding blanks."""
    return (code or "").strip().upper()


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(_("Enter a name."), field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(_("A name has at most %(n)d characters.", n=NAME_MAX), field="name")
    return name


def _clean_code(code: str | None, *, unit_id: int | None) -> str:
    code = normalise_code(code)
    if not code:
        raise ValidationFailed(_("Enter a code."), field="code")
    if len(code) > CODE_MAX or not CODE_PATTERN.match(code):
        raise ValidationFailed(
            _("A code has up to %(n)d letters, digits, dots, dashes or underscores, starting with a letter or digit.",
              n=CODE_MAX),
            field="code",
        )
    stmt = sa.select(OrgUnit.id).where(sa.func.upper(OrgUnit.code) == code)
    if unit_id is not None:
        stmt = stmt.where(OrgUnit.id != unit_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise ValidationFailed(_("The code %(code)s is already used by another unit.", code=code), field="code")
    return code


def _clean_kind(kind: str | None) -> OrgUnitKind:
    try:
        return OrgUnitKind(kind)
    except ValueError:
        raise ValidationFailed(_("Choose the kind of unit."), field="kind") from None


def _check_parent(kind: OrgUnitKind, parent: OrgUnit | None, *, unit: OrgUnit | None = None) -> None:
    allowed = ALLOWED_PARENT[kind]
    parent_kind = OrgUnitKind(parent.kind) if parent is not None else None
    if parent_kind not in allowed:
        messages = {
            OrgUnitKind.DEPARTMENT: _("A department belongs to a school: choose a school."),
            OrgUnitKind.SCHOOL: _("A school belongs to a district, or to nothing."),
            OrgUnitKind.DISTRICT: _("A district belongs to another district, or to nothing."),
        }
        raise ValidationFailed(messages[kind], field="parent")
    if parent is None:
        return
    if not parent.is_active:
        raise ValidationFailed(_("%(name)s is deactivated: choose an active unit.", name=parent.name), field="parent")
    if unit is not None and unit.id is not None and unit.contains(parent):
        raise ValidationFailed(_("A unit cannot be placed inside itself."), field="parent")


def _place(unit: OrgUnit, parent: OrgUnit | None) -> None:
    """Set the unit's parent and path, and rewrite the paths of everything inside it."""
    old_prefix = unit.path
    new_prefix = f"{parent.path if parent else '/'}{unit.id}/"
    descendants = db.session.scalars(
        sa.select(OrgUnit).where(OrgUnit.path.startswith(old_prefix, autoescape=True), OrgUnit.id != unit.id)
    ).all()
    unit.parent = parent
    unit.path = new_prefix
    for child in descendants:
        child.path = new_prefix + child.path[len(old_prefix):]


def _flush_guarding_code(code: str) -> None:
    """Flush; a concurrent writer that took the same code in the meantime becomes a field error, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise ValidationFailed(
            _("The code %(code)s is already used by another unit.", code=code), field="code"
        ) from None


def _snapshot(unit: OrgUnit) -> dict:
    return {"kind": unit.kind, "name": unit.name, "code": unit.code, "parent_id": unit.parent_id,
            "path": unit.path, "is_active": unit.is_active}


def create_unit(*, kind: str, name: str, code: str, parent: OrgUnit | None = None, actor: Any) -> OrgUnit:
    """Add a district, school or department under `parent`.

    :raises ValidationFailed: with `field` set (kind, name, code or parent) when a rule is broken.
    """
    unit_kind = _clean_kind(kind)
    clean_name = _clean_name(name)
    clean_code = _clean_code(code, unit_id=None)
    _check_parent(unit_kind, parent)
    unit = OrgUnit(kind=unit_kind.value, name=clean_name, code=clean_code, parent=parent, path="/", is_active=True)
    db.session.add(unit)
    _flush_guarding_code(clean_code)  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    record("org.unit_created", subject=unit, changes=_snapshot(unit), actor=actor)
    log.info("org unit %s (%s) created", unit.code, unit.kind)
    return unit


def update_unit(unit: OrgUnit, *, name: str | None = None, code: str | None = None,
                parent: OrgUnit | None = _UNCHANGED, actor: Any) -> OrgUnit:
    """Rename, re-code or move a unit (its kind never changes); the paths below it follow a move.

    Arguments left out stay as they are; `parent=None` moves the unit to the top level.
    :raises ValidationFailed: with `field` set when a rule is broken.
    """
    new_name = unit.name if name is None else _clean_name(name)
    new_code = unit.code if code is None else _clean_code(code, unit_id=unit.id)
    new_parent = unit.parent if parent is _UNCHANGED else parent
    moving = (new_parent.id if new_parent else None) != unit.parent_id
    if moving:
        _check_parent(OrgUnitKind(unit.kind), new_parent, unit=unit)
    before = _snapshot(unit)
    if moving:
        _place(unit, new_parent)
    unit.name, unit.code = new_name, new_code
    _flush_guarding_code(new_code)
    after = _snapshot(unit)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        record("org.unit_moved" if moving else "org.unit_updated", subject=unit, changes=changes, actor=actor)
        log.info("org unit %s updated: %s", unit.code, ", ".join(sorted(changes)))
    return unit


def active_children(unit: OrgUnit) -> list[OrgUnit]:
    """The unit's direct children that are still active."""
    return list(db.session.scalars(
        sa.select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.is_active.is_(True)).order_by(OrgUnit.name)
    ))


def deactivate_unit(unit: OrgUnit, *, actor: Any) -> OrgUnit:
    """Deactivate a unit (units are never deleted).

    :raises ValidationFailed: when the unit is already inactive or still has active units inside it.
    """
    if not unit.is_active:
        raise ValidationFailed(_("%(name)s is already deactivated.", name=unit.name))
    children = active_children(unit)
    if children:
        raise ValidationFailed(
            _("%(name)s still has %(n)d active units inside it (%(names)s): deactivate or move them first.",
              name=unit.name, n=len(children), names=", ".join(child.name for child in children[:5]))
        )
    unit.is_active = False
    db.session.flush()
    record("org.unit_deactivated", subject=unit, changes={"is_active": [True, False]}, actor=actor)
    log.info("org unit %s deactivated", unit.code)
    return unit


def reactivate_unit(unit: OrgUnit, *, actor: Any) -> OrgUnit:
    """Bring a deactivated unit back.

    :raises ValidationFailed: when it is active already or the unit it belongs to is deactivated.
    """
    if unit.is_active:
        raise ValidationFailed(_("%(name)s is already active.", name=unit.name))
    if unit.parent is not None and not unit.parent.is_active:
        raise ValidationFailed(
            _("%(parent)s is deactivated: reactivate it first.", parent=unit.parent.name)
        )
    unit.is_active = True
    db.session.flush()
    record("org.unit_reactivated", subject=unit, changes={"is_active": [False, True]}, actor=actor)
    log.info("org unit %s reactivated", unit.code)
    return unit
