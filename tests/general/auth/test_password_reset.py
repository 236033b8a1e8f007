"""Password reset by e-mail and invitations: same answer for every address, a signed link that works
once and expires, bound to the password and the session epoch; links built on PUBLIC_BASE_URL."""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import itsdangerous.timed
import sqlalchemy as sa

from app.extensions import db
from app.general.auth import passwords, tokens
from app.general.notifications.models import Notification
from tests import factories
from tests.general.auth.helpers import NEW_PASSWORD, events, post_login, reload


def _mails(template: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.template == template)
                                   .order_by(Notification.id)))


def _link(mail: Notification) -> str:
    return re.search(r"https?://\S+", mail.body_text).group(0)


def _path(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def _reset_path(user) -> str:
    return f"/auth/reset/{tokens.make_token(user, tokens.PASSWORD_RESET)}"


def _request_reset(client, email: str):
    return client.post("/auth/forgot-password", data={"email": email})


def _flashes(client) -> list:
    with client.session_transaction() as sess:
        return sess.pop("_flashes", [])


def test_a_reset_request_answers_the_same_for_known_and_unknown_addresses(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    known = _request_reset(client, user.email)
    known_flashes = _flashes(client)
    unknown = _request_reset(client, "nobody@example.test")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == "/auth/login"
    assert known_flashes == _flashes(client) != []
    mails = _mails("auth/messages/password_reset")
    assert [m.recipient_user_id for m in mails] == [user.id]
    assert mails[0].channel == "email" and mails[0].recipient_address == user.email


def test_the_reset_mail_carries_a_link_that_sets_a_new_password_once(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    _request_reset(client, user.email)
    mail = _mails("auth/messages/password_reset")[0]
    path = _path(_link(mail))
    assert path.startswith("/auth/reset/")
    assert path in (mail.body_html or "")
    assert client.get(path).status_code == 200
    response = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert passwords.verify_password(reload(user).password_hash, NEW_PASSWORD)
    assert post_login(client, user.email, NEW_PASSWORD).status_code == 302
    client.post("/auth/logout")
    again = client.post(path, data={"new_password": "another fine password", "confirm": "another fine password"})
    assert again.status_code == 400 and "This link does not work" in again.get_data(as_text=True)
    audit = events("auth.password_reset")
    assert audit[0].subject_id == str(user.id)
    token = path.rsplit("/", 1)[1]
    assert all(token not in str(e.changes) for e in events("auth.password_reset_requested") + audit)


def test_a_reset_ends_every_session_of_the_user(app, client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email)
    link = _reset_path(user)
    epoch = user.session_epoch
    app.test_client().post(link, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert reload(user).session_epoch == epoch + 1
    assert client.get("/auth/account").status_code == 302


def test_a_reset_link_expires_after_one_hour(client, org, monkeypatch):
    user = factories.make_user("teacher", unit=org.school_a)
    path = _reset_path(user)
    later = time.time() + 3601
    monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: later))
    assert client.get(path).status_code == 400


def test_a_reset_link_stops_working_after_a_logout(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    path = _reset_path(user)
    post_login(client, user.email)
    client.post("/auth/logout")
    assert client.get(path).status_code == 400


def test_forged_or_swapped_tokens_are_refused(client, org):
    user = factories.make_user("teacher", unit=org.school_a, password=None)
    invitation = tokens.make_token(user, tokens.INVITATION)
    assert client.get(f"/auth/reset/{invitation}").status_code == 400  # other salt
    assert client.get(f"/auth/invitation/{invitation[:-2]}xx").status_code == 400
    assert client.get("/auth/reset/not-a-token").status_code == 400


def test_the_new_password_must_follow_the_rules(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    path = _reset_path(user)
    for weak in ("short pw", "password1234", user.email):
        response = client.post(path, data={"new_password": weak, "confirm": weak})
        assert response.status_code == 200
    mismatch = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert "The two passwords differ." in mismatch.get_data(as_text=True)
    assert passwords.verify_password(reload(user).password_hash, factories.TEST_PASSWORD)


def test_no_mail_for_a_deactivated_account(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    user.is_active_account = False
    db.session.flush()
    assert _request_reset(client, user.email).status_code == 302
    assert _mails("auth/messages/password_reset") == []


def test_links_use_public_base_url_not_the_host_header(app, client, org, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://staff.example.org")
    user = factories.make_user("teacher", unit=org.school_a)
    client.post("/auth/forgot-password", data={"email": user.email}, headers={"Host": "evil.example"})
    link = _link(_mails("auth/messages/password_reset")[0])
    assert link.startswith("https://staff.example.org/auth/reset/")


def test_the_reset_mail_is_written_in_the_recipients_language(client, org):
    user = factories.make_user("teacher", unit=org.school_a, locale="zh")
    _request_reset(client, user.email)
    assert _mails("auth/messages/password_reset")[0].locale == "zh"


# --- invitations -------------------------------------------------------------------------------


def test_an_invited_user_sets_a_password_and_logs_in(client, app, org, login_as):
    login_as("admin", unit=org.school_a)
    response = client.post("/auth/users/new", data={
        "email": "New.Teacher@Example.org", "display_name": "New Teacher", "role": "teacher",
        "scopes": [org.school_a.id], "locale": "en"})
    assert response.status_code == 302
    mail = _mails("auth/messages/invitation")[0]
    assert mail.recipient_address == "new.teacher@example.org"
    path = _path(_link(mail))
    assert path.startswith("/auth/invitation/")
    newcomer = app.test_client()
    page = newcomer.get(path)
    assert page.status_code == 200 and "new.teacher@example.org" in page.get_data(as_text=True)
    done = newcomer.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert post_login(newcomer, "new.teacher@example.org", NEW_PASSWORD).status_code == 302
    assert newcomer.get(path).status_code == 400  # used
    assert events("auth.invitation_accepted")


def test_an_invitation_lasts_seven_days(client, org, monkeypatch):
    user = factories.make_user("teacher", unit=org.school_a, password=None)
    path = f"/auth/invitation/{tokens.make_token(user, tokens.INVITATION)}"
    now = time.time()
    monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: now + 6 * 86400))
    assert client.get(path).status_code == 200
    monkeypatch.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: now + 7 * 86400 + 60))
    assert client.get(path).status_code == 400


def test_an_admin_can_send_the_invitation_again_until_a_password_is_set(client, org, login_as):
    login_as("admin", unit=org.school_a)
    invited = factories.make_user("teacher", unit=org.school_a, password=None)
    assert client.post(f"/auth/users/{invited.id}/invite").status_code == 302
    assert len(_mails("auth/messages/invitation")) == 1
    settled = factories.make_user("teacher", unit=org.school_a)
    client.post(f"/auth/users/{settled.id}/invite")
    assert len(_mails("auth/messages/invitation")) == 1
