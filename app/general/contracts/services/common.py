"""Helpers shared by the contract services: today's date, optimistic locking, audit, recipients, links."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict, NotAllowed
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role, User, UserScope
from app.general.org.models import OrgUnit

__all__ = ["SYSTEM", "admins_of", "audit", "check_version", "flush", "link", "local_today", "require_can"]


def local_today(now: datetime | None = None) -> date:
    """Today in the school's time zone (contract dates are local calendar days)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return (now.astimezone(zone) if now else datetime.now(zone)).date()


def stale_message() -> str:
    return _("Someone else changed this contract in the meantime. Nothing was saved: reload the page and try again.")


def check_version(obj: Any, expected: int | None) -> None:
    """Refuse when the form was filled in against an older version of the row.

    :raises Conflict: when `expected` is given and differs from the row's version.
    """
    if expected is not None and int(expected) != obj.row_version:
        raise Conflict(stale_message())


def flush() -> None:
    """Flush; a concurrent change of the same row (optimistic lock) becomes a Conflict."""
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict(stale_message()) from None


def require_can(actor: Any, permission: str, obj: Any) -> None:
    """Services check the object scope too (the views do first); the system may do anything.

    :raises NotAllowed: when the policy says no.
    """
    from app.general.auth.policy import can

    if actor != SYSTEM and not can(actor, permission, obj):
        raise NotAllowed(_("You may not do this for this employer."))


def audit(action: str, contract: Any, actor: Any, **changes: Any) -> None:
    """One audit event about a contract (obligation events are filed under their contract too)."""
    record(f"contracts.{action}", subject=contract, subject_type="Contract", actor=actor, changes=changes)


def admins_of(unit: OrgUnit, roles: tuple[str, ...] = (Role.ADMIN,)) -> list[User]:
    """Active users of `roles` whose scope covers `unit` (the unit or one above it)."""
    stmt = (
        sa.select(User)
        .join(UserScope, UserScope.user_id == User.id)
        .join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(User.role.in_([str(role) for role in roles]), User.is_active_account.is_(True),
               sa.literal(unit.path).startswith(OrgUnit.path))
        .distinct()
        .order_by(User.id)
    )
    return list(db.session.scalars(stmt))


def link(endpoint: str, **values: Any) -> str:
    """An absolute link for a message, also from a task (no request): built on PUBLIC_BASE_URL."""
    from app.general.auth.tokens import absolute_url

    if has_request_context():
        return absolute_url(endpoint, **values)
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    with current_app.test_request_context(base_url=base):  # a task has no request: lend it the public address
        return url_for(endpoint, _external=True, **values)
