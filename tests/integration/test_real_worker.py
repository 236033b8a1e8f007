"""The outbox against a real `celery worker` subprocess on Redis: delivery, killed workers, Redis down,
poison messages, the canary (checks 25-27; fault scenarios F1, F2, F11, F12).

Every row here is really committed (the worker is another process); `committed_db` deletes them afterwards.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

import pytest

from app.extensions import db
from app.general.notifications import outbox, tasks
from app.general.notifications.backends import delivery_key
from app.general.notifications.dispatch import WORKER_LOST
from app.general.notifications.services import notify, notify_user
from tests.integration.conftest import LOCK_KEY, celery_current

pytestmark = pytest.mark.redis

NOTICE = "notifications/messages/notice"
CONTEXT = {"subject": "Class change", "body": "Maths 7B moves to Ms Li from Monday."}
DELIVERY_TIMEOUT = 30


def _sms(committed_db, name: str, phone: str = "+8613800000000"):
    key = committed_db.key(name)
    notify(template=NOTICE, channel="sms", key=key, address=phone, context=CONTEXT, locale="en")
    db.session.commit()
    return key


def _email(committed_db, name: str, address: str):
    key = committed_db.key(name)
    notify(template=NOTICE, channel="email", key=key, address=address, context=CONTEXT)
    db.session.commit()
    return key


def _status(committed_db, key: str, *statuses: str):
    row = committed_db.notification(key)
    return row if row is not None and row.status in statuses else None


def _wait_status(worker, committed_db, key: str, status: str, timeout: float = DELIVERY_TIMEOUT):
    return worker.wait_for(lambda: _status(committed_db, key, status), timeout, f"{key} to be {status}")


def _sweep_once_stale(integration_app) -> None:
    """What beat does every minute, run now once the killed worker's claim has gone stale."""
    time.sleep(integration_app.config["NOTIFY_STALE_SENDING_SECONDS"] + 0.5)
    tasks.sweep_pending.run(grace_seconds=0)


def test_a_committed_notification_is_delivered_end_to_end(worker, committed_db, smtp_sink, sms_gateway):
    user = committed_db.user("parent")
    user.phone = "+8613800000001"
    notify_user(user, template=NOTICE, key=committed_db.key("e2e"), context=CONTEXT, channels=("inbox", "email", "sms"))
    db.session.commit()  # the after-commit hook enqueues; the worker does the rest
    inbox, email, sms = (committed_db.key(f"e2e:{channel}") for channel in ("inbox", "email", "sms"))
    for key in (email, sms):
        _wait_status(worker, committed_db, key, "sent")
    assert committed_db.notification(inbox).status == "sent"
    received = [item for item in smtp_sink.state.received if item.key == delivery_key(email)]
    assert len(received) == 1 and received[0].rcpt_tos == [user.email]
    assert received[0].message["Subject"] == "Class change"
    assert sms_gateway.state.keys_requested().count(delivery_key(sms)) == 1
    assert sms_gateway.state.accepted[delivery_key(sms)]["to"] == "+8613800000001"


def test_a_batch_written_in_one_transaction_is_all_delivered_once_without_a_sweep(worker, committed_db, sms_gateway):
    """A departure notifies hundreds of guardians in one commit: each is dispatched after that commit, once."""
    keys = [committed_db.key(f"batch-{n}") for n in range(300)]
    for n, key in enumerate(keys):
        notify(template=NOTICE, channel="sms", key=key, address=f"+861390000{n:04d}", context=CONTEXT)
    db.session.commit()
    worker.wait_for(lambda: all(_status(committed_db, k, "sent") for k in keys), 60, "all 300 to be sent")
    assert {committed_db.notification(k).attempts for k in keys} == {1}  # nothing was dispatched before the commit
    accepted = list(sms_gateway.state.accepted)
    assert all(accepted.count(delivery_key(k)) == 1 for k in keys)


