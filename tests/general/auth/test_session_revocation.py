"""A copied session or remember-me cookie stops working after logout, password change and
deactivation (check 6): the session epoch in the cookie no longer matches the account's."""
from __future__ import annotations

from tests import factories
from tests.factories import TEST_PASSWORD
from tests.general.auth.helpers import (
    NEW_PASSWORD,
    REMEMBER_COOKIE,
    SESSION_COOKIE,
    client_with_cookies,
    events,
    login_fully,
    post_login,
    reload,
)


def _refused(response) -> bool:
    return response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_logout_is_post_only(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/auth/account").status_code == 200


def test_logout_ends_the_session_bumps_the_epoch_and_is_audited(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    epoch = user.session_epoch
    response = client.post("/auth/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert reload(user).session_epoch == epoch + 1
    assert _refused(client.get("/auth/account"))
    assert events("auth.logout")[0].actor_id == user.id


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    stolen = client.get_cookie(SESSION_COOKIE).value
    thief = client_with_cookies(app, **{SESSION_COOKIE: stolen})
    assert thief.get("/auth/account").status_code == 200  # the copy works while the owner is logged in
    client.post("/auth/logout")
    assert _refused(client_with_cookies(app, **{SESSION_COOKIE: stolen}).get("/auth/account"))


def test_a_remember_me_cookie_copied_before_logout_is_refused_after_it(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, remember="y")
    remembered = client.get_cookie(REMEMBER_COOKIE).value
    assert client_with_cookies(app, **{REMEMBER_COOKIE: remembered}).get("/auth/account").status_code == 200
    client.post("/auth/logout")
    assert client.get_cookie(REMEMBER_COOKIE) is None  # the browser's own copy is deleted
    assert _refused(client_with_cookies(app, **{REMEMBER_COOKIE: remembered}).get("/auth/account"))


def test_a_password_change_logs_out_every_other_browser_but_keeps_this_one(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, remember="y")
    copied_session = client.get_cookie(SESSION_COOKIE).value
    copied_remember = client.get_cookie(REMEMBER_COOKIE).value
    response = client.post("/auth/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/auth/account").status_code == 200
    assert _refused(client_with_cookies(app, **{SESSION_COOKIE: copied_session}).get("/auth/account"))
    assert _refused(client_with_cookies(app, **{REMEMBER_COOKIE: copied_remember}).get("/auth/account"))
    renewed = client.get_cookie(REMEMBER_COOKIE).value  # this browser's remember-me carries the new epoch
    assert client_with_cookies(app, **{REMEMBER_COOKIE: renewed}).get("/auth/account").status_code == 200


def test_deactivation_by_an_admin_ends_the_users_sessions_at_once(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, remember="y")
    copied = {SESSION_COOKIE: client.get_cookie(SESSION_COOKIE).value,
              REMEMBER_COOKIE: client.get_cookie(REMEMBER_COOKIE).value}
    admin = factories.make_user("admin", unit=org.school_a)
    admin_browser = app.test_client()
    login_fully(admin_browser, admin)
    assert admin_browser.post(f"/auth/users/{user.id}/deactivate").status_code == 302
    assert not reload(user).is_active_account
    assert _refused(client.get("/auth/account"))
    assert _refused(client_with_cookies(app, **copied).get("/auth/account"))
    assert post_login(app.test_client(), user.email).status_code == 200  # and cannot log in again


def test_a_cookie_with_a_forged_epoch_is_refused(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    factories.log_in(client, user)
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user.id}:{user.session_epoch + 5}"
    assert _refused(client.get("/auth/account"))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user.id}"
    assert _refused(client.get("/auth/account"))
