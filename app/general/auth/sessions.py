"""Session rules checked on every request: epoch, idle and absolute timeouts, second factor, locale."""
from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, has_request_context, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from app.core.models import utcnow
from app.core.net import is_safe_next
from app.extensions import db, login_manager
from app.general.auth.models import User

log = logging.getLogger(__name__)

# Endpoints a logged-in user may reach before passing the second factor.
SECOND_FACTOR_OPEN = {
    "auth.two_factor", "auth.two_factor_setup", "auth.logout", "auth.set_language",
    "static", "bootstrap.static",
}

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to open that page.")
login_manager.login_message_category = "info"
login_manager.needs_refresh_message = _l("Please confirm your password to continue.")
login_manager.needs_refresh_message_category = "info"
login_manager.session_protection = "basic"

# Remember-me never lasts longer than this, whatever REMEMBER_COOKIE_DURATION says.
MAX_REMEMBER = timedelta(days=7)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the user only if the session's epoch is still current and the account is active."""
    try:
        user_id, epoch = (int(part) for part in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


def _ts(name: str) -> datetime | None:
    value = session.get(name)
    return datetime.fromisoformat(value) if value else None


def start_session(user: User, *, second_factor_passed: bool) -> None:
    """Stamp a freshly logged-in session (the caller has already rotated it via login_user)."""
    now = utcnow().isoformat()
    session["_auth_at"] = now
    session["_last_seen"] = now
    session["_fresh_at"] = now
    session["_2fa_ok"] = second_factor_passed or not user.needs_second_factor


def _remember_duration() -> timedelta:
    return min(current_app.config.get("REMEMBER_COOKIE_DURATION") or MAX_REMEMBER, MAX_REMEMBER)


def log_in(user: User, *, remember: bool) -> None:
    """Log `user` in on a new session: whatever the browser carried before is dropped (no fixation)."""
    session.clear()
    login_user(user, remember=remember, duration=_remember_duration())
    start_session(user, second_factor_passed=False)


def log_out() -> None:
    """Forget the session and the remember-me cookie of this browser (the caller bumps the epoch)."""
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember-me cookie


def keep_this_browser(user: User) -> None:
    """After the epoch was bumped (password change), re-issue this browser's login with the new epoch."""
    had_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    login_user(user, remember=had_cookie, duration=_remember_duration())


def mark_second_factor_passed() -> None:
    """The second factor was checked: the session may open every page, and counts as fresh."""
    now = utcnow().isoformat()
    session["_2fa_ok"] = True
    session["_fresh_at"] = now


def mark_fresh() -> None:
    """The password (and second factor) were just re-entered."""
    session["_fresh_at"] = utcnow().isoformat()


def is_fresh() -> bool:
    """True when the user re-entered their password within FRESH_LOGIN_WINDOW."""
    fresh_at = _ts("_fresh_at")
    return fresh_at is not None and utcnow() - fresh_at <= current_app.config["FRESH_LOGIN_WINDOW"]


def _return_path() -> str | None:
    """Where to go back after re-authenticating: this page, or for a form post the page that held the form."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return path if is_safe_next(path) else None


def fresh_login_required(view):
    """Sensitive actions (exports of personal data, signing, approving departures) need a recent password."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated and not is_fresh():
            flash(login_manager.needs_refresh_message, login_manager.needs_refresh_message_category)
            return redirect(url_for("auth.reauthenticate", next=_return_path()))
        return view(*args, **kwargs)

    if hasattr(view, "_access_rule"):
        wrapped._access_rule = view._access_rule
    return wrapped


def _expired() -> str | None:
    now = utcnow()
    auth_at, last_seen = _ts("_auth_at"), _ts("_last_seen")
    if auth_at and now - auth_at > current_app.config["SESSION_ABSOLUTE_TIMEOUT"]:
        return "absolute"
    if last_seen and now - last_seen > current_app.config["SESSION_IDLE_TIMEOUT"]:
        return "idle"
    return None


def _check_session():
    if request.endpoint in {"static", "bootstrap.static"} or not current_user.is_authenticated:
        return None
    reason = _expired()
    if reason:
        from app.general.audit.services import record

        record("auth.session_expired", subject=current_user, changes={"reason": reason})
        db.session.commit()
        log_out()  # also deletes the remember-me cookie: a timeout is not undone by remember-me
        flash(_l("Your session has expired. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    now = utcnow().isoformat()
    if "_auth_at" not in session:  # restored from a remember-me cookie: a new session begins
        session["_auth_at"] = now
        session["_2fa_ok"] = not current_user.needs_second_factor
    session["_last_seen"] = now
    if current_user.needs_second_factor and not session.get("_2fa_ok") and request.endpoint not in SECOND_FACTOR_OPEN:
        endpoint = "auth.two_factor" if current_user.totp_enabled_at else "auth.two_factor_setup"
        return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))
    return None


def select_locale() -> str:
    """The user's own setting, else the language chosen on the login page, else the browser's."""
    languages = list(current_app.config["LANGUAGES"])
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def register(app: Flask) -> None:
    app.before_request(_check_session)
