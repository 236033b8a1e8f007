"""Messages of the renewal workflow, through the notifications outbox (written in the caller's transaction)."""
from __future__ import annotations

from app.general.auth.models import Role
from app.general.contracts.services.common import admins_of, link
from app.general.notifications.services import notify_user
from app.school.credentials.models import Renewal
from app.school.credentials.status import RENEWAL_LABELS


def _context(renewal: Renewal) -> dict:
    credential = renewal.credential
    return {"type_name": credential.type.name, "staff_name": credential.staff.full_name,
            "expires_on": credential.expires_on, "status": str(RENEWAL_LABELS[renewal.status]),
            "reason": renewal.decision_reason,
            "new_expires_on": renewal.new_credential.expires_on if renewal.new_credential else None}


def renewal_submitted(renewal: Renewal) -> None:
    """Tell the reviewers in scope (admins and heads of the holder's school or department)."""
    staff = renewal.credential.staff
    context = {**_context(renewal), "link": link("credentials.renewal", renewal_id=renewal.id)}
    for reviewer in admins_of(staff.scope_unit, roles=(Role.ADMIN, Role.HEAD)):
        if reviewer.id != staff.user_id:
            notify_user(reviewer, template="credentials/messages/renewal_submitted",
                        key=f"renewal:{renewal.id}:submitted:user:{reviewer.id}", context=context,
                        channels=("inbox",))


def renewal_decided(renewal: Renewal) -> None:
    """Tell the holder the decision (their language, in the portal and by e-mail)."""
    user = renewal.credential.staff.user
    if user is None or not user.is_active:
        return
    notify_user(user, template="credentials/messages/renewal_decided", key=f"renewal:{renewal.id}:{renewal.status}",
                context={**_context(renewal), "link": link("credentials.mine")})
