"""Names render escaped (check 16): user list, account page, navigation and the e-mails we send."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from tests import factories

NASTY = {
    "script": ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    "template": ("{{7*7}}", "{{7*7}}"),
    "quote": ("O'Hara", "O&#39;Hara"),
    "kana": ("ねこ", "ねこ"),
    "attribute": ('"><img src=x onerror=alert(1)>', "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
}


def _named(org, name: str, role: str = "teacher"):
    user = factories.make_user(role, unit=org.school_a)
    user.display_name = name
    db.session.flush()
    return user


def _assert_escaped(html: str, raw: str, escaped: str) -> None:
    assert escaped in html
    if raw != escaped:
        assert raw not in html


def test_names_are_escaped_on_the_user_list_and_edit_page(client, org, login_as):
    login_as("admin", unit=org.school_a)
    users = {key: _named(org, raw) for key, (raw, _escaped) in NASTY.items()}
    listing = client.get("/auth/users/?status=all").get_data(as_text=True)
    for key, (raw, escaped) in NASTY.items():
        _assert_escaped(listing, raw, escaped)
        _assert_escaped(client.get(f"/auth/users/{users[key].id}").get_data(as_text=True), raw, escaped)


def test_names_are_escaped_on_the_account_page_and_in_the_navigation(client, org, login_as):
    for raw, escaped in NASTY.values():
        user = _named(org, raw)
        login_as(user=user)
        html = client.get("/auth/account").get_data(as_text=True)
        _assert_escaped(html, raw, escaped)
        assert html.count(escaped) >= 2  # the page and the navigation menu


def test_names_are_escaped_in_the_invitation_email_and_kept_plain_in_its_text(client, org, login_as):
    login_as("admin", unit=org.school_a)
    raw, escaped = NASTY["script"]
    client.post("/auth/users/new", data={"email": "nasty@example.org", "display_name": raw, "role": "teacher",
                                         "scopes": [org.school_a.id], "locale": "en"})
    mail = db.session.scalar(sa.select(Notification).where(Notification.template == "auth/messages/invitation"))
    _assert_escaped(mail.body_html, raw, escaped)
    assert raw in mail.body_text and "\n" not in mail.subject


def test_the_template_syntax_in_a_name_is_not_evaluated(client, org, login_as):
    login_as(user=_named(org, "{{7*7}} {% raw %}"))
    html = client.get("/auth/account").get_data(as_text=True)
    assert "{{7*7}} {% raw %}" in html
