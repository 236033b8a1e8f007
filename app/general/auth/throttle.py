"""Throttling of the credential forms with Flask-Limiter.

Only POSTs are counted, and only failed ones (a view calls `mark_failed()`) except for the
reset request, where every request sends an e-mail. Keys: the
submitted e-mail (per account), the logged-in user (second factor, re-authentication), and the
client address as ProxyFix resolved it (per IP; a forged X-Forwarded-For is not trusted).
When the Redis storage is down Flask-Limiter falls back to memory (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user

from app.core.net import client_ip
from app.extensions import db, limiter

log = logging.getLogger(__name__)

_FAILED = "staffroom.auth_failed"

# Defaults for the limits that config.py does not name; an app may override them in its config.
DEFAULTS = {
    "TWO_FACTOR_LIMIT_PER_USER": "5 per 5 minutes",
    "PASSWORD_LIMIT_PER_USER": "5 per 15 minutes",
    "PASSWORD_RESET_LIMIT_PER_ACCOUNT": "3 per hour",
    "PASSWORD_RESET_LIMIT_PER_IP": "20 per hour",
}


def mark_failed() -> None:
    """Count this request against the throttles of its view (wrong password, wrong code...)."""
    request.environ[_FAILED] = True


def _failed(_response) -> bool:
    return bool(request.environ.get(_FAILED))


def _config(name: str) -> Callable[[], str]:
    return lambda: current_app.config.get(name) or DEFAULTS[name]


def account_key() -> str:
    """The account a credential form names: the lower-cased e-mail as submitted."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def user_key() -> str:
    """The logged-in user (second factor, re-authentication, password change)."""
    return f"user:{current_user.id}" if current_user.is_authenticated else "user:anonymous"


def ip_key() -> str:
    return "ip:" + client_ip()


def _log_throttled_login(_limit) -> None:
    """A refused login is still a login attempt: keep its row (the 429 handler audits auth.throttled)."""
    from app.general.auth import services

    try:
        services.note_throttled(request.form.get("email") or "", client_ip())
        db.session.commit()
    except Exception:  # the 429 answer must not depend on this write
        db.session.rollback()
        log.exception("could not log a throttled login attempt")


def _limits(*specs: tuple[str, Callable[[], str], str], count_all: bool = False, on_breach=None) -> Callable:
    """Stack one Flask-Limiter limit per (config name, key function, scope) on a view's POST."""

    def decorator(view: Callable) -> Callable:
        for name, key_func, scope in specs:
            view = limiter.limit(
                _config(name), key_func=key_func, scope=scope, methods=["POST"],
                deduct_when=None if count_all else _failed, on_breach=on_breach,
            )(view)
        return view

    return decorator


login_limits = _limits(
    ("LOGIN_LIMIT_PER_ACCOUNT", account_key, "login-account"),
    ("LOGIN_LIMIT_PER_IP", ip_key, "login-ip"),
    on_breach=_log_throttled_login,
)
second_factor_limits = _limits(
    ("TWO_FACTOR_LIMIT_PER_USER", user_key, "second-factor-user"),
    ("LOGIN_LIMIT_PER_IP", ip_key, "second-factor-ip"),
)
password_check_limits = _limits(
    ("PASSWORD_LIMIT_PER_USER", user_key, "password-user"),
    ("LOGIN_LIMIT_PER_IP", ip_key, "password-ip"),
)
reset_limits = _limits(
    ("PASSWORD_RESET_LIMIT_PER_ACCOUNT", account_key, "reset-account"),
    ("PASSWORD_RESET_LIMIT_PER_IP", ip_key, "reset-ip"),
    count_all=True,  # every request sends an e-mail: count them all
)
