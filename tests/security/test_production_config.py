"""Production refuses unsafe settings; error pages are generic (check 29)."""
from __future__ import annotations

import pytest

from app import create_app
from config import ProductionConfig

GOOD = {
    "SECRET_KEY": "s" * 48,
    "AUDIT_HMAC_KEY": "a" * 48,
    "SESSION_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_SECURE": True,
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "MAIL_BACKEND": "smtp",
    "DEBUG": False,
    "PUBLIC_BASE_URL": "https://staffroom.example.org",
}


def test_production_starts_with_safe_settings():
    ProductionConfig.validate(dict(GOOD))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DEBUG": True}, "DEBUG"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"AUDIT_HMAC_KEY": ""}, "AUDIT_HMAC_KEY"),
        ({"AUDIT_HMAC_KEY": "s" * 48}, "differ"),
        ({"SESSION_COOKIE_SECURE": False}, "Secure"),
        ({"REMEMBER_COOKIE_SECURE": False}, "Secure"),
        ({"MAX_CONTENT_LENGTH": None}, "upload limit"),
        ({"MAIL_BACKEND": "file"}, "MAIL_BACKEND"),
        ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "http://staffroom.example.org"}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(change, message):
    with pytest.raises(RuntimeError, match=message):
        ProductionConfig.validate({**GOOD, **change})


def test_create_app_in_production_without_a_secret_key_fails(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig, SECRET_KEY="")


def test_server_error_page_is_generic_and_carries_the_request_id(db):
    from app.general.auth.policy import public
    from config import TestConfig

    application = create_app(TestConfig, TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @application.get("/__boom")
    @public
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    response = application.test_client().get("/__boom", headers={"Accept": "text/html"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "hunter2" not in body and "Traceback" not in body
    assert response.headers["X-Request-ID"] in body
    assert response.headers["Cache-Control"] == "no-store"
