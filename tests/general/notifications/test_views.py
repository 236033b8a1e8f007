"""The inbox (own messages only) and the admins' failed-deliveries page with Retry (checks 11, 13, 16)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.models import utcnow
from app.general.audit.models import AuditEvent
from app.general.notifications.models import Notification
from app.general.notifications.services import notify
from tests import factories

NOTICE = "notifications/messages/notice"


def _inbox_message(user, key, subject="Room change", body="Maths moves to room 12.") -> Notification:
    return notify(template=NOTICE, channel="inbox", key=key, user=user, context={"subject": subject, "body": body})


def _failed_email(user=None, key="v:failed", address=None) -> Notification:
    row = notify(template=NOTICE, channel="email", key=key, user=user, address=address,
                 context={"subject": "Pay statement", "body": "Ready."})
    row.status, row.attempts, row.last_error = "failed", 6, "DeliveryError: SMTP 451"
    return row


# --- inbox ---------------------------------------------------------------------------------------------


def test_the_inbox_lists_only_the_users_own_messages_newest_first(client, login_as, db):
    me = login_as("parent")
    other = factories.make_user("parent")
    older = _inbox_message(me, "v:1", subject="First notice")
    older.created_at = utcnow() - timedelta(hours=1)
    _inbox_message(me, "v:2", subject="Second notice")
    _inbox_message(other, "v:3", subject="Someone else's notice")
    html = client.get("/notifications/").get_data(as_text=True)
    assert html.index("Second notice") < html.index("First notice")
    assert "Someone else" not in html


def test_an_empty_inbox_says_what_arrives_there(client, login_as):
    login_as("teacher")
    html = client.get("/notifications/").get_data(as_text=True)
    assert "Your inbox is empty." in html and "reminders about certificates" in html


def test_unread_messages_are_highlighted_and_counted_in_the_nav(client, login_as):
    me = login_as("teacher")
    _inbox_message(me, "v:unread")
    html = client.get("/notifications/").get_data(as_text=True)
    assert 'badge text-bg-warning">1<' in html and ">New<" in html


def test_opening_a_message_marks_it_read_by_post_only(client, login_as, db):
    me = login_as("parent")
    row = _inbox_message(me, "v:open")
    assert client.get(f"/notifications/{row.id}").status_code == 200
    assert db.session.get(Notification, row.id, populate_existing=True).read_at is None  # GET changes nothing
    response = client.post(f"/notifications/{row.id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/notifications/{row.id}")
    assert db.session.get(Notification, row.id, populate_existing=True).read_at is not None


def test_mark_all_read(client, login_as, db):
    me = login_as("parent")
    rows = [_inbox_message(me, f"v:all:{n}") for n in range(3)]
    theirs = _inbox_message(factories.make_user("parent"), "v:all:theirs")
    assert client.post("/notifications/read-all").status_code == 302
    assert all(db.session.get(Notification, r.id, populate_existing=True).read_at for r in rows)
    assert db.session.get(Notification, theirs.id, populate_existing=True).read_at is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_parent_cannot_open_another_parents_message(client, login_as, db, method):
    login_as("parent")
    theirs = _inbox_message(factories.make_user("parent"), "v:theirs")
    url = f"/notifications/{theirs.id}" + ("/open" if method == "post" else "")
    assert getattr(client, method)(url).status_code == 404
    assert db.session.get(Notification, theirs.id, populate_existing=True).read_at is None


def test_an_email_row_is_not_an_inbox_message(client, login_as):
    me = login_as("teacher")
    row = notify(template=NOTICE, channel="email", key="v:email", user=me, context={"subject": "S", "body": "B"})
    assert client.get(f"/notifications/{row.id}").status_code == 404


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "{{7*7}}", "O'Hara", "ねこ"])
def test_names_are_escaped_in_the_inbox(client, login_as, name):
    me = login_as("parent")
    me.display_name = name
    row = _inbox_message(me, f"v:esc:{me.id}", subject=f"Notice for {name}", body=f"Dear {name}")
    for url in ("/notifications/", f"/notifications/{row.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "Notice for 49" not in html and "Dear 49" not in html
    if name == "ねこ":
        assert "Dear ねこ" in html


def test_the_inbox_needs_a_login(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- failed deliveries ----------------------------------------------------------------------------------


def test_the_failed_page_lists_failed_and_stuck_deliveries_in_scope(client, login_as, org, app, db):
    login_as("admin", unit=org.school_a)
    in_scope = factories.make_user("teacher", unit=org.dept_a)
    out_of_scope = factories.make_user("teacher", unit=org.school_b)
    _failed_email(in_scope, key="v:a", address="a-teacher@example.test")
    _failed_email(out_of_scope, key="v:b", address="b-teacher@example.test")
    stuck = notify(template=NOTICE, channel="sms", key="v:stuck", address="+86138stuck", context={"subject": "S",
                                                                                                 "body": "B"})
    stuck.status, stuck.recipient_user_id = "sending", in_scope.id
    stuck.claimed_at = utcnow() - timedelta(seconds=app.config["NOTIFY_STALE_SENDING_SECONDS"] + 5)
    html = client.get("/notifications/deliveries").get_data(as_text=True)
    assert "a-teacher@example.test" in html and "+86138stuck" in html and "Stuck" in html
    assert "b-teacher@example.test" not in html


def test_rows_without_a_scoped_recipient_are_for_district_admins_only(client, login_as, org):
    _failed_email(key="v:guardian", address="guardian@example.test")
    login_as("admin", unit=org.school_a)
    assert "guardian@example.test" not in client.get("/notifications/deliveries").get_data(as_text=True)
    login_as("admin", unit=org.district)
    assert "guardian@example.test" in client.get("/notifications/deliveries").get_data(as_text=True)


def test_the_failed_page_filters_by_channel_state_and_text(client, login_as, org):
    login_as("admin", unit=org.district)
    _failed_email(key="v:f1", address="one@example.test")
    _failed_email(key="v:f2", address="two@example.test")
    html = client.get("/notifications/deliveries?q=two@").get_data(as_text=True)
    assert "two@example.test" in html and "one@example.test" not in html
    html = client.get("/notifications/deliveries?channel=sms").get_data(as_text=True)
    assert "one@example.test" not in html and "No deliveries match" in html
    html = client.get("/notifications/deliveries?state=sent").get_data(as_text=True)
    assert "one@example.test" not in html


def test_retry_puts_a_failed_delivery_back_in_the_queue_after_commit_and_audits_it(client, login_as, org, db,
                                                                                     published):
    admin = login_as("admin", unit=org.district)
    row = _failed_email(key="v:retry", address="retry@example.test")
    db.session.commit()
    published.clear()
    response = client.post(f"/notifications/deliveries/{row.id}/retry")
    assert response.status_code == 302
    row = db.session.get(Notification, row.id, populate_existing=True)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    assert published == [(row.id, None)]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "notifications.retry")
                              .order_by(AuditEvent.seq.desc()))
    assert event.actor_id == admin.id and event.subject_id == str(row.id)
    assert event.changes["before"]["status"] == "failed"


def test_retry_fills_in_an_address_the_user_has_added_since(client, login_as, org, db):
    login_as("admin", unit=org.school_a)
    parent = factories.make_user("parent", unit=org.school_a)
    row = notify(template=NOTICE, channel="sms", key="v:nophone", user=parent, context={"subject": "S", "body": "B"})
    assert row.status == "failed"
    parent.phone = "+8613911112222"
    client.post(f"/notifications/deliveries/{row.id}/retry")
    row = db.session.get(Notification, row.id, populate_existing=True)
    assert (row.status, row.recipient_address) == ("pending", "+8613911112222")


def test_a_sent_delivery_cannot_be_retried(client, login_as, org, db):
    login_as("admin", unit=org.district)
    row = _failed_email(key="v:sent", address="sent@example.test")
    row.status = "sent"
    db.session.commit()
    response = client.post(f"/notifications/deliveries/{row.id}/retry")
    assert response.status_code == 302  # flashed conflict, nothing changed
    assert db.session.get(Notification, row.id, populate_existing=True).status == "sent"


def test_an_admin_cannot_retry_a_delivery_outside_their_scope(client, login_as, org, db):
    login_as("admin", unit=org.school_a)
    row = _failed_email(factories.make_user("teacher", unit=org.school_b), key="v:foreign")
    assert client.post(f"/notifications/deliveries/{row.id}/retry").status_code == 404
    assert db.session.get(Notification, row.id, populate_existing=True).status == "failed"


@pytest.mark.parametrize("role", ["head", "teacher", "parent"])
def test_only_admins_manage_deliveries(client, login_as, org, role):
    login_as(role)
    row = _failed_email(key=f"v:role:{role}", address="x@example.test")
    assert client.get("/notifications/deliveries").status_code == 403
    assert client.post(f"/notifications/deliveries/{row.id}/retry").status_code == 403


def test_admins_see_the_deliveries_entry_in_the_nav(client, login_as):
    login_as("admin")
    html = client.get("/notifications/").get_data(as_text=True)
    assert 'href="/notifications/deliveries"' in html and "Deliveries" in html
