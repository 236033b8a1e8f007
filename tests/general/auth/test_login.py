"""Login: one answer for every failure, every attempt logged and audited, session rotated, hashes upgraded."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.general.auth import passwords
from app.general.auth.models import LoginAttempt
from tests import factories
from tests.factories import TEST_PASSWORD
from tests.general.auth.helpers import events, post_login, reload


def _attempts(email: str) -> list[LoginAttempt]:
    return list(db.session.scalars(sa.select(LoginAttempt).where(LoginAttempt.email == email)))


def test_login_with_the_right_password_opens_the_dashboard(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    response = post_login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/auth/account").status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    unknown = post_login(client, "nobody@example.test", "whatever password 1")
    wrong = post_login(client, user.email, "whatever password 1")
    assert unknown.status_code == wrong.status_code == 200
    body_unknown = unknown.get_data(as_text=True).replace("nobody@example.test", "EMAIL")
    body_wrong = wrong.get_data(as_text=True).replace(user.email, "EMAIL")
    assert "The e-mail or password is not correct." in body_wrong
    assert _strip_ids(body_unknown) == _strip_ids(body_wrong)


def _strip_ids(html: str) -> str:
    import re

    return re.sub(r'(csrf_token[^>]*value=")[^"]*', r"\1", re.sub(r"<code>[0-9a-f]{32}</code>", "", html))


def test_an_unknown_email_still_costs_a_password_hash(client, db, monkeypatch):
    calls = []
    original = passwords._safe_verify
    monkeypatch.setattr(passwords, "_safe_verify", lambda h, p: calls.append(h) or original(h, p))
    post_login(client, "nobody@example.test", "whatever password 1")
    assert calls == [passwords._DUMMY_HASH]


def test_a_deactivated_account_cannot_log_in_and_gets_the_common_answer(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    user.is_active_account = False
    db.session.flush()
    response = post_login(client, user.email)
    assert response.status_code == 200
    assert "The e-mail or password is not correct." in response.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 302
    assert _attempts(user.email)[-1].reason == "inactive"


def test_every_attempt_is_logged_and_audited_without_the_password(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, "a wrong password here")
    post_login(client, "nobody@example.test", "another wrong one")
    post_login(client, user.email.upper())
    rows = _attempts(user.email)
    assert [(r.succeeded, r.reason) for r in rows] == [(False, "bad_password"), (True, "")]
    assert rows[0].user_id == user.id and rows[0].ip == "127.0.0.1"
    assert _attempts("nobody@example.test")[0].reason == "unknown_user"
    failed, succeeded = events("auth.login_failed"), events("auth.login_succeeded")
    assert [e.changes["reason"] for e in failed] == ["bad_password", "unknown_user"]
    assert succeeded[0].actor_id == user.id and succeeded[0].subject_id == str(user.id)
    for event in failed + succeeded:
        text = str(event.changes)
        assert "wrong" not in text and TEST_PASSWORD not in text


def test_login_email_is_case_insensitive(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    assert post_login(client, "  " + user.email.upper() + " ").status_code == 302


def test_login_rotates_the_session(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["_user_id"] = "999:1"
    before = client.get_cookie("staffroom_session").value
    post_login(client, user.email)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == user.get_id()
        assert sess["_auth_at"] and sess["_fresh_at"]
    assert client.get_cookie("staffroom_session").value != before


def test_a_legacy_werkzeug_hash_is_accepted_once_and_upgraded_to_argon2id(client, org):
    for method in ("scrypt", "pbkdf2:sha256"):
        user = factories.make_user("teacher", unit=org.school_a)
        user.password_hash = generate_password_hash(TEST_PASSWORD, method=method)
        db.session.flush()
        assert post_login(client, user.email).status_code == 302
        upgraded = reload(user).password_hash
        assert upgraded.startswith("$argon2id$")
        assert passwords.verify_password(upgraded, TEST_PASSWORD)
        assert events("auth.login_succeeded")[-1].changes["rehashed"] is True
        client.post("/auth/logout")


def test_a_wrong_password_does_not_upgrade_a_legacy_hash(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    legacy = generate_password_hash(TEST_PASSWORD, method="scrypt")
    user.password_hash = legacy
    db.session.flush()
    post_login(client, user.email, "not the password at all")
    assert reload(user).password_hash == legacy


def test_an_account_without_a_password_cannot_log_in(client, org):
    user = factories.make_user("teacher", unit=org.school_a, password=None)
    response = post_login(client, user.email, "")
    assert response.status_code == 200
    response = post_login(client, user.email, "anything at all 123")
    assert "The e-mail or password is not correct." in response.get_data(as_text=True)


def test_a_logged_in_user_opening_the_login_page_goes_on(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    response = client.get("/auth/login?next=/auth/account")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/account"


def test_login_page_renders_for_anonymous_visitors(client, db):
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html and 'name="remember"' in html
    assert "<script>" not in html
