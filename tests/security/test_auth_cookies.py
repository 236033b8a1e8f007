"""Cookie flags (check 5): Secure, HttpOnly, SameSite=Lax on the session and remember-me cookies;
remember-me lasts at most 7 days, whatever the configuration says."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from app.extensions import db
from config import Config, ProductionConfig
from tests import factories
from tests.general.auth.helpers import REMEMBER_COOKIE, SESSION_COOKIE, other_app

HTTPS = "https://staffroom.example"


def _set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def _expires(header: str) -> datetime:
    for part in header.split(";"):
        if part.strip().lower().startswith("expires="):
            return parsedate_to_datetime(part.split("=", 1)[1])
    raise AssertionError(f"no Expires in {header}")


@pytest.fixture
def secure_app(app, db):
    with other_app(app, SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True) as application:
        yield application


def _login(application, email: str, **extra):
    return application.test_client().post("/auth/login", base_url=HTTPS, data={
        "email": email, "password": factories.TEST_PASSWORD, **extra})


def test_the_configuration_asks_for_secure_cookies():
    for config in (Config, ProductionConfig):
        assert config.SESSION_COOKIE_HTTPONLY and config.REMEMBER_COOKIE_HTTPONLY
        assert config.SESSION_COOKIE_SAMESITE == config.REMEMBER_COOKIE_SAMESITE == "Lax"
        assert config.REMEMBER_COOKIE_DURATION <= timedelta(days=7)
    assert ProductionConfig.validate  # refuses insecure cookies (tests/security/test_production_config.py)


def test_session_and_remember_cookies_are_secure_httponly_and_lax(secure_app, org):
    email = factories.make_user("teacher", unit=org.school_a).email
    db.session.commit()
    response = _login(secure_app, email, remember="y")
    assert response.status_code == 302
    cookies = _set_cookies(response)
    for name in (SESSION_COOKIE, REMEMBER_COOKIE):
        flags = [flag.strip().lower() for flag in cookies[name].split(";")]
        assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags, cookies[name]


def test_remember_me_lasts_seven_days_at_most(secure_app, org):
    email = factories.make_user("teacher", unit=org.school_a).email
    db.session.commit()
    expires = _expires(_set_cookies(_login(secure_app, email, remember="y"))[REMEMBER_COOKIE])
    assert expires <= datetime.now(UTC) + timedelta(days=7, minutes=1)
    assert expires >= datetime.now(UTC) + timedelta(days=6, hours=23)


def test_a_longer_configured_remember_duration_is_capped_at_seven_days(app, db, org):
    email = factories.make_user("teacher", unit=org.school_a).email
    db.session.commit()
    with other_app(app, REMEMBER_COOKIE_DURATION=timedelta(days=365)) as careless:
        expires = _expires(_set_cookies(_login(careless, email, remember="y"))[REMEMBER_COOKIE])
    assert expires <= datetime.now(UTC) + timedelta(days=7, minutes=1)


def test_without_remember_me_there_is_no_remember_cookie_and_the_session_ends_with_the_browser(secure_app, org):
    email = factories.make_user("teacher", unit=org.school_a).email
    db.session.commit()
    cookies = _set_cookies(_login(secure_app, email))
    assert REMEMBER_COOKIE not in cookies
    assert "expires=" not in cookies[SESSION_COOKIE].lower()