def test_a_worker_child_killed_mid_delivery_is_recovered_and_the_gateway_sees_the_key_once(
        worker, committed_db, sms_gateway, integration_app):
    """F1: the pool process dies while the provider holds the request; the sweep re-sends; the key dedupes."""
    sms_gateway.state.mode = "hang"
    key = _sms(committed_db, "f1")
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the SMS never reached the gateway"
    assert committed_db.notification(key).status == "sending"
    killed = worker.kill_child()
    worker.wait_for_new_child(killed)
    sms_gateway.state.mode = "ok"
    sms_gateway.state.release.set()
    _sweep_once_stale(integration_app)
    row = _wait_status(worker, committed_db, key, "sent")
    assert row.attempts == 2
    assert sms_gateway.state.keys_requested().count(delivery_key(key)) == 2  # re-sent at least once ...
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1  # ... delivered exactly once


def test_a_worker_child_killed_in_the_middle_of_a_chunk_delivers_every_row_once(
        worker, committed_db, sms_gateway, integration_app):
    """F1 for a chunk (a notice to many parents): the pool process dies on the 11th of 30 rows; the chunk is
    delivered again (rows already sent or claimed are skipped), the sweep re-sends the claimed one, and the
    gateway accepts every key once."""
    keys = [committed_db.key(f"chunk-{n}") for n in range(30)]
    sms_gateway.state.script.extend(["ok"] * 10 + ["hang"])
    for n, key in enumerate(keys):
        notify(template=NOTICE, channel="sms", key=key, address=f"+861370000{n:04d}", context=CONTEXT)
    db.session.commit()  # one chunk of 30 rows
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the 11th SMS never reached the gateway"
    killed = worker.kill_child()
    worker.wait_for_new_child(killed)
    sms_gateway.state.release.set()
    _sweep_once_stale(integration_app)
    worker.wait_for(lambda: all(_status(committed_db, k, "sent") for k in keys), 60, "all 30 to be sent")
    accepted = list(sms_gateway.state.accepted)
    assert all(accepted.count(delivery_key(k)) == 1 for k in keys)
    assert sorted(committed_db.notification(k).attempts for k in keys) == [1] * 29 + [2]


def test_a_whole_worker_killed_mid_delivery_and_restarted_delivers_once(worker, committed_db, sms_gateway,
                                                                         integration_app):
    """F2: the main process and its pool die; the message stays unacknowledged in Redis; the sweep re-sends."""
    sms_gateway.state.mode = "hang"
    key = _sms(committed_db, "f2")
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the SMS never reached the gateway"
    worker.kill()
    sms_gateway.state.mode = "ok"
    sms_gateway.state.release.set()
    worker.start()  # waits for a canary round-trip
    _sweep_once_stale(integration_app)
    _wait_status(worker, committed_db, key, "sent")
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_redis_down_at_commit_does_not_fail_the_request_and_the_sweep_delivers_later(
        worker, committed_db, app_with_broker_down, sms_gateway, caplog):
    """Check 25: the business transaction commits without a broker; the outbox row waits for the sweep."""
    with app_with_broker_down.app_context(), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        key = _sms(committed_db, "redis-down")
        elapsed = time.monotonic() - started
        assert committed_db.notification(key).status == "pending"
        db.session.remove()
    assert elapsed < 10, f"the commit waited {elapsed:.1f}s for a broker that is down"
    assert "the sweep will pick it up" in caplog.text
    time.sleep(1)
    assert delivery_key(key) not in sms_gateway.state.accepted
    assert tasks.sweep_pending.run(grace_seconds=0) >= 1  # the broker is back: beat's sweep enqueues it
    _wait_status(worker, committed_db, key, "sent")
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_a_poison_message_ends_failed_after_max_attempts(worker, committed_db, smtp_sink, integration_app):
    """F12 / check 26: a backend that always raises does not loop; the row ends failed, visible to admins."""
    key = _email(committed_db, "poison", "poison@example.test")
    row = _wait_status(worker, committed_db, key, "failed")
    assert row.attempts == integration_app.config["NOTIFY_MAX_ATTEMPTS"]
    assert "poison message" in row.last_error
    assert not [item for item in smtp_sink.state.received if item.key == delivery_key(key)]
    worker.canary(timeout=DELIVERY_TIMEOUT)  # and the worker is still taking work


