"""Logging in and out, the second factor and re-authentication. Flush, audit, never commit."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.general.auth import passwords, queries, twofactor
from app.general.auth.models import LoginAttempt, RecoveryCode, User

log = logging.getLogger(__name__)


def _attempt(email: str, user: User | None, ip: str, *, succeeded: bool, reason: str = "") -> None:
    db.session.add(LoginAttempt(email=email[:254], user_id=user.id if user else None, ip=ip[:64],
                                succeeded=succeeded, reason=reason))


def _refusal(user: User | None, password_ok: bool) -> str:
    if user is None:
        return "unknown_user"
    if not user.password_hash:
        return "no_password"
    if not password_ok:
        return "bad_password"
    if not user.is_active:
        return "inactive"
    return ""


def authenticate(email: str, password: str, *, ip: str) -> User | None:
    """The user whose e-mail and password these are, if the account is active; every attempt is logged.

    The password is checked even for an unknown or deactivated account, so the answer takes as long.
    """
    address = (email or "").strip().lower()[:254]
    user = queries.user_by_email(address)
    password_ok = passwords.verify_password(user.password_hash if user else None, password)
    reason = _refusal(user, password_ok)
    if reason:
        _attempt(address, user, ip, succeeded=False, reason=reason)
        record("auth.login_failed", subject=user, subject_type="User", changes={"email": address, "reason": reason})
        log.info("login failed for %r: %s", address, reason)
        return None
    rehashed = passwords.needs_rehash(user.password_hash)
    if rehashed:  # legacy or weaker hash: upgrade now that we hold the plain password
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    _attempt(address, user, ip, succeeded=True)
    record("auth.login_succeeded", subject=user, actor=user, changes={"email": address, "rehashed": rehashed})
    db.session.flush()
    return user


def note_throttled(email: str, ip: str) -> None:
    """Log a login attempt refused by the throttle (the password was not even checked)."""
    address = (email or "").strip().lower()[:254]
    _attempt(address, queries.user_by_email(address), ip, succeeded=False, reason="throttled")
    db.session.flush()


def end_all_sessions(user: User) -> None:
    """Bump the session epoch: every session and remember-me cookie of the user stops working."""
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.flush()


def log_out(user: User) -> None:
    """The user logs out: all their sessions end (a copied cookie stops working too)."""
    end_all_sessions(user)
    record("auth.logout", subject=user, actor=user)


def _use_recovery_code(user: User, code: str) -> bool:
    unused = db.session.scalars(
        sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    for stored in unused:
        if twofactor.recovery_code_matches(stored.code_hash, code):
            stored.used_at = utcnow()
            return True
    return False


def _check_code(user: User, code: str) -> tuple[str, str]:
    """(method, "") when `code` is a valid TOTP or an unused recovery code, else ("", reason)."""
    if not user.totp_secret or not user.totp_enabled_at:
        return "", "not_enrolled"
    if twofactor.is_totp_shaped(code):
        counter = twofactor.matching_counter(user.totp_secret, code)
        if counter is None:
            return "", "wrong_code"
        if user.totp_last_counter is not None and counter <= user.totp_last_counter:
            return "", "replayed_code"
        user.totp_last_counter = counter
        return "totp", ""
    if _use_recovery_code(user, code):
        return "recovery_code", ""
    return "", "wrong_code"


def verify_second_factor(user: User, code: str, *, purpose: str = "login") -> bool:
    """Check a TOTP code (±1 step, never the same step twice) or a one-time recovery code; audited."""
    method, reason = _check_code(user, code)
    if not method:
        record("auth.second_factor_failed", subject=user, actor=user, changes={"reason": reason, "purpose": purpose})
        db.session.flush()
        return False
    changes = {"method": method, "purpose": purpose}
    if method == "recovery_code":
        changes["recovery_codes_left"] = remaining_recovery_codes(user)
    record("auth.second_factor_passed", subject=user, actor=user, changes=changes)
    db.session.flush()
    return True


def remaining_recovery_codes(user: User) -> int:
    """How many unused recovery codes the user has."""
    db.session.flush()
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = twofactor.generate_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=twofactor.hash_recovery_code(c)) for c in codes)
    db.session.flush()
    return codes


def enable_second_factor(user: User, secret: str, code: str) -> list[str]:
    """Turn on TOTP with `secret` once the user proves their app shows `code`; returns new recovery codes.

    :raises ValidationFailed: when the code does not match (field `code`).
    """
    counter = twofactor.matching_counter(secret, code)
    if counter is None:
        raise ValidationFailed(_("That code is not valid. Check the time on your phone and try the newest code."),
                               field="code")
    user.totp_secret, user.totp_enabled_at, user.totp_last_counter = secret, utcnow(), counter
    codes = _replace_recovery_codes(user)
    record("auth.second_factor_enabled", subject=user, actor=user)
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace all recovery codes of the user by 10 new ones (shown once)."""
    codes = _replace_recovery_codes(user)
    record("auth.recovery_codes_regenerated", subject=user, actor=user)
    return codes


def reauthenticate(user: User, password: str, code: str | None) -> bool:
    """Confirm identity for a sensitive action: the password, plus the second factor when enrolled."""
    if not passwords.verify_password(user.password_hash, password):
        record("auth.reauthentication_failed", subject=user, actor=user, changes={"reason": "bad_password"})
        db.session.flush()
        return False
    if user.needs_second_factor or user.totp_enabled_at:
        if not verify_second_factor(user, code or "", purpose="reauthentication"):
            return False
    record("auth.reauthenticated", subject=user, actor=user)
    db.session.flush()
    return True
