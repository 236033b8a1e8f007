"""Idle (30 minutes) and absolute (12 hours) session timeouts (check 7), and fresh re-login (check 8)."""
from __future__ import annotations

from datetime import timedelta

from app.core.models import utcnow
from tests import factories
from tests.general.auth.helpers import REMEMBER_COOKIE, client_with_cookies, events, post_login, totp_now


def _age(client, **ages: timedelta) -> None:
    with client.session_transaction() as sess:
        for key, age in ages.items():
            sess[key] = (utcnow() - age).isoformat()


def _refused(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_a_session_idle_for_29_minutes_still_works(client, org):
    post_login(client, factories.make_user("teacher", unit=org.school_a).email)
    _age(client, _last_seen=timedelta(minutes=29))
    assert client.get("/auth/account").status_code == 200


def test_a_session_idle_for_31_minutes_is_ended_and_audited(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    _age(client, _last_seen=timedelta(minutes=31))
    response = client.get("/auth/account")
    assert _refused(response)
    assert "next=/auth/account" in response.headers["Location"]
    assert events("auth.session_expired")[0].changes == {"reason": "idle"}
    assert _refused(client.get("/auth/account"))  # stays logged out


def test_activity_keeps_an_idle_timer_from_running_out(client, org):
    post_login(client, factories.make_user("teacher", unit=org.school_a).email)
    for _ in range(3):
        _age(client, _last_seen=timedelta(minutes=25))
        assert client.get("/auth/account").status_code == 200


def test_an_active_session_ends_after_12_hours_whatever_the_activity(client, org):
    post_login(client, factories.make_user("teacher", unit=org.school_a).email)
    _age(client, _auth_at=timedelta(hours=11, minutes=59), _last_seen=timedelta(minutes=1))
    assert client.get("/auth/account").status_code == 200
    _age(client, _auth_at=timedelta(hours=12, minutes=1), _last_seen=timedelta(minutes=1))
    assert _refused(client.get("/auth/account"))
    assert events("auth.session_expired")[0].changes == {"reason": "absolute"}


def test_a_timeout_also_ends_remember_me(client, org):
    """Remember-me (opt-in, at most 7 days, bound to the epoch) does not outlive the idle timeout (ASVS 3.3.2)."""
    admin = factories.make_user("admin", unit=org.school_a)
    post_login(client, admin.email, remember="y")
    client.post("/auth/two-factor", data={"code": totp_now(admin)})
    assert client.get_cookie(REMEMBER_COOKIE) is not None
    _age(client, _last_seen=timedelta(minutes=45))
    assert _refused(client.get("/auth/account"))
    assert client.get_cookie(REMEMBER_COOKIE) is None
    assert _refused(client.get("/auth/account"))


def test_a_session_restored_from_remember_me_is_not_fresh(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, remember="y")
    browser = client_with_cookies(app, **{REMEMBER_COOKIE: client.get_cookie(REMEMBER_COOKIE).value})
    assert browser.get("/auth/account").status_code == 200
    with browser.session_transaction() as sess:
        assert "_fresh_at" not in sess and sess["_auth_at"]


# --- fresh login -------------------------------------------------------------------------------


def test_a_sensitive_page_sends_a_stale_session_to_reauthenticate_with_next(client, org, login_as):
    admin = login_as("admin", fresh=False)
    assert admin.totp_enabled_at
    response = client.get("/auth/account/recovery-codes")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/reauthenticate?next=/auth/account/recovery-codes"


def test_reauthentication_with_password_and_code_makes_the_session_fresh(client, org, login_as):
    admin = login_as("admin", fresh=False)
    response = client.post("/auth/reauthenticate", data={
        "password": factories.TEST_PASSWORD, "code": totp_now(admin), "next": "/auth/account/recovery-codes"})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/account/recovery-codes"
    assert client.get("/auth/account/recovery-codes").status_code == 200
    assert events("auth.reauthenticated")


def test_reauthentication_of_an_admin_needs_the_second_factor_too(client, org, login_as):
    login_as("admin", fresh=False)
    response = client.post("/auth/reauthenticate", data={"password": factories.TEST_PASSWORD, "code": "000000"})
    assert response.status_code == 200
    assert client.get("/auth/account/recovery-codes").status_code == 302
    missing = client.post("/auth/reauthenticate", data={"password": factories.TEST_PASSWORD})
    assert missing.status_code == 200
    assert client.get("/auth/account/recovery-codes").status_code == 302


def test_reauthentication_with_a_wrong_password_is_refused_and_audited(client, org, login_as):
    teacher = login_as("teacher", fresh=False)
    page = client.get("/auth/reauthenticate")
    assert 'name="code"' not in page.get_data(as_text=True)  # no second factor for a teacher
    response = client.post("/auth/reauthenticate", data={"password": "not my password at all"})
    assert response.status_code == 200
    assert "The password or the code is not correct." in response.get_data(as_text=True)
    assert events("auth.reauthentication_failed")[0].subject_id == str(teacher.id)
    with client.session_transaction() as sess:
        assert "_fresh_at" not in sess


def test_a_fresh_login_lasts_ten_minutes(client, org, login_as):
    admin = login_as("admin")
    assert admin.totp_enabled_at
    assert client.get("/auth/account/recovery-codes").status_code == 200
    _age(client, _fresh_at=timedelta(minutes=11))
    assert client.get("/auth/account/recovery-codes").status_code == 302


def test_reauthentication_ignores_an_unsafe_next(client, org, login_as):
    login_as("teacher", fresh=False)
    response = client.post("/auth/reauthenticate", data={"password": factories.TEST_PASSWORD,
                                                         "next": "//evil.example/steal"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_stale_form_post_returns_to_the_form_after_reauthentication(client, org, login_as):
    login_as("admin", fresh=False)
    head = factories.make_user("head", unit=org.school_a)
    form_page = f"/auth/users/{head.id}/reset-second-factor"
    response = client.post(form_page, headers={"Referer": f"http://localhost{form_page}?from=list"})
    assert response.headers["Location"] == f"/auth/reauthenticate?next={form_page}?from%3Dlist"
    foreign = client.post(form_page, headers={"Referer": "https://evil.example/auth/account"})
    assert foreign.headers["Location"] == "/auth/reauthenticate"