def test_a_message_that_kills_the_worker_every_time_ends_failed(worker, committed_db, integration_app):
    """F12: attempts are counted when claimed, so a message that takes the process down still runs out."""
    key = _email(committed_db, "killer", "killer@example.test")
    max_attempts = integration_app.config["NOTIFY_MAX_ATTEMPTS"]
    for attempt in range(1, max_attempts + 1):
        worker.wait_for(lambda n=attempt: (row := _status(committed_db, key, "sending")) and row.attempts == n,
                        DELIVERY_TIMEOUT, f"attempt {attempt} to be claimed")
        _sweep_once_stale(integration_app)
    row = _wait_status(worker, committed_db, key, "failed")
    assert (row.attempts, row.last_error) == (max_attempts, WORKER_LOST)
    worker.canary(timeout=DELIVERY_TIMEOUT)


@pytest.mark.parametrize("script", [["fail", "ok"], ["drop", "ok"]], ids=["500-then-ok", "accept-then-drop"])
def test_a_misbehaving_gateway_is_retried_with_backoff_and_delivers_once(worker, committed_db, sms_gateway, script):
    """F11: a 500 or a dropped connection is retried after the backoff; the gateway accepts the key once."""
    sms_gateway.state.script.extend(script)
    key = _sms(committed_db, f"f11-{script[0]}")
    row = _wait_status(worker, committed_db, key, "sent")
    assert row.attempts == 2
    assert sms_gateway.state.keys_requested().count(delivery_key(key)) == 2
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_a_permanent_provider_refusal_fails_at_once(worker, committed_db, sms_gateway):
    sms_gateway.state.mode = "reject"
    key = _sms(committed_db, "f11-reject")
    row = _wait_status(worker, committed_db, key, "failed")
    assert row.attempts == 1 and "400" in row.last_error


def test_the_worker_health_canary_round_trips_through_the_real_worker(worker, committed_db, integration_app):
    """Check 27: `flask worker-health` sends a task and waits for the worker to write it back."""
    with celery_current(integration_app.extensions["celery"]):
        result = integration_app.test_cli_runner().invoke(args=["worker-health", "--timeout", "30"])
    assert result.exit_code == 0, result.output
    assert "worker answered canary" in result.output


def test_a_stuck_worker_answers_pings_but_not_the_canary(worker, committed_db, integration_app, sms_gateway):
    """Check 27: why the health check is a task round-trip and not `inspect ping`."""
    sms_gateway.state.mode = "hang"
    key = _sms(committed_db, "stuck")
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the SMS never reached the gateway"
    celery_app = integration_app.extensions["celery"]
    replies = celery_app.control.ping(timeout=3)
    assert any(worker.heartbeat_name in name for reply in replies for name in reply), replies
    with celery_current(celery_app):
        result = integration_app.test_cli_runner().invoke(args=["worker-health", "--timeout", "3"])
    assert result.exit_code == 1 and "no worker answered" in result.output
    sms_gateway.state.mode = "ok"
    sms_gateway.state.release.set()  # the provider lets go: the send fails, is retried, and is accepted once
    _wait_status(worker, committed_db, key, "sent")
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_a_warm_shutdown_mid_delivery_finishes_the_delivery(worker, committed_db, sms_gateway):
    """F3 (warm): SIGTERM lets the running task finish before the worker exits."""
    sms_gateway.state.mode = "hang"
    key = _sms(committed_db, "f3-warm")
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the SMS never reached the gateway"
    sms_gateway.state.mode = "ok"
    threading.Timer(1.0, sms_gateway.state.release.set).start()  # the provider lets go while the worker drains
    worker.shutdown(signal.SIGTERM)
    row = committed_db.notification(key)
    assert row.status == "pending" and row.attempts == 1  # the task finished (a failed send, rescheduled) ...
    worker.start()  # ... and the next worker delivers it (the beat's sweep covers a retry lost in the shutdown)
    time.sleep(1.5)
    tasks.sweep_pending.run(grace_seconds=0)
    _wait_status(worker, committed_db, key, "sent")
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_a_cold_shutdown_mid_delivery_is_recovered_by_the_sweep(worker, committed_db, sms_gateway, integration_app):
    """F3 (cold): SIGQUIT stops mid-task; after a restart the stale claim is swept and re-sent once."""
    sms_gateway.state.mode = "hang"
    key = _sms(committed_db, "f3-cold")
    assert sms_gateway.state.hanging.wait(DELIVERY_TIMEOUT), "the SMS never reached the gateway"
    worker.shutdown(signal.SIGQUIT)
    sms_gateway.state.mode = "ok"
    sms_gateway.state.release.set()
    worker.start()
    _sweep_once_stale(integration_app)
    _wait_status(worker, committed_db, key, "sent")
    assert list(sms_gateway.state.accepted).count(delivery_key(key)) == 1


