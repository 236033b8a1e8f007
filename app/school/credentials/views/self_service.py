"""Teachers: "My certificates" and one's own credential page; the card on the staff profile; the teacher
dashboard's upcoming expiries."""
from __future__ import annotations

from typing import Any

from flask import render_template

from app.general.auth.policy import authorize, can, requires
from app.school.credentials import forms, queries, services
from app.school.credentials.models import Credential
from app.school.credentials.views import bp
from app.school.credentials.views.common import actor, load_own
from app.school.staff import queries as staff_queries
from app.school.staff.models import StaffMember
from app.school.staff.views.profile import register_profile_card


@bp.get("/mine")
@requires("credentials.view_own")
def mine():
    """The teacher's certificates with status and countdown, hours against each renewal rule, their training,
    and the required credentials they lack."""
    staff = staff_queries.staff_for_user(actor())
    if staff is None:
        return render_template("staff/not_linked.html")
    authorize("credentials.view_own", staff)
    today = queries.local_today()
    return render_template("credentials/mine.html", staff=staff, mine=queries.my_certificates(staff, today),
                           today=today, confirm=forms.VersionedForm())


@bp.get("/mine/<int:credential_id>")
@requires("credentials.view_own")
def own(credential_id: int):
    """One's own credential: status, periods, documents, renewal and the training counted."""
    credential = load_own(Credential, credential_id, "credentials.view_own")
    page = queries.credential_page(credential, queries.local_today())
    progress = services.hours_progress(credential) if credential.type.renewal_hours and credential.is_open else None
    return render_template("credentials/show.html", page=page, credential=credential, own=True, manage=False,
                           may_attach=can(actor(), "credentials.attach", credential), progress=progress,
                           document_form=forms.DocumentForm(), confirm=forms.VersionedForm(
                               version=page.open_renewal.version if page.open_renewal else None))


# --- the staff profile card -------------------------------------------------------------------------------


def _profile_card(staff: StaffMember, viewer: Any, own: bool) -> dict | None:
    """The person's credentials on their profile: admins and heads in scope, and the teacher on "My profile"."""
    permission = "credentials.view_own" if own else "credentials.view"
    if not can(viewer, permission, staff):
        return None
    credentials = queries.credentials_of(staff)
    today = queries.local_today()
    return {"credentials": credentials, "statuses": queries.statuses(credentials, today), "today": today,
            "may_record": not own and can(viewer, "credentials.manage", staff)}


register_profile_card("credentials/_profile_card.html", order=30, context=_profile_card)


# --- the teacher dashboard --------------------------------------------------------------------------------


def dashboard_expiries(user, days: int = 90) -> list[tuple[Credential, int]] | None:
    """The teacher's credentials expiring within `days` (None when the user has no staff record to look at)."""
    if not can(user, "credentials.view_own"):
        return None
    staff = staff_queries.staff_for_user(user)
    if staff is None:
        return None
    return queries.upcoming_expiries(staff, queries.local_today(), days)
