"""Dashboards: one per role, filled by the modules as they land."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.general.auth.policy import can, requires
from app.general.org import queries as org_queries
from app.school.dashboard import queries

bp = Blueprint("dashboard", __name__)


@dataclass(frozen=True)
class QuickLink:
    permission: str
    endpoint: str
    label: object
    hint: object


# What each role can open from its dashboard; a link shows when the user holds the permission.
QUICK_LINKS = (
    QuickLink("org.view", "org.index", _l("Organisation"),
              _l("The district, its schools and their departments.")),
    QuickLink("users.view", "auth.users", _l("Users"),
              _l("Accounts of staff and parents: roles, schools, access.")),
    QuickLink("audit.view", "audit.index", _l("Audit log"),
              _l("Every change in your schools, who made it and when.")),
    QuickLink("inbox.view", "notifications.inbox", _l("Inbox"),
              _l("Messages and notices sent to you.")),
    QuickLink("account.manage_own", "auth.account", _l("My account"),
              _l("Your password, second factor and language.")),
)


def quick_links(user) -> list[dict]:
    """The links of QUICK_LINKS this user may open (and whose page is installed)."""
    return [
        {"url": url_for(link.endpoint), "label": link.label, "hint": link.hint}
        for link in QUICK_LINKS
        if link.endpoint in current_app.view_functions and can(user, link.permission)
    ]


def _children(user) -> list:
    """A parent's children with their classes and teachers today (the "My children" page's own query)."""
    from app.school.classes import queries as class_queries

    if not can(user, "children.view_own"):
        return []
    guardian = class_queries.guardian_for_user(user)
    return class_queries.children_of(guardian, class_queries.local_today()) if guardian is not None else []


def _credential_expiries(user):
    """A teacher's credentials expiring in the next 90 days (None: no card)."""
    from app.school.credentials.views.self_service import dashboard_expiries

    return dashboard_expiries(user)


def _teaching(user):
    """The teaching and pay card's figures (None: no card for this user)."""
    from app.school.teaching.dashboard import card_for

    return card_for(user)


def _departures(user):
    """The departures card (admins and heads) and a parent's unread notices."""
    from app.school.offboarding.dashboard import card_for, own_case, unread_notices

    return card_for(user), unread_notices(user), own_case(user)


@bp.get("/")
@requires("dashboard.view")
def index():
    """The dashboard of the logged-in user's role."""
    user = current_user
    departures, unread, my_departure = _departures(user)
    return render_template(
        f"dashboard/{user.role}.html",
        schools=org_queries.schools_in_reach(user),
        unit_counts=org_queries.counts_by_kind(user),
        links=quick_links(user),
        inbox=queries.latest_inbox(user),
        events=queries.recent_audit_events(user) if can(user, "audit.view") else [],
        children=_children(user),
        expiries=_credential_expiries(user),
        teaching=_teaching(user) if user.role != "parent" else None,
        departures=departures,
        unread_notices=unread,
        my_departure=my_departure,
    )
