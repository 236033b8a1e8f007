"""Writing to the outbox: in the caller's transaction, once per key, rendered for the recipient (check 25)."""
from __future__ import annotations

import logging
from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.notifications import outbox, services
from app.general.notifications.models import Notification
from app.general.notifications.services import notify, notify_user
from tests import factories

NOTICE = "notifications/messages/notice"


def _notice(**context):
    return {"subject": "Timetable change", "body": "Maths moves to room 12.", **context}


def _count(key: str) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                              .where(Notification.idempotency_key == key))


def test_notify_writes_a_pending_row_addressed_from_the_user(db):
    user = factories.make_user("teacher")
    row = notify(template=NOTICE, channel="email", key="t:1", user=user, context=_notice())
    assert row.id is not None
    assert (row.status, row.recipient_address, row.recipient_user_id) == ("pending", user.email, user.id)
    assert row.subject == "Timetable change"
    assert "Maths moves to room 12." in row.body_text and row.body_html
    assert row.context == _notice()


def test_sms_goes_to_the_users_phone_and_uses_the_sms_template(db):
    user = factories.make_user("parent")
    user.phone = "+8613800000000"
    row = notify(template=NOTICE, channel="sms", key="t:sms", user=user, context=_notice())
    assert row.recipient_address == "+8613800000000"
    assert row.body_text.startswith("Staffroom: Timetable change")
    assert row.body_html is None


def test_an_explicit_address_wins_over_the_users(db):
    user = factories.make_user("parent")
    row = notify(template=NOTICE, channel="email", key="t:addr", user=user, address="other@example.test",
                 context=_notice())
    assert row.recipient_address == "other@example.test"


def test_inbox_rows_are_delivered_by_being_written(db, published):
    user = factories.make_user("parent")
    row = notify(template=NOTICE, channel="inbox", key="t:inbox", user=user, context=_notice())
    db.session.commit()
    assert row.status == "sent" and row.sent_at is not None and row.recipient_address == ""
    assert published == []  # nothing to dispatch


def test_a_recipient_without_an_address_is_failed_visibly_not_silently(db, published):
    user = factories.make_user("parent")
    row = notify(template=NOTICE, channel="sms", key="t:nophone", user=user, context=_notice())
    db.session.commit()
    assert (row.status, row.last_error) == ("failed", services.NO_ADDRESS)
    assert published == []


def test_same_key_twice_gives_one_row(db):
    user = factories.make_user("teacher")
    first = notify(template=NOTICE, channel="email", key="t:twice", user=user, context=_notice())
    second = notify(template=NOTICE, channel="email", key="t:twice", user=user, context=_notice(body="changed"))
    assert second.id == first.id
    assert _count("t:twice") == 1
    assert "changed" not in second.body_text


def test_same_key_in_a_later_transaction_gives_the_committed_row(db):
    user = factories.make_user("teacher")
    first = notify(template=NOTICE, channel="email", key="t:later", user=user, context=_notice())
    db.session.commit()
    again = notify(template=NOTICE, channel="email", key="t:later", user=user, context=_notice())
    assert again.id == first.id and _count("t:later") == 1


def test_losing_the_insert_race_returns_the_winners_row_and_keeps_the_transaction(db, monkeypatch):
    user = factories.make_user("teacher")
    winner = notify(template=NOTICE, channel="email", key="t:race", user=user, context=_notice())
    real_existing, misses = services._existing, iter([True])

    def check_that_misses_once(key):  # another transaction inserted between our check and our insert
        return None if next(misses, False) else real_existing(key)

    monkeypatch.setattr(services, "_existing", check_that_misses_once)
    loser = notify(template=NOTICE, channel="email", key="t:race", user=user, context=_notice())
    assert loser.id == winner.id
    factories.make_unit("district", "Still usable")  # the savepoint kept the caller's transaction alive
    assert _count("t:race") == 1


def test_notify_user_writes_one_row_per_channel(db):
    user = factories.make_user("teacher")
    rows = notify_user(user, template=NOTICE, key="t:user", context=_notice())
    assert [(r.channel, r.idempotency_key) for r in rows] == [("inbox", "t:user:inbox"), ("email", "t:user:email")]


def test_rows_are_dispatched_only_after_the_commit(db, published):
    user = factories.make_user("teacher")
    first = notify(template=NOTICE, channel="email", key="t:commit:1", user=user, context=_notice())
    with db.session.begin_nested():  # releasing a savepoint is not the commit (notify uses one per row, too)
        second = notify(template=NOTICE, channel="email", key="t:commit:2", user=user, context=_notice())
    assert published == []
    db.session.commit()
    assert published == [(first.id, None), (second.id, None)]


