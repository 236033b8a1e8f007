"""Second factor for admins and heads (check 9): enrolment with a QR code, TOTP with replay refused,
one-time recovery codes, admin reset, regeneration behind a fresh login."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.auth import twofactor
from app.general.auth.models import RecoveryCode
from tests import factories
from tests.general.auth.helpers import events, login_fully, post_login, reload, totp_now


def _codes(user) -> list[RecoveryCode]:
    return list(db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id)))


def _setup_secret(app, user) -> str:
    return twofactor.setup_secret(app.config["SECRET_KEY"], user)


@pytest.mark.parametrize("role", ["admin", "head"])
def test_admins_and_heads_cannot_open_any_page_before_the_second_factor(client, org, role):
    user = factories.make_user(role, unit=org.school_a)
    post_login(client, user.email)
    for path in ("/", "/auth/account", "/auth/users/", "/auth/reauthenticate"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/two-factor?"), path


def test_teachers_and_parents_need_no_second_factor(client, org):
    for role in ("teacher", "parent"):
        user = factories.make_user(role, unit=org.school_a)
        post_login(client, user.email)
        assert client.get("/auth/account").status_code == 200
        assert client.get("/auth/two-factor").status_code == 302
        assert client.get("/auth/two-factor/setup").status_code == 302  # nothing to enrol
        client.post("/auth/logout")


def test_a_current_code_completes_the_login_and_goes_to_next(client, org):
    admin = factories.make_user("admin", unit=org.school_a)
    post_login(client, admin.email, next="/auth/users/")
    response = client.post("/auth/two-factor", data={"code": totp_now(admin), "next": "/auth/users/"})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/users/"
    assert client.get("/auth/users/").status_code == 200
    assert events("auth.second_factor_passed")[0].changes["method"] == "totp"


def test_a_code_cannot_be_used_twice(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a)
    code = totp_now(admin)
    post_login(client, admin.email)
    assert client.post("/auth/two-factor", data={"code": code}).status_code == 302
    client.post("/auth/logout")
    post_login(client, admin.email)
    replay = client.post("/auth/two-factor", data={"code": code})
    assert replay.status_code == 200
    assert events("auth.second_factor_failed")[-1].changes["reason"] == "replayed_code"


def test_codes_one_step_apart_are_accepted_two_steps_apart_refused(org):
    admin = factories.make_user("admin", unit=org.school_a)
    totp, now = pyotp.TOTP(admin.totp_secret), time.time()
    assert twofactor.matching_counter(admin.totp_secret, totp.at(now - 30), at=now) == totp.timecode(now) - 1
    assert twofactor.matching_counter(admin.totp_secret, totp.at(now + 30), at=now) == totp.timecode(now) + 1
    assert twofactor.matching_counter(admin.totp_secret, totp.at(now - 60), at=now) is None
    assert twofactor.matching_counter(admin.totp_secret, "12345", at=now) is None


def test_a_wrong_code_is_refused_and_audited(client, org):
    admin = factories.make_user("admin", unit=org.school_a)
    post_login(client, admin.email)
    response = client.post("/auth/two-factor", data={"code": "000000" if totp_now(admin) != "000000" else "111111"})
    assert response.status_code == 200
    assert "That code is not valid" in response.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 302
    assert events("auth.second_factor_failed")[0].changes["reason"] == "wrong_code"


def _enrol(app, client, admin) -> list[str]:
    secret = _setup_secret(app, admin)
    response = client.post("/auth/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "shown only this once" in html
    return _codes_in(html)


def _codes_in(html: str) -> list[str]:
    return re.findall(r">([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<", html)


def test_enrolment_shows_a_qr_code_as_inline_svg_and_confirms_with_a_code(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    post_login(client, admin.email)
    response = client.get("/")
    assert response.headers["Location"].startswith("/auth/two-factor/setup")
    page = client.get("/auth/two-factor/setup").get_data(as_text=True)
    assert "<svg" in page and "<script>" not in page and "<script " not in page.replace(
        '<script src="', "")
    secret = _setup_secret(app, admin)
    assert secret[:4] in page
    assert reload(admin).totp_secret is None  # showing the page stores nothing
    codes = _enrol(app, client, admin)
    assert len(codes) == 10 and len(set(codes)) == 10
    admin = reload(admin)
    assert admin.totp_secret == secret and admin.totp_enabled_at is not None
    stored = _codes(admin)
    assert len(stored) == 10
    assert not any(code in row.code_hash for row in stored for code in codes)
    assert client.get("/auth/account").status_code == 200
    assert events("auth.second_factor_enabled")


def test_the_setup_page_shows_the_same_secret_until_it_is_confirmed(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    post_login(client, admin.email)
    first = client.get("/auth/two-factor/setup").get_data(as_text=True)
    second = client.get("/auth/two-factor/setup").get_data(as_text=True)
    secret = _setup_secret(app, admin)
    assert secret[:4] in first and secret[:4] in second


def test_enrolment_with_a_wrong_code_changes_nothing(client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    post_login(client, admin.email)
    response = client.post("/auth/two-factor/setup", data={"code": "12345x"})
    assert response.status_code == 200
    assert reload(admin).totp_enabled_at is None and not _codes(admin)


def test_an_enrolled_user_cannot_enrol_again_to_skip_the_second_factor(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a)
    post_login(client, admin.email)
    response = client.get("/auth/two-factor/setup")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/two-factor?")
    attacker_secret = _setup_secret(app, admin)
    client.post("/auth/two-factor/setup", data={"code": pyotp.TOTP(attacker_secret).now()})
    assert reload(admin).totp_secret != attacker_secret
    assert client.get("/auth/account").status_code == 302


def test_a_recovery_code_works_once(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    post_login(client, admin.email)
    codes = _enrol(app, client, admin)
    client.post("/auth/logout")
    post_login(client, admin.email)
    assert client.post("/auth/two-factor", data={"code": codes[3].upper()}).status_code == 302
    assert events("auth.second_factor_passed")[-1].changes == {
        "method": "recovery_code", "purpose": "login", "recovery_codes_left": 9}
    client.post("/auth/logout")
    post_login(client, admin.email)
    assert client.post("/auth/two-factor", data={"code": codes[3]}).status_code == 200
    assert client.post("/auth/two-factor", data={"code": codes[4].replace("-", "")}).status_code == 302


def test_regenerating_recovery_codes_needs_a_fresh_login_and_voids_the_old_ones(app, client, org):
    admin = factories.make_user("admin", unit=org.school_a, totp=False)
    post_login(client, admin.email)
    old = _enrol(app, client, admin)
    with client.session_transaction() as sess:
        sess.pop("_fresh_at")
    assert client.post("/auth/account/recovery-codes").headers["Location"].startswith("/auth/reauthenticate")
    client.post("/auth/reauthenticate", data={"password": factories.TEST_PASSWORD, "code": old[0]})
    response = client.post("/auth/account/recovery-codes")
    assert response.status_code == 200
    new = _codes_in(response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    client.post("/auth/logout")
    post_login(client, admin.email)
    assert client.post("/auth/two-factor", data={"code": old[1]}).status_code == 200
    assert client.post("/auth/two-factor", data={"code": new[0]}).status_code == 302
    assert events("auth.recovery_codes_regenerated")


def test_an_admin_resets_a_heads_second_factor_after_a_fresh_login(app, client, org):
    head = factories.make_user("head", unit=org.school_a)
    head_browser = app.test_client()
    login_fully(head_browser, head)
    admin = factories.make_user("admin", unit=org.school_a)
    login_fully(client, admin)
    assert client.get(f"/auth/users/{head.id}/reset-second-factor").status_code == 200
    assert client.post(f"/auth/users/{head.id}/reset-second-factor").status_code == 302
    head = reload(head)
    assert head.totp_secret is None and head.totp_enabled_at is None and not _codes(head)
    assert head_browser.get("/auth/account").status_code == 302  # logged out by the epoch bump
    event = events("auth.second_factor_reset")[0]
    assert event.actor_id == admin.id and event.subject_id == str(head.id)
    login = post_login(head_browser, head.email)
    assert login.status_code == 302
    assert head_browser.get("/").headers["Location"].startswith("/auth/two-factor/setup")


def test_resetting_a_second_factor_needs_a_fresh_login(client, org, login_as):
    head = factories.make_user("head", unit=org.school_a)
    login_as("admin", fresh=False)
    response = client.post(f"/auth/users/{head.id}/reset-second-factor")
    assert response.headers["Location"].startswith("/auth/reauthenticate")
    assert reload(head).totp_enabled_at is not None


def test_an_admin_cannot_reset_the_second_factor_of_someone_outside_their_scope(client, org, login_as):
    head_b = factories.make_user("head", unit=org.school_b)
    login_as("admin", unit=org.school_a)
    assert client.post(f"/auth/users/{head_b.id}/reset-second-factor").status_code == 404
    assert reload(head_b).totp_enabled_at is not None
