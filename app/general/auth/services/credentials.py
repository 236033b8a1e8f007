"""Setting and changing passwords, reset links and invitations. Flush, audit, never commit."""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask_babel import gettext as _

from app.core.errors import Conflict, ValidationFailed
from app.core.models import utcnow
from app.general.audit.services import SYSTEM, record
from app.general.auth import passwords, queries, tokens
from app.general.auth.models import User
from app.general.auth.services.signin import end_all_sessions
from app.general.notifications.services import notify

log = logging.getLogger(__name__)


def _store_password(user: User, new_password: str) -> None:
    passwords.validate_password(new_password, email=user.email)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    end_all_sessions(user)  # also makes every reset or invitation link already sent stop working


def change_password(user: User, current_password: str, new_password: str) -> None:
    """The user changes their own password; every other session of theirs ends.

    :raises ValidationFailed: wrong current password (field `current_password`) or a weak new one.
    """
    if not passwords.verify_password(user.password_hash, current_password):
        record("auth.password_change_failed", subject=user, actor=user, changes={"reason": "bad_password"})
        raise ValidationFailed(_("Your current password is not correct."), field="current_password")
    _store_password(user, new_password)
    record("auth.password_changed", subject=user, actor=user)


def set_password(user: User, new_password: str, *, action: str, actor: Any = None) -> None:
    """Set a password from a reset or invitation link (or the CLI); all sessions end.

    :raises ValidationFailed: when the password breaks the rules.
    """
    _store_password(user, new_password)
    record(action, subject=user, actor=actor or user)


def _key(prefix: str, user: User, token: str) -> str:
    return f"{prefix}:{user.id}:{hashlib.sha256(token.encode()).hexdigest()[:32]}"


def request_password_reset(email: str) -> None:
    """E-mail a 1-hour reset link if an active account has this address; the caller answers the same either way."""
    address = (email or "").strip().lower()[:254]
    user = queries.user_by_email(address)
    if user is None or not user.is_active:
        record("auth.password_reset_requested", changes={"email": address, "sent": False})
        return
    token = tokens.make_token(user, tokens.PASSWORD_RESET)
    notify(
        template="auth/messages/password_reset", channel="email", key=_key("auth.password_reset", user, token),
        user=user, context={
            "link": tokens.absolute_url(tokens.PASSWORD_RESET.endpoint, token=token),
            "display_name": user.display_name,
            "expires_minutes": int(tokens.PASSWORD_RESET.max_age.total_seconds() // 60),
        },
    )
    record("auth.password_reset_requested", subject=user, changes={"email": address, "sent": True})


def send_invitation(user: User, *, actor: Any) -> None:
    """E-mail a 7-day link with which a new account sets its first password.

    :raises Conflict: when the account already has a password.
    """
    if user.password_hash:
        raise Conflict(_("This person has already set a password."))
    if not user.is_active:
        raise Conflict(_("This account is deactivated."))
    token = tokens.make_token(user, tokens.INVITATION)
    notify(
        template="auth/messages/invitation", channel="email", key=_key("auth.invitation", user, token),
        user=user, context={
            "link": tokens.absolute_url(tokens.INVITATION.endpoint, token=token),
            "display_name": user.display_name,
            "inviter": getattr(actor, "display_name", None) if actor != SYSTEM else None,
            "expires_days": tokens.INVITATION.max_age.days,
        },
    )
    record("auth.invitation_sent", subject=user, actor=actor)
    log.info("invitation sent to user %s", user.id)

