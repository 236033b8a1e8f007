"""Security headers (check 14) on the auth pages: normal pages, redirects, errors, 429, logged-in pages."""
from __future__ import annotations

import pytest

from tests import factories
from tests.general.auth.helpers import post_login


def _assert_secure_headers(response, *, no_store: bool = True) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}
    assert headers["X-Frame-Options"] == "DENY"
    if no_store:
        assert "no-store" in headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/auth/login", "/auth/forgot-password"])
def test_public_pages_carry_the_security_headers(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    _assert_secure_headers(response)


def test_redirects_carry_the_security_headers(client, db):
    response = client.get("/auth/account")
    assert response.status_code == 302
    _assert_secure_headers(response)


def test_error_pages_carry_the_security_headers(client, org, login_as):
    _assert_secure_headers(client.get("/auth/reset/forged-token"))  # 400
    _assert_secure_headers(client.get("/auth/logout"))  # 405
    login_as("admin")
    _assert_secure_headers(client.get("/auth/users/999999"))  # 404
    login_as("teacher")
    response = client.get("/auth/users/")
    assert response.status_code == 403
    _assert_secure_headers(response)


def test_the_429_page_carries_the_security_headers(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    for _ in range(5):
        post_login(client, user.email, "wrong password 123")
    response = post_login(client, user.email, "wrong password 123")
    assert response.status_code == 429
    _assert_secure_headers(response)
    assert "Retry-After" in response.headers


@pytest.mark.parametrize("path", ["/auth/account", "/auth/users/", "/auth/users/new"])
def test_logged_in_pages_are_never_stored(client, login_as, path):
    login_as("admin")
    response = client.get(path)
    assert response.status_code == 200
    _assert_secure_headers(response, no_store=True)


def test_pages_have_no_inline_script(client, login_as):
    login_as("admin")
    for path in ("/auth/account", "/auth/users/", "/auth/users/new", "/auth/login"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick=" not in html and "javascript:" not in html
        for tag in html.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), path