def test_queued_deliveries_lost_with_redis_are_re_enqueued_by_the_sweep(worker, committed_db, sms_gateway, redis_db):
    """F4: Redis restarts without persistence and drops every queued task; the outbox still has the rows."""
    import redis

    worker.shutdown(signal.SIGTERM)
    keys = [committed_db.key(f"f4-{n}") for n in range(100)]
    for n, key in enumerate(keys):
        notify(template=NOTICE, channel="sms", key=key, address=f"+861380000{n:04d}", context=CONTEXT)
    db.session.commit()  # dispatch messages for the 100 rows (in chunks) are now queued in Redis ...
    client = redis.Redis(host="127.0.0.1", port=6379, db=redis_db)
    lock = client.get(LOCK_KEY)
    assert client.llen(worker.queue) >= -(-len(keys) // outbox.CHUNK_SIZE)
    client.flushdb()  # ... and lost, as when Redis restarts without persistence
    client.set(LOCK_KEY, lock, ex=6 * 3600)
    client.close()
    worker.start()
    time.sleep(1)
    assert not {delivery_key(k) for k in keys} & set(sms_gateway.state.accepted)
    assert tasks.sweep_pending.run(grace_seconds=0) >= len(keys)
    worker.wait_for(lambda: all(_status(committed_db, k, "sent") for k in keys), 60, "all 100 to be sent")
    accepted = list(sms_gateway.state.accepted)
    assert all(accepted.count(delivery_key(k)) == 1 for k in keys)


def test_a_paused_redis_does_not_hang_the_request_that_commits(committed_db, app_on_private_redis, private_redis):
    """F6 (web side): a broker that accepts connections but never answers bounds the commit by its socket timeout."""
    _port, redis_proc = private_redis
    options = app_on_private_redis.config["CELERY"]["broker_transport_options"]
    with app_on_private_redis.app_context():
        _sms(committed_db, "before-pause")  # a working broker first: the pooled connection is open
        redis_proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            key = _sms(committed_db, "paused")
            elapsed = time.monotonic() - started
        finally:
            redis_proc.send_signal(signal.SIGCONT)
        assert committed_db.notification(key).status == "pending"  # committed; the sweep will enqueue it
        db.session.remove()
    assert elapsed < options["socket_timeout"] + 3, f"the commit waited {elapsed:.1f}s on a paused broker"


def test_an_idle_worker_outlives_the_broker_socket_timeout(worker, integration_app):
    """The socket timeouts that protect requests must not break an idle worker's connection to Redis."""
    time.sleep(integration_app.config["CELERY"]["broker_transport_options"]["socket_timeout"] + 2)
    with integration_app.app_context():
        worker.canary(timeout=DELIVERY_TIMEOUT)
