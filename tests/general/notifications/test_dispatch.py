"""Dispatch and sweep, calling the task functions directly: claim, send once, back off, fail, reclaim (F1, F12)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.models import utcnow
from app.general.notifications import backends, tasks
from app.general.notifications import dispatch as delivery
from app.general.notifications.models import Notification
from app.general.notifications.services import notify
from tests import factories

# The task bodies, called directly: no eager mode, no broker.
dispatch, sweep_pending = tasks.dispatch.run, tasks.sweep_pending.run

NOTICE = "notifications/messages/notice"


def _row(db, key="d:1", channel="email", **kwargs) -> Notification:
    user = factories.make_user("teacher")
    user.phone = "+8613800000001"
    row = notify(template=NOTICE, channel=channel, key=key, user=user,
                 context={"subject": "Hello", "body": "Body"}, **kwargs)
    db.session.commit()
    return row


def _reload(db, row) -> Notification:
    return db.session.get(Notification, row.id, populate_existing=True)


class Flaky:
    """A backend that fails the first `failures` sends, then delegates to the memory backend."""

    calls = 0
    failures = 0
    error: Exception = backends.DeliveryError("provider said 503")

    def __init__(self, config=None):
        pass

    def send(self, message):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise type(self).error
        backends.MemoryBackend().send(message)


@pytest.fixture
def flaky(app, monkeypatch):
    Flaky.calls, Flaky.failures, Flaky.error = 0, 0, backends.DeliveryError("provider said 503")
    monkeypatch.setitem(app.config, "MAIL_BACKEND", f"{__name__}:Flaky")
    return Flaky


def test_dispatch_sends_through_the_backend_and_marks_sent(db, sent):
    row = _row(db)
    assert dispatch(row.id) == "sent"
    row = _reload(db, row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    assert [m["idempotency_key"] for m in sent] == ["d:1"]
    assert sent[0]["delivery_key"] == backends.delivery_key("d:1")


def test_a_second_dispatch_of_the_same_row_does_nothing(db, sent):
    row = _row(db)
    dispatch(row.id)
    assert dispatch(row.id) == "skipped"
    assert len(sent) == 1 and _reload(db, row).attempts == 1


def test_a_row_claimed_by_another_worker_is_left_alone(db, sent):
    row = _row(db)
    assert delivery.claim(row.id)
    db.session.commit()
    assert dispatch(row.id) == "skipped"
    assert sent == [] and _reload(db, row).status == "sending"


def test_dispatch_of_a_missing_row_is_skipped(db, sent):
    assert dispatch(987_654) == "skipped"


def test_a_row_waiting_for_its_backoff_is_not_claimed_early(db, sent):
    row = _row(db)
    row.next_attempt_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    assert dispatch(row.id) == "skipped" and sent == []


@pytest.mark.parametrize(("attempts", "expected"), [(1, 30), (2, 60), (3, 120), (4, 240), (6, 960), (40, 86400)])
def test_backoff_doubles_from_the_configured_base_and_is_capped(app, attempts, expected):
    with app.app_context():
        assert delivery.backoff_seconds(attempts) == expected
        assert delivery.backoff_seconds(attempts, base=0) == 0


def test_a_transient_failure_backs_off_and_reschedules(db, flaky, published):
    flaky.failures = 1
    row = _row(db)
    published.clear()
    before = utcnow()
    assert dispatch(row.id) == "retrying"
    row = _reload(db, row)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "503" in row.last_error
    assert timedelta(seconds=29) <= row.next_attempt_at - before <= timedelta(seconds=35)
    assert published == [(row.id, 30)]


def test_the_retry_succeeds_once_due(db, flaky, sent):
    flaky.failures = 1
    row = _row(db)
    dispatch(row.id)
    row = _reload(db, row)
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert dispatch(row.id) == "sent"
    row = _reload(db, row)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(sent) == 1


def test_a_permanent_failure_ends_failed_at_once(db, flaky):
    flaky.failures, flaky.error = 99, backends.DeliveryError("invalid number", permanent=True)
    row = _row(db)
    assert dispatch(row.id) == "failed"
    row = _reload(db, row)
    assert (row.status, row.attempts) == ("failed", 1) and "invalid number" in row.last_error


def test_a_poison_message_ends_failed_after_max_attempts_instead_of_looping(db, app, monkeypatch, published):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "tests.stubs.backends:AlwaysRaises")
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 3)
    row = _row(db)
    outcomes = []
    for _ in range(10):
        outcomes.append(dispatch(row.id))
        current = _reload(db, row)
        if current.status == "failed":
            break
        current.next_attempt_at = utcnow() - timedelta(seconds=1)  # skip the backoff wait
        db.session.commit()
    row = _reload(db, row)
    assert outcomes == ["retrying", "retrying", "failed"]
    assert (row.status, row.attempts) == ("failed", 3)
    assert "RuntimeError: backend exploded" in row.last_error


def test_a_crash_after_sending_does_not_send_twice(db, app, monkeypatch, sent):
    """The worker dies between the provider's OK and marking the row sent: the sweep re-sends, the key dedupes."""
    row = _row(db)

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "record_success", crash)
        with pytest.raises(SystemExit):
            dispatch(row.id)
    db.session.rollback()
    assert _reload(db, row).status == "sending" and len(sent) == 1

    later = utcnow() + timedelta(seconds=app.config["NOTIFY_STALE_SENDING_SECONDS"] + 1)
    assert delivery.sweep(now=later) == [row.id]
    db.session.commit()
    assert dispatch(row.id) == "sent"
    row = _reload(db, row)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(sent) == 1  # the backend saw the same delivery key again and dropped it


