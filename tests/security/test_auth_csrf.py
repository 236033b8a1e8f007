"""CSRF (check 13): with CSRF on, a POST without the token is refused and audited; with it, it works."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.auth.models import LoginAttempt, User
from tests import factories
from tests.general.auth.helpers import csrf_token_from, other_app, reload


@pytest.fixture
def csrf_app(app, db):
    """A second app on the same database with CSRF enforced (each of its requests has its own app context,
    which closes the test's session: commit test data before requesting)."""
    with other_app(app, WTF_CSRF_ENABLED=True) as application:
        yield application


def _csrf_failures() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "security.csrf_failed")))


def _teacher(org) -> tuple[int, str]:
    """A committed teacher's id and e-mail (the objects detach at the first request)."""
    user = factories.make_user("teacher", unit=org.school_a)
    db.session.commit()
    return user.id, user.email


def _user(user_id: int) -> User:
    return reload(SimpleNamespace(id=user_id))


def test_a_login_post_without_the_token_is_refused_and_audited(csrf_app, org):
    _uid, email = _teacher(org)
    response = csrf_app.test_client().post("/auth/login", data={"email": email,
                                                                "password": factories.TEST_PASSWORD})
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert [e.changes["path"] for e in _csrf_failures()] == ["/auth/login"]
    assert db.session.scalars(sa.select(LoginAttempt)).all() == []  # the password was never checked


def test_a_login_post_with_the_token_from_the_page_works(csrf_app, org):
    _uid, email = _teacher(org)
    browser = csrf_app.test_client()
    token = csrf_token_from(browser.get("/auth/login").get_data(as_text=True))
    response = browser.post("/auth/login", data={"email": email, "password": factories.TEST_PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302


def test_a_token_from_another_browser_is_refused(csrf_app, org):
    _uid, email = _teacher(org)
    attacker = csrf_app.test_client()
    token = csrf_token_from(attacker.get("/auth/login").get_data(as_text=True))
    victim = csrf_app.test_client()
    victim.get("/auth/login")
    response = victim.post("/auth/login", data={"email": email, "password": factories.TEST_PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 400


@pytest.mark.parametrize("path, data", [
    ("/auth/logout", {}),
    ("/auth/language", {"locale": "zh"}),
    ("/auth/account/profile", {"display_name": "Forged", "locale": "zh"}),
    ("/auth/account/password", {"current_password": factories.TEST_PASSWORD, "new_password": "forged password 99",
                                "confirm": "forged password 99"}),
])
def test_state_changing_posts_of_a_logged_in_user_need_the_token(csrf_app, org, path, data):
    uid, _email = _teacher(org)
    user = _user(uid)
    before = (user.session_epoch, user.locale, user.display_name, user.password_hash)
    browser = csrf_app.test_client()
    factories.log_in(browser, user)
    assert browser.post(path, data=data).status_code == 400
    user = _user(uid)
    assert (user.session_epoch, user.locale, user.display_name, user.password_hash) == before
    assert browser.get("/auth/account").status_code == 200  # still logged in
    assert _csrf_failures()[-1].actor_id == user.id


def test_admin_actions_need_the_token(csrf_app, org):
    admin_id = factories.make_user("admin", unit=org.school_a).id
    target_id, _email = _teacher(org)
    browser = csrf_app.test_client()
    factories.log_in(browser, _user(admin_id))
    assert browser.post(f"/auth/users/{target_id}/deactivate").status_code == 400
    assert _user(target_id).is_active_account
    page = browser.get(f"/auth/users/{target_id}").get_data(as_text=True)
    assert browser.post(f"/auth/users/{target_id}/deactivate",
                        data={"csrf_token": csrf_token_from(page)}).status_code == 302
    assert not _user(target_id).is_active_account
