"""The one place that answers "may this user do X (to this object)?".

Views declare a rule with `@public` or `@requires("permission")`; a test walks every registered
route and fails on any endpoint without one. Services and templates ask `can()`. An exception
inside the policy denies.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from app.general.auth.models import Role, User

log = logging.getLogger(__name__)

PUBLIC = "public"
AUTHENTICATED = "authenticated"

# Endpoints registered by extensions rather than by our blueprints.
PUBLIC_ENDPOINTS = {"static", "bootstrap.static"}

A, H, T, P = Role.ADMIN, Role.HEAD, Role.TEACHER, Role.PARENT

# permission -> roles granted it. Scope (which org units) is checked separately against the object.
GRANTS: dict[str, frozenset[Role]] = {
    AUTHENTICATED: frozenset({A, H, T, P}),
    "account.manage_own": frozenset({A, H, T, P}),
    "inbox.view": frozenset({A, H, T, P}),
    "dashboard.view": frozenset({A, H, T, P}),
    "org.view": frozenset({A, H}),
    "org.manage": frozenset({A}),
    "users.view": frozenset({A}),
    "users.manage": frozenset({A}),
    "audit.view": frozenset({A}),
    "audit.export": frozenset({A}),
    "notifications.manage": frozenset({A}),
    "system.health": frozenset({A}),
    # people and classes (issue 3)
    "staff.view": frozenset({A, H}),
    "staff.manage": frozenset({A}),
    "staff.view_own": frozenset({T}),
    "classes.view": frozenset({A, H}),
    "classes.manage": frozenset({A}),
    "assignments.manage": frozenset({A}),
    "children.view_own": frozenset({P}),
    "imports.run": frozenset({A}),
    "exports.run": frozenset({A, H}),
    "jobs.view_own": frozenset({A, H, T, P}),
    # contracts (general module)
    "contracts.view": frozenset({A, H}),
    "contracts.manage": frozenset({A}),
    "contracts.countersign": frozenset({A, H}),
    "contracts.view_own": frozenset({T}),
    "contracts.sign_own": frozenset({T}),
    # credentials and renewals (issue 4); a teacher reaches only their own records (the owner check)
    "credentials.view": frozenset({A, H}),
    "credentials.manage": frozenset({A}),
    "credentials.configure": frozenset({A}),
    "credentials.review": frozenset({A, H}),
    "credentials.view_own": frozenset({T}),
    "credentials.document": frozenset({A, H, T}),
    "credentials.attach": frozenset({A, T}),
    "credentials.renew": frozenset({A, T}),
    "training.submit": frozenset({A, T}),
    "compliance.view": frozenset({A, H}),
    # teaching hours and pay (issue 5); a teacher reaches only their own hours, timetable and pay lines
    "teaching.view": frozenset({A, H}),
    "teaching.manage": frozenset({A}),
    "teaching.view_own": frozenset({T}),
    "pay.view": frozenset({A, H}),
    "pay.manage": frozenset({A}),
    "pay.approve": frozenset({H}),
    "pay.view_own": frozenset({T}),
    "bonus.propose": frozenset({A, H}),
    "bonus.decide": frozenset({H}),
    # offboarding (issue 6); a teacher reaches only their own case (the owner check), a parent their own notices
    "departures.view": frozenset({A, H}),
    "departures.manage": frozenset({A}),
    "departures.approve": frozenset({H}),
    "departures.configure": frozenset({A}),
    "departures.blockers": frozenset({A, H}),
    "departures.view_own": frozenset({T}),
    "departures.resign": frozenset({T}),
    "departures.checklist_own": frozenset({T}),
    "notices.view_own": frozenset({P}),
}


def scope_unit_of(obj: Any):
    """The org unit an object belongs to, if it declares one (`scope_unit` attribute or an OrgUnit itself)."""
    from app.general.org.models import OrgUnit

    if obj is None:
        return None
    if isinstance(obj, OrgUnit):
        return obj
    if isinstance(obj, User):
        return obj.scopes[0].org_unit if obj.scopes else None
    return getattr(obj, "scope_unit", None)


def covers(user, unit) -> bool:
    """True when one of the user's scopes is the unit or contains it."""
    if unit is None:
        return False
    return any(scope.org_unit.contains(unit) for scope in user.scopes)


def _owner_id(obj: Any) -> int | None:
    return getattr(obj, "owner_user_id", None)


def _decide(user, permission: str, obj: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    roles = GRANTS.get(permission)
    if roles is None:
        log.error("unknown permission %r asked for; denying", permission)
        return False
    if Role(user.role) not in roles:
        return False
    if obj is None:
        return True
    owner = _owner_id(obj)
    if owner is not None and owner == user.id:
        return True
    if user.role in (Role.TEACHER, Role.PARENT):
        return False  # self-service roles reach only what they own
    unit = scope_unit_of(obj)
    return covers(user, unit)


def can(user, permission: str, obj: Any = None) -> bool:
    """May `user` do `permission` (to `obj`)? Fails closed on any error."""
    try:
        return _decide(user, permission, obj)
    except Exception:
        log.exception("policy error for %s on %r; denying", permission, obj)
        return False


def authorize(permission: str, obj: Any = None, user=None) -> None:
    """Abort with 403 unless allowed (used by views after loading the object)."""
    if not can(user or current_user, permission, obj):
        abort(403)


def reaches_top_level(user) -> bool:
    """True when one of the user's scopes is a top-level unit (the district): what district-wide settings — credential
    types, checklist templates — and rows naming no unit need."""
    return any(scope.org_unit.parent_id is None for scope in getattr(user, "scopes", ()))


def units_in_scope(user) -> list:
    """The org units a user reaches (their scope units); lists filter by these paths."""
    return [scope.org_unit for scope in user.scopes]


def _mark(view: Callable, rule: str) -> Callable:
    view._access_rule = rule  # read by the route audit test
    return view


def public(view: Callable) -> Callable:
    """Declare a route open to anyone, logged in or not."""
    return _mark(view, PUBLIC)


def requires(permission: str) -> Callable[[Callable], Callable]:
    """Declare and enforce the permission a route needs; anonymous users go to the login page."""
    if permission not in GRANTS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return _mark(wrapped, permission)

    return decorator


def rule_for_endpoint(endpoint: str) -> str | None:
    """The declared rule of an endpoint, or None when it has none (a defect the tests catch)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "_access_rule", None)
