"""Dashboards: each role gets its page, with its own schools, its own inbox and (admins) audit events in reach."""
from __future__ import annotations

import pytest

from app.core.models import utcnow
from app.extensions import db as _db
from app.general.audit.services import record
from app.general.notifications.models import Notification
from tests import factories


def _message(user, subject: str, *, channel: str = "inbox") -> Notification:
    row = Notification(idempotency_key=f"test:{user.id}:{subject}:{channel}", channel=channel,
                       recipient_user_id=user.id, recipient_address=user.email, template="test.message",
                       subject=subject, body_text=subject, status="sent", sent_at=utcnow())
    _db.session.add(row)
    _db.session.flush()
    return row


@pytest.mark.parametrize("role", ["admin", "head", "teacher", "parent"])
def test_each_role_gets_its_dashboard_with_its_school(client, org, login_as, role):
    user = login_as(role, unit=org.school_a)
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Welcome, {user.display_name}" in html
    assert "School A" in html and "School B" not in html
    assert "No messages yet" in html or "No notices yet" in html


def test_a_department_scope_shows_the_school_it_belongs_to(client, org, login_as):
    login_as("teacher", unit=org.dept_a)
    html = client.get("/").get_data(as_text=True)
    assert "School A" in html and "School B" not in html


def test_a_user_without_a_school_is_told_what_to_do(client, login_as):
    login_as(user=factories.make_user(role="teacher"))
    html = client.get("/").get_data(as_text=True)
    assert "You are not assigned to a school yet" in html


def test_latest_five_inbox_messages_of_the_user_only(client, org, login_as):
    user = login_as("teacher", unit=org.school_a)
    other = factories.make_user(role="teacher", unit=org.school_a)
    for n in range(7):
        _message(user, f"Notice number {n}")
    _message(user, "Sent by e-mail only", channel="email")
    _message(other, "Someone else's notice")
    html = client.get("/").get_data(as_text=True)
    listed = [n for n in range(7) if f"Notice number {n}<" in html]
    assert len(listed) == 5
    assert "Sent by e-mail only" not in html and "Someone else" not in html


def test_admin_sees_recent_audit_events_of_their_school_only(client, org, login_as):
    login_as("admin", unit=org.school_a)
    record("test.in_school_a", subject=org.dept_a, actor="system")
    record("test.in_school_b", subject=org.dept_b, actor="system")
    html = client.get("/").get_data(as_text=True)
    assert "test.in_school_a" in html and "test.in_school_b" not in html


def test_admin_quick_links_include_organisation_and_users(client, org, login_as):
    login_as("admin", unit=org.school_a)
    html = client.get("/").get_data(as_text=True)
    card = html[html.index('id="links-title"'):]
    card = card[:card.index("</section>")]
    for url in ("/org/", "/auth/users/", "/audit/", "/notifications/", "/auth/account"):
        assert f'href="{url}"' in card, url


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_dashboards_show_no_management_links(client, org, login_as, role):
    login_as(role, unit=org.school_a)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/org/"' not in html and 'href="/audit/"' not in html
    assert "Recent activity" not in html


def test_every_stylesheet_and_script_of_the_page_is_served(client, org, login_as):
    import re

    login_as("admin", unit=org.school_a)
    html = client.get("/").get_data(as_text=True)
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) + re.findall(r'<script src="([^"]+)"', html)
    assert len(assets) >= 4
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
