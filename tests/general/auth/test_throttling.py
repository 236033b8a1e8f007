"""Login throttling (check 3): per account and per IP, 429, a forged X-Forwarded-For changes nothing,
still limited when the Redis storage is down."""
from __future__ import annotations

import socket

import sqlalchemy as sa

from app.extensions import db, limiter
from app.general.auth.models import LoginAttempt
from tests import factories
from tests.general.auth.helpers import events, other_app, post_login


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_the_sixth_failed_login_on_one_account_is_refused_with_429(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    for _ in range(5):  # LOGIN_LIMIT_PER_ACCOUNT = 5 per 15 minutes
        assert post_login(client, user.email, "wrong password 123").status_code == 200
    refused = post_login(client, user.email)  # even the right password now waits
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 302
    assert events("auth.throttled")
    throttled = db.session.scalars(sa.select(LoginAttempt).where(LoginAttempt.reason == "throttled")).all()
    assert [row.email for row in throttled] == [user.email]


def test_the_account_key_ignores_case_and_spaces(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    for variant in (user.email, user.email.upper(), f" {user.email} ", user.email.title(), user.email):
        post_login(client, variant, "wrong password 123")
    assert post_login(client, user.email.upper()).status_code == 429


def test_successful_logins_do_not_count_against_the_account(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    for _ in range(6):
        assert post_login(client, user.email).status_code == 302
        client.post("/auth/logout")


def test_one_account_throttled_leaves_the_others_alone(client, org):
    victim, colleague = (factories.make_user("teacher", unit=org.school_a) for _ in range(2))
    for _ in range(6):
        post_login(client, victim.email, "wrong password 123")
    assert post_login(client, colleague.email).status_code == 302


def test_login_page_get_is_never_throttled(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    for _ in range(6):
        post_login(client, user.email, "wrong password 123")
    assert client.get("/auth/login").status_code == 200


def test_many_accounts_from_one_ip_are_throttled_per_ip(app, db, org):
    db.session.commit()
    with other_app(app, LOGIN_LIMIT_PER_IP="3 per 15 minutes") as ip_app:
        browser = ip_app.test_client()
        for n in range(3):
            assert post_login(browser, f"spray{n}@example.test", "wrong password 123").status_code == 200
        assert post_login(browser, "spray9@example.test", "wrong password 123").status_code == 429


def test_a_forged_x_forwarded_for_does_not_change_the_ip_key(app, db, org):
    """One trusted proxy: only the address it appended counts, whatever the client wrote before it."""
    db.session.commit()
    with other_app(app, PROXY_FIX_HOPS=1, LOGIN_LIMIT_PER_IP="3 per 15 minutes") as proxied:
        browser = proxied.test_client()
        for n in range(4):
            forged = f"10.9.{n}.{n}, 203.0.113.7"  # "10.9.n.n" written by the attacker, the rest by our proxy
            response = browser.post("/auth/login", headers={"X-Forwarded-For": forged},
                                    data={"email": f"spray{n}@example.test", "password": "wrong pw 1234"})
        assert response.status_code == 429
        rows = db.session.scalars(sa.select(LoginAttempt).where(LoginAttempt.email.like("spray%"))).all()
        assert {row.ip for row in rows} == {"203.0.113.7"}


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app, db, org):
    db.session.commit()
    with other_app(app, LOGIN_LIMIT_PER_IP="2 per 15 minutes") as direct:
        browser = direct.test_client()
        for n in range(3):
            response = browser.post("/auth/login", headers={"X-Forwarded-For": f"198.51.100.{n}"},
                                    data={"email": f"spray{n}@example.test", "password": "wrong pw 1234"})
        assert response.status_code == 429


def test_login_is_still_throttled_when_the_redis_storage_is_down(app, db, org):
    db.session.commit()
    dead_redis = f"redis://127.0.0.1:{_closed_port()}/0"
    with other_app(app, RATELIMIT_STORAGE_URI=dead_redis, LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes") as offline:
        browser = offline.test_client()
        codes = [post_login(browser, "target@example.test", "wrong password 123").status_code for _ in range(4)]
        assert limiter._storage_dead  # Redis was tried, failed, and the in-memory fallback counted
    assert codes == [200, 200, 200, 429]


def test_the_second_factor_is_throttled_per_user(client, org):
    admin = factories.make_user("admin", unit=org.school_a)
    assert post_login(client, admin.email).status_code == 302
    for _ in range(5):  # TWO_FACTOR_LIMIT_PER_USER = 5 per 5 minutes
        assert client.post("/auth/two-factor", data={"code": "000000"}).status_code == 200
    assert client.post("/auth/two-factor", data={"code": "000000"}).status_code == 429


def test_password_reset_requests_are_throttled_per_account(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    codes = [client.post("/auth/forgot-password", data={"email": user.email}).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
