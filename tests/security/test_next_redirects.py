"""`next` only ever leads to a same-origin path (check 15)."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from app.core.net import is_safe_next
from tests import factories
from tests.general.auth.helpers import post_login, totp_now

EVIL = [
    "//evil.example", "//evil.example/steal", "///evil.example", "/\\evil.example", "\\/evil.example",
    "\\\\evil.example", "/\\/evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "https://evil.example", "http://evil.example/", "HTTPS://evil.example", "ftp://evil.example",
    "data:text/html,<script>alert(1)</script>", "evil.example", " //evil.example", "/\t/evil.example",
    "/\r\n//evil.example", "/\x00//evil.example", "https:evil.example", "//evil.example@staffroom",
]
# Written percent-encoded in a query string: decoded to the forms above before they are checked.
EVIL_ENCODED = ["/%5Cevil.example", "%2F%2Fevil.example", "/%5C/evil.example", "%5C%5Cevil.example",
                "javascript%3Aalert(1)", "/%09/evil.example", "%2f%2fevil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_is_safe_next_refuses_other_origins(target):
    assert not is_safe_next(target)


@pytest.mark.parametrize("target", ["/", "/auth/account", "/auth/users/?q=a&page=2", "/org/3#top", "/%5Cevil"])
def test_is_safe_next_accepts_same_origin_paths(target):
    assert is_safe_next(target)


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_off_site_through_a_posted_next(client, org, target):
    user = factories.make_user("teacher", unit=org.school_a)
    response = post_login(client, user.email, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("encoded", EVIL_ENCODED)
def test_login_never_redirects_off_site_through_a_query_next(client, org, encoded):
    user = factories.make_user("teacher", unit=org.school_a)
    response = client.post(f"/auth/login?next={encoded}", data={"email": user.email,
                                                                 "password": factories.TEST_PASSWORD})
    assert response.headers["Location"] == "/"


def test_login_keeps_a_same_origin_next(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    response = client.post(f"/auth/login?next={quote('/auth/account?tab=1')}",
                           data={"email": user.email, "password": factories.TEST_PASSWORD})
    assert response.headers["Location"] == "/auth/account?tab=1"


def test_an_encoded_backslash_path_stays_on_site(client, org):
    """A literal "%5C" in a posted next is a path on this site, never a host."""
    user = factories.make_user("teacher", unit=org.school_a)
    location = post_login(client, user.email, next="/%5Cevil.example").headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target", EVIL[:12])
def test_the_second_factor_page_never_redirects_off_site(client, org, target):
    admin = factories.make_user("admin", unit=org.school_a)
    post_login(client, admin.email)
    response = client.post("/auth/two-factor", data={"code": totp_now(admin), "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", EVIL[:12])
def test_the_language_switch_never_redirects_off_site(client, db, target):
    response = client.post("/auth/language", data={"locale": "zh", "next": target})
    assert response.headers["Location"] == "/"


def test_the_login_page_drops_an_unsafe_next_from_its_form(client, db):
    html = client.get("/auth/login?next=//evil.example").get_data(as_text=True)
    hidden = re.search(r'<input[^>]*name="next"[^>]*>', html).group(0)
    assert 'value=""' in hidden and "evil" not in hidden
