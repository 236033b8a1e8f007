"""The account page: name and language, password change, language switch; posted extras are ignored."""
from __future__ import annotations

from app.general.auth import passwords
from tests import factories
from tests.factories import TEST_PASSWORD
from tests.general.auth.helpers import NEW_PASSWORD, events, post_login, reload


def test_the_account_page_shows_the_users_details_and_forms(client, login_as):
    user = login_as("teacher")
    html = client.get("/auth/account").get_data(as_text=True)
    assert user.email in html and 'name="display_name"' in html and 'name="current_password"' in html
    assert "Two-step verification" not in html  # not for a teacher
    assert user.password_hash not in html


def test_an_admin_sees_the_second_factor_status_and_recovery_codes_link(client, login_as):
    login_as("admin")
    html = client.get("/auth/account").get_data(as_text=True)
    assert "Two-step verification" in html and "/auth/account/recovery-codes" in html


def test_profile_changes_name_and_language_and_is_audited(client, login_as):
    user = login_as("teacher")
    response = client.post("/auth/account/profile", data={"display_name": "  Mrs   O'Hara ", "locale": "zh"})
    assert response.status_code == 302
    user = reload(user)
    assert (user.display_name, user.locale) == ("Mrs O'Hara", "zh")
    assert events("auth.profile_updated")[0].changes["locale"] == ["en", "zh"]


def test_posted_role_status_scope_and_epoch_are_ignored_on_the_account_page(client, org, login_as):
    user = login_as("teacher")
    before = (user.role, user.is_active_account, user.session_epoch, [s.org_unit_id for s in user.scopes], user.email)
    client.post("/auth/account/profile", data={
        "display_name": "Still A Teacher", "locale": "en", "role": "admin", "is_active": "0",
        "is_active_account": "false", "school_id": org.school_b.id, "scopes": [org.district.id],
        "session_epoch": "999", "email": "boss@example.test", "password_hash": "x", "totp_secret": "AAAA"})
    user = reload(user)
    assert (user.role, user.is_active_account, user.session_epoch, [s.org_unit_id for s in user.scopes],
            user.email) == before
    assert user.display_name == "Still A Teacher" and user.totp_secret is None


def test_an_empty_name_or_an_unknown_language_is_refused(client, login_as):
    user = login_as("teacher")
    name = user.display_name
    assert client.post("/auth/account/profile", data={"display_name": "   ", "locale": "en"}).status_code == 400
    assert client.post("/auth/account/profile", data={"display_name": "X", "locale": "fr"}).status_code == 400
    assert reload(user).display_name == name


def test_changing_the_password_needs_the_current_one(client, login_as):
    user = login_as("teacher")
    response = client.post("/auth/account/password", data={
        "current_password": "not the current one", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    assert passwords.verify_password(reload(user).password_hash, TEST_PASSWORD)
    assert events("auth.password_change_failed")


def test_the_new_password_follows_the_rules(client, login_as):
    user = login_as("teacher")
    for weak in ("short one", "qwertyuiop123", user.email, "x" * 129):
        response = client.post("/auth/account/password", data={
            "current_password": TEST_PASSWORD, "new_password": weak, "confirm": weak})
        assert response.status_code == 400, weak
    assert passwords.verify_password(reload(user).password_hash, TEST_PASSWORD)


def test_a_password_change_bumps_the_epoch_and_is_audited_without_the_password(client, login_as):
    user = login_as("teacher")
    epoch = user.session_epoch
    response = client.post("/auth/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    user = reload(user)
    assert user.session_epoch == epoch + 1 and user.password_changed_at is not None
    assert passwords.verify_password(user.password_hash, NEW_PASSWORD)
    event = events("auth.password_changed")[0]
    assert NEW_PASSWORD not in str(event.changes) and TEST_PASSWORD not in str(event.changes)


def test_wrong_current_passwords_are_throttled(client, login_as):
    login_as("teacher")
    codes = [client.post("/auth/account/password", data={
        "current_password": f"guess number {n}", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        for n in range(6)]
    assert codes == [400] * 5 + [429]


def test_the_language_switch_saves_the_choice_on_the_account(client, login_as):
    user = login_as("teacher")
    response = client.post("/auth/language", data={"locale": "zh", "next": "/auth/account"})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/account"
    assert reload(user).locale == "zh"
    assert 'lang="zh-Hans"' in client.get("/auth/account").get_data(as_text=True)


def test_the_language_switch_uses_the_session_before_login(client, db):
    response = client.post("/auth/language", data={"locale": "zh", "next": "/auth/login"})
    assert response.headers["Location"] == "/auth/login"
    with client.session_transaction() as sess:
        assert sess["locale"] == "zh"
    assert 'lang="zh-Hans"' in client.get("/auth/login").get_data(as_text=True)


def test_the_language_switch_ignores_unknown_languages_and_unsafe_next(client, login_as):
    user = login_as("teacher")
    response = client.post("/auth/language", data={"locale": "xx", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert reload(user).locale == "en"


def test_the_language_switch_is_post_only(client, db):
    assert client.get("/auth/language?locale=zh").status_code == 405


def test_recent_logins_are_listed_on_the_account_page(client, org):
    user = factories.make_user("teacher", unit=org.school_a)
    post_login(client, user.email, "a wrong password!")
    post_login(client, user.email)
    html = client.get("/auth/account").get_data(as_text=True)
    assert "Refused" in html and "Logged in" in html
