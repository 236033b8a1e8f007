"""Signed, expiring links for password reset (1 hour) and invitations (7 days).

A token carries the user id and a fingerprint of the current password hash and session epoch;
setting a password changes both, so a token works once.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.extensions import db
from app.general.auth.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenKind:
    salt: str
    max_age: timedelta
    endpoint: str


PASSWORD_RESET = TokenKind("staffroom.auth.password-reset", timedelta(hours=1), "auth.reset_password")
INVITATION = TokenKind("staffroom.auth.invitation", timedelta(days=7), "auth.accept_invitation")


def _serializer(kind: TokenKind) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=kind.salt)


def fingerprint(user: User) -> str:
    """Changes whenever the password is set or the sessions are ended."""
    material = f"{user.id}|{user.password_hash or ''}|{user.session_epoch}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def make_token(user: User, kind: TokenKind) -> str:
    """A signed token for `user`; it stops working after `kind.max_age` or once the password is set."""
    return _serializer(kind).dumps({"u": user.id, "f": fingerprint(user)})


def load_user(token: str, kind: TokenKind) -> User | None:
    """The active user a token was made for, or None when it is forged, expired or already used."""
    try:
        data = _serializer(kind).loads(token, max_age=int(kind.max_age.total_seconds()))
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or not hmac.compare_digest(str(data.get("f")), fingerprint(user)):
        return None
    return user


def absolute_url(endpoint: str, **values) -> str:
    """A link for an e-mail, built on PUBLIC_BASE_URL so that a forged Host header cannot redirect it."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if base:
        return base + url_for(endpoint, _external=False, **values)
    if has_request_context():
        log.warning("PUBLIC_BASE_URL is not set: e-mail links use the request's host %s", request.host)
    return url_for(endpoint, _external=True, **values)


def link_for(user: User, kind: TokenKind) -> str:
    """The absolute link that opens the set-password page for `user`."""
    return absolute_url(kind.endpoint, token=make_token(user, kind))
