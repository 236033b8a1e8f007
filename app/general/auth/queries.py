"""Reads about users shared by the views, the services and the CLI."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort

from app.extensions import db
from app.general.auth.models import LoginAttempt, User, UserScope
from app.general.org.models import OrgUnit


@dataclass(frozen=True)
class UserFilter:
    q: str = ""
    role: str = ""
    status: str = "active"  # active | inactive | all


def user_by_email(email: str) -> User | None:
    """The user with this e-mail, compared case-insensitively."""
    address = (email or "").strip().lower()
    if not address:
        return None
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == address))


def _scope_paths(actor: User) -> list[str]:
    return [scope.org_unit.path for scope in actor.scopes]


def _inside_any(path_column, paths: list[str]):
    return sa.or_(*(path_column.startswith(path, autoescape=True) for path in paths))


def units_reachable_by(actor: User, *, active_only: bool = True) -> list[OrgUnit]:
    """Org units inside the actor's scopes (what an admin may hand out as scopes), in tree order."""
    paths = _scope_paths(actor)
    if not paths:
        return []
    stmt = sa.select(OrgUnit).where(_inside_any(OrgUnit.path, paths))
    if active_only:
        stmt = stmt.where(OrgUnit.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(OrgUnit.path)))


def _visible_clause(actor: User):
    """Users with at least one scope, every one of them inside the actor's scopes."""
    paths = _scope_paths(actor)
    if not paths:
        return sa.false()
    outside = (
        sa.select(UserScope.id)
        .join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(UserScope.user_id == User.id, sa.not_(_inside_any(OrgUnit.path, paths)))
    )
    has_scope = sa.select(UserScope.id).where(UserScope.user_id == User.id)
    return sa.and_(has_scope.exists(), sa.not_(outside.exists()))


def users_visible_to(actor: User, user_filter: UserFilter | None = None) -> sa.Select:
    """The users an admin may see and manage, filtered and ordered by name (a statement to paginate)."""
    user_filter = user_filter or UserFilter()
    stmt = sa.select(User).where(_visible_clause(actor))
    if user_filter.q:
        term = user_filter.q.strip()
        stmt = stmt.where(sa.or_(User.display_name.icontains(term, autoescape=True),
                                 User.email.icontains(term, autoescape=True)))
    if user_filter.role:
        stmt = stmt.where(User.role == user_filter.role)
    if user_filter.status == "active":
        stmt = stmt.where(User.is_active_account.is_(True))
    elif user_filter.status == "inactive":
        stmt = stmt.where(User.is_active_account.is_(False))
    return stmt.order_by(sa.func.lower(User.display_name), User.id)


def covers_user(actor: User, target: User) -> bool:
    """True when every scope of `target` lies inside one of the actor's scopes (and it has one)."""
    paths = _scope_paths(actor)
    units = [scope.org_unit for scope in target.scopes]
    return bool(units) and all(any(unit.path.startswith(path) for path in paths) for unit in units)


def manageable_user_or_404(actor: User, user_id: int) -> User:
    """The user with this id if the actor may manage them; 404 otherwise (their existence is not revealed)."""
    target = db.session.get(User, user_id)
    if target is None or not covers_user(actor, target):
        abort(404)
    return target


def recent_login_attempts(user: User, limit: int = 10) -> list[LoginAttempt]:
    """The latest login attempts on this account, newest first (shown on the account page)."""
    stmt = sa.select(LoginAttempt).where(LoginAttempt.user_id == user.id).order_by(LoginAttempt.at.desc())
    return list(db.session.scalars(stmt.limit(limit)))
