"""Helpers for the auth tests (plain functions; the fixtures are in conftest.py)."""
from __future__ import annotations

import contextlib
import re

import pyotp
import sqlalchemy as sa

from app import create_app
from app.extensions import db, limiter
from app.general.audit.models import AuditEvent
from app.general.auth.models import User
from config import TestConfig
from tests.factories import TEST_PASSWORD

SESSION_COOKIE = "staffroom_session"
REMEMBER_COOKIE = "staffroom_remember"
NEW_PASSWORD = "plum orchard lantern 42"


def post_login(client, email: str, password: str = TEST_PASSWORD, **extra):
    """Submit the login form as a browser would."""
    return client.post("/auth/login", data={"email": email, "password": password, **extra})


def totp_now(user: User) -> str:
    return pyotp.TOTP(user.totp_secret).now()


def login_fully(client, user: User, password: str = TEST_PASSWORD, **extra):
    """The real login form, then the second factor when the role needs one."""
    response = post_login(client, user.email, password, **extra)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if user.needs_second_factor:
        response = client.post("/auth/two-factor", data={"code": totp_now(user)})
        assert response.status_code == 302
    return response


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def cookie(client, name: str):
    return client.get_cookie(name)


def client_with_cookies(app, **cookies):
    """A fresh browser that carries only the given cookies (a thief replaying a copied cookie)."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@contextlib.contextmanager
def other_app(main_app, **overrides):
    """A second application on the same database with different settings.

    The limiter is one object bound to every app: put its storage back on the main app afterwards.
    """
    application = create_app(TestConfig, **overrides)
    try:
        yield application
    finally:
        limiter.init_app(main_app)
        limiter._storage_dead = False  # a test with a dead Redis storage leaves the fallback switched on
        limiter.reset()