def test_rollback_sends_nothing_and_leaves_no_row(db, published):
    user = factories.make_user("teacher")
    db.session.commit()
    notify(template=NOTICE, channel="email", key="t:rollback", user=user, context=_notice())
    db.session.rollback()
    db.session.commit()  # a later commit must not dispatch the rolled-back row either
    assert published == []
    assert _count("t:rollback") == 0


def test_a_rolled_back_savepoint_does_not_leak_into_the_next_commit(db, published):
    user = factories.make_user("teacher")
    with db.session.begin_nested() as savepoint:
        notify(template=NOTICE, channel="email", key="t:sp", user=user, context=_notice())
        savepoint.rollback()
    db.session.commit()
    assert _count("t:sp") == 0
    assert len(published) <= 1  # at most a harmless dispatch of an id that no longer exists


def test_a_broker_that_is_down_does_not_fail_the_commit(db, app, monkeypatch, caplog):
    user = factories.make_user("teacher")
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)

    def broker_down(notification_id, countdown=None):
        raise ConnectionRefusedError("redis is away")

    monkeypatch.setattr(outbox, "publish", broker_down)
    row = notify(template=NOTICE, channel="email", key="t:down", user=user, context=_notice())
    with caplog.at_level(logging.WARNING, logger="app.general.notifications.outbox"):
        db.session.commit()
    assert _count("t:down") == 1 and row.status == "pending"
    assert "sweep will pick it up" in caplog.text


def test_nothing_is_published_in_tests_unless_a_test_turns_it_on(db, monkeypatch):
    calls = []
    monkeypatch.setattr(outbox, "publish", lambda *a, **k: calls.append(a))
    notify(template=NOTICE, channel="email", key="t:off", user=factories.make_user(), context=_notice())
    db.session.commit()
    assert calls == []


def test_a_notification_as_the_first_statement_still_rolls_back_with_the_caller(app):
    """pysqlite opens no transaction before a SAVEPOINT; notify must not let RELEASE commit the caller's work."""
    with app.app_context():
        try:
            _db.session.rollback()
            notify(template=NOTICE, channel="email", key="t:first-statement", address="x@example.test",
                   context=_notice())
            _db.session.rollback()
            assert _count("t:first-statement") == 0
        finally:
            _db.session.execute(sa.delete(Notification).where(Notification.idempotency_key == "t:first-statement"))
            _db.session.commit()
            _db.session.remove()


@pytest.mark.parametrize(("user_locale", "requested", "expected"), [
    ("zh", None, "zh"), (None, "zh", "zh"), (None, None, "en"), ("fr", None, "en"), ("en", "zh", "en"),
])
def test_the_message_is_rendered_in_the_recipients_locale(db, user_locale, requested, expected):
    user = factories.make_user("parent", locale=user_locale)
    row = notify(template=NOTICE, channel="email", key=f"t:loc:{user.id}", user=user, locale=requested,
                 context=_notice(on=date(2025, 9, 1)))
    assert row.locale == expected
    assert ("2025年9月1日" if expected == "zh" else "September 1, 2025") in row.body_text
    assert (f"{user.display_name}，您好" if expected == "zh" else f"Hello {user.display_name},") in row.body_text


def test_the_locale_argument_serves_recipients_without_an_account(db):
    row = notify(template=NOTICE, channel="sms", key="t:guardian", address="+86139", locale="zh",
                 context=_notice(name="王", on=date(2025, 9, 1)))
    assert row.locale == "zh" and "2025" in row.body_text and row.recipient_user_id is None


def test_a_subject_cannot_carry_line_breaks_into_a_mail_header(db):
    row = notify(template=NOTICE, channel="email", key="t:hdr", address="a@example.test",
                 context=_notice(subject="Hi\r\nBcc: victim@example.test"))
    assert "\n" not in row.subject and "\r" not in row.subject


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "{{7*7}}", "O'Hara", "ねこ"])
def test_names_are_escaped_in_html_and_kept_verbatim_in_text(db, name):
    user = factories.make_user("parent")
    user.display_name = name
    row = notify(template=NOTICE, channel="email", key=f"t:esc:{user.id}", user=user,
                 context=_notice(body=f"About {name}"))
    assert f"Hello {name}," in row.body_text and f"About {name}" in row.body_text
    assert "<script>" not in row.body_html and "49" not in row.body_html and "49" not in row.body_text
    if name == "O'Hara":
        assert "O&#39;Hara" in row.body_html
    if name.startswith("<script"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row.body_html
    if name == "ねこ":
        assert "ねこ" in row.body_html


def test_an_overlong_key_is_refused(db):
    with pytest.raises(ValueError):
        notify(template=NOTICE, channel="email", key="k" * 201, address="a@example.test", context=_notice())
