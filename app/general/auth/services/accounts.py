"""Accounts: the user's own profile, and administration of other users. Flush, audit, never commit.

Views check the role (`users.manage`); these functions check the reach: an admin acts only on users
whose every scope lies inside the admin's scopes, and hands out only scopes inside their own.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth import passwords, queries
from app.general.auth.models import RecoveryCode, Role, User, UserScope
from app.general.auth.services.credentials import send_invitation
from app.general.auth.services.signin import end_all_sessions
from app.general.org.models import OrgUnit

log = logging.getLogger(__name__)


def _check_locale(locale: str | None) -> str | None:
    if locale in (None, ""):
        return None
    if locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(_("Choose one of the offered languages."), field="locale")
    return locale


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(_("Enter a name."), field="display_name")
    return name[:200]


def update_profile(user: User, *, display_name: str, locale: str | None) -> None:
    """The user edits their own name and language (nothing else: role, scopes, status are not theirs)."""
    before = {"display_name": user.display_name, "locale": user.locale}
    user.display_name, user.locale = _clean_name(display_name), _check_locale(locale)
    changes = {k: [v, getattr(user, k)] for k, v in before.items() if getattr(user, k) != v}
    db.session.flush()
    if changes:
        record("auth.profile_updated", subject=user, actor=user, changes=changes)


def set_locale(user: User, locale: str) -> None:
    """The user picks the interface language."""
    before = user.locale
    user.locale = _check_locale(locale)
    db.session.flush()
    if before != user.locale:
        record("auth.locale_changed", subject=user, changes={"locale": [before, user.locale]}, actor=user)


# --- administration ---------------------------------------------------------------------------


def _is_self(actor: Any, target: User) -> bool:
    return actor != SYSTEM and getattr(actor, "id", None) == target.id


def _ensure_reach(actor: Any, target: User) -> None:
    if actor != SYSTEM and not queries.covers_user(actor, target):
        raise NotAllowed(_("This person is outside your scope."))


def _units_for(actor: Any, unit_ids: list[int]) -> list[OrgUnit]:
    if not unit_ids:
        raise ValidationFailed(_("Choose at least one scope."), field="scopes")
    reachable = (
        {u.id: u for u in queries.units_reachable_by(actor, active_only=False)} if actor != SYSTEM
        else {u.id: u for u in db.session.scalars(sa.select(OrgUnit).where(OrgUnit.id.in_(unit_ids)))}
    )
    missing = [i for i in unit_ids if i not in reachable]
    if missing:
        raise NotAllowed(_("You can only give scopes inside your own."))
    return [reachable[i] for i in dict.fromkeys(unit_ids)]


def _check_role(role: str) -> str:
    if role not in {r.value for r in Role}:
        raise ValidationFailed(_("Choose a role."), field="role")
    return role


def _set_scopes(user: User, units: list[OrgUnit]) -> None:
    wanted = {u.id for u in units}
    for scope in [s for s in user.scopes if s.org_unit_id not in wanted]:
        user.scopes.remove(scope)
    have = {s.org_unit_id for s in user.scopes}
    user.scopes.extend(UserScope(org_unit=u) for u in units if u.id not in have)


def _email_taken(email: str, exclude_id: int | None = None) -> bool:
    existing = queries.user_by_email(email)
    return existing is not None and existing.id != exclude_id


def create_user(*, actor: Any, email: str, display_name: str, role: str, unit_ids: list[int],
                phone: str | None = None, locale: str | None = None, invite: bool = True) -> User:
    """Create an account without a password and e-mail an invitation to set one.

    :raises Conflict: when the e-mail is already in use. :raises NotAllowed: for a scope outside the actor's.
    """
    address = (email or "").strip().lower()
    if _email_taken(address):
        raise Conflict(_("An account with this e-mail already exists."), field="email")
    units = _units_for(actor, unit_ids)
    user = User(email=address, display_name=_clean_name(display_name), role=_check_role(role),
                phone=(phone or "").strip() or None, locale=_check_locale(locale), password_hash=None)
    user.scopes = [UserScope(org_unit=u) for u in units]
    db.session.add(user)
    db.session.flush()
    record("auth.user_created", subject=user, actor=actor,
           changes={"email": address, "role": role, "scopes": [u.code for u in units]})
    if invite:
        send_invitation(user, actor=actor)
    return user


def _snapshot(user: User) -> dict:
    return {"display_name": user.display_name, "phone": user.phone, "locale": user.locale, "role": user.role,
            "scopes": sorted(s.org_unit.code for s in user.scopes)}


def update_user(target: User, *, actor: Any, display_name: str, role: str, unit_ids: list[int],
                phone: str | None = None, locale: str | None = None) -> dict:
    """An admin edits a user's name, phone, language, role and scopes; returns the changes made.

    :raises NotAllowed: outside the actor's reach, or an admin changing their own role or scopes.
    """
    _ensure_reach(actor, target)
    # Everything is checked before anything changes, so a refusal leaves the user untouched.
    name, role, units = _clean_name(display_name), _check_role(role), _units_for(actor, unit_ids)
    phone, locale = (phone or "").strip() or None, _check_locale(locale)
    before = _snapshot(target)
    if _is_self(actor, target) and (role != target.role or sorted(u.code for u in units) != before["scopes"]):
        raise NotAllowed(_("You cannot change your own role or scopes; ask another administrator."))
    target.display_name, target.role, target.phone, target.locale = name, role, phone, locale
    _set_scopes(target, units)
    db.session.flush()
    after = _snapshot(target)
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        record("auth.user_updated", subject=target, actor=actor, changes=changes)
    return changes


def deactivate_user(target: User, *, actor: Any) -> None:
    """Deactivate an account: it cannot log in, and every session of it ends at once.

    :raises NotAllowed: outside the actor's reach, or on the actor's own account.
    """
    _ensure_reach(actor, target)
    if _is_self(actor, target):
        raise NotAllowed(_("You cannot deactivate your own account."))
    if not target.is_active_account:
        return
    target.is_active_account, target.deactivated_at = False, utcnow()
    end_all_sessions(target)
    record("auth.user_deactivated", subject=target, actor=actor)


def reactivate_user(target: User, *, actor: Any) -> None:
    """Let a deactivated account log in again (with its existing password and second factor)."""
    _ensure_reach(actor, target)
    if target.is_active_account:
        return
    target.is_active_account, target.deactivated_at = True, None
    db.session.flush()
    record("auth.user_reactivated", subject=target, actor=actor)


def reset_second_factor(target: User, *, actor: Any) -> None:
    """Remove a user's authenticator and recovery codes (lost phone); they enrol again at next login.

    :raises NotAllowed: outside the actor's reach, or on the actor's own account.
    """
    _ensure_reach(actor, target)
    if _is_self(actor, target):
        raise NotAllowed(_("Ask another administrator to reset your own second factor."))
    target.totp_secret = target.totp_enabled_at = target.totp_last_counter = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == target.id))
    end_all_sessions(target)
    record("auth.second_factor_reset", subject=target, actor=actor)


def resend_invitation(target: User, *, actor: Any) -> None:
    """Send the invitation again to a user who has not set a password yet."""
    _ensure_reach(actor, target)
    send_invitation(target, actor=actor)


def _admin_units(scope_code: str | None) -> list[OrgUnit]:
    if scope_code:
        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == scope_code))
        if unit is None:
            raise ValidationFailed(_("No org unit has the code %(code)s.", code=scope_code), field="scope")
        return [unit]
    stmt = sa.select(OrgUnit).where(OrgUnit.parent_id.is_(None), OrgUnit.is_active.is_(True))
    units = list(db.session.scalars(stmt.order_by(OrgUnit.path)))
    if not units:  # an admin without a scope reaches nothing and could not be given one
        raise ValidationFailed(_("No district or school exists yet: create one first with `flask org create`."),
                               field="scope")
    return units


def create_admin(*, email: str, display_name: str, password: str, scope_code: str | None = None) -> User:
    """Create an administrator from the command line (the only way to get the first one).

    The admin gets a scope on the unit named by `scope_code`, else on every top-level unit.
    :raises Conflict: e-mail in use. :raises ValidationFailed: weak password, unknown unit, or no unit at all.
    """
    address = (email or "").strip().lower()
    if _email_taken(address):
        raise Conflict(_("An account with this e-mail already exists."), field="email")
    passwords.validate_password(password, email=address)
    units = _admin_units(scope_code)
    user = User(email=address, display_name=_clean_name(display_name), role=Role.ADMIN.value,
                password_hash=passwords.hash_password(password), password_changed_at=utcnow())
    user.scopes = [UserScope(org_unit=u) for u in units]
    db.session.add(user)
    db.session.flush()
    record("auth.admin_created", subject=user, actor=SYSTEM,
           changes={"email": address, "scopes": [u.code for u in units]})
    return user