def test_a_message_that_kills_its_worker_every_time_ends_failed(db, app, monkeypatch):
    """Attempts are counted at claim time, so even a worker that never returns uses them up."""
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 3)
    row = _row(db)
    stale = timedelta(seconds=app.config["NOTIFY_STALE_SENDING_SECONDS"] + 1)
    now = utcnow()
    for _ in range(3):
        assert delivery.claim(row.id, now=now)
        db.session.commit()  # ... and the worker dies while sending
        now += stale
        delivery.sweep(now=now)
        db.session.commit()
    row = _reload(db, row)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, delivery.WORKER_LOST)


def test_the_sweep_reclaims_only_rows_stuck_past_the_stale_limit(db, app):
    row = _row(db)
    delivery.claim(row.id)
    db.session.commit()
    assert delivery.reclaim_stale() == []
    later = utcnow() + timedelta(seconds=app.config["NOTIFY_STALE_SENDING_SECONDS"] + 1)
    assert delivery.reclaim_stale(now=later) == [row.id]
    db.session.commit()
    row = _reload(db, row)
    assert (row.status, row.next_attempt_at) == ("pending", None)


def test_the_sweep_enqueues_due_rows_after_a_grace_period(db, published):
    fresh = _row(db, key="d:fresh")
    waiting = _row(db, key="d:waiting")
    old = _row(db, key="d:old")
    waiting.next_attempt_at = utcnow() + timedelta(minutes=10)
    old.created_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    published.clear()
    assert sweep_pending() == 1
    assert published == [(old.id, None)]
    published.clear()
    assert sweep_pending(grace_seconds=0) == 2
    assert sorted(i for i, _ in published) == sorted([fresh.id, old.id])


def test_running_the_sweep_twice_sends_nothing_twice(db, app, sent, published):
    rows = [_row(db, key=f"d:twice:{n}") for n in range(3)]
    published.clear()
    sweep_pending(grace_seconds=0)
    sweep_pending(grace_seconds=0)
    assert len(published) == 6  # duplicates in the queue are harmless:
    for notification_id, _countdown in published:
        dispatch(notification_id)
    assert sorted(m["idempotency_key"] for m in sent) == sorted(r.idempotency_key for r in rows)
    assert {_reload(db, r).status for r in rows} == {"sent"}


def test_sent_failed_and_inbox_rows_are_never_swept(db, published):
    sent_row, failed_row = _row(db, key="d:s"), _row(db, key="d:f")
    inbox_row = _row(db, key="d:i", channel="inbox")
    db.session.execute(sa.update(Notification).where(Notification.id == sent_row.id).values(status="sent"))
    db.session.execute(sa.update(Notification).where(Notification.id == failed_row.id).values(status="failed"))
    db.session.commit()
    published.clear()
    sweep_pending(grace_seconds=0)
    assert inbox_row.id not in [i for i, _ in published]
    assert {i for i, _ in published}.isdisjoint({sent_row.id, failed_row.id})


def test_a_long_backoff_is_left_to_the_sweep_not_to_a_broker_countdown(app):
    with app.app_context():
        visibility = app.config["CELERY"]["broker_transport_options"]["visibility_timeout"]
        assert delivery.schedule_countdown(30) == 30
        assert delivery.schedule_countdown(visibility) is None


def test_an_sms_without_an_address_fails_permanently_on_dispatch(db, sent):
    row = _row(db, key="d:sms", channel="sms")
    row.recipient_address = ""
    row.status = "pending"
    db.session.commit()
    assert dispatch(row.id) == "failed"
    assert _reload(db, row).last_error.endswith("no recipient address")
