"""Many rows at once (a notice to hundreds of parents): published as chunks, each delivered row by row with the
same claim / send / record steps as a single dispatch — nothing twice, one failure stopping nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.general.notifications import dispatch as delivery
from app.general.notifications import outbox, tasks
from app.general.notifications.models import Notification
from app.general.notifications.services import notify
from tests import factories
from tests.general.notifications.test_dispatch import flaky  # noqa: F401  (the fixture)

NOTICE = "notifications/messages/notice"
dispatch_many = tasks.dispatch_many.run


def _rows(db, n: int, prefix: str = "c") -> list[int]:
    user = factories.make_user("parent")
    ids = [notify(template=NOTICE, channel="email", key=f"{prefix}:{i}", user=user,
                  context={"subject": "Hello", "body": "Body"}).id for i in range(n)]
    db.session.commit()
    return ids


@pytest.fixture
def recorded(app, monkeypatch):
    """Which publishing path each enqueue took: single rows, and chunks."""
    singles, chunks = [], []
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)
    monkeypatch.setattr(outbox, "publish", lambda notification_id, countdown=None: singles.append(notification_id))
    monkeypatch.setattr(outbox, "publish_chunk", lambda ids, countdown=None: chunks.append(list(ids)))
    return singles, chunks


def test_a_few_rows_are_published_one_task_each(app, recorded):
    singles, chunks = recorded
    with app.app_context():
        assert outbox.enqueue(range(1, outbox.CHUNK_FROM)) == outbox.CHUNK_FROM - 1
    assert singles == list(range(1, outbox.CHUNK_FROM)) and chunks == []


def test_many_rows_are_published_in_chunks_covering_each_row_once(app, recorded):
    singles, chunks = recorded
    ids = list(range(1, 2 * outbox.CHUNK_SIZE + 8))
    with app.app_context():
        assert outbox.enqueue(ids) == len(ids)
    assert singles == [] and [len(c) for c in chunks] == [outbox.CHUNK_SIZE, outbox.CHUNK_SIZE, 7]
    assert [i for c in chunks for i in c] == ids


def test_a_chunk_delivers_each_row_once_and_a_second_run_sends_nothing(db, sent):
    ids = _rows(db, 30)
    assert dispatch_many(ids) == {"sent": 30}
    assert sorted(m["idempotency_key"] for m in sent) == sorted(f"c:{i}" for i in range(30))
    assert dispatch_many(ids) == {"skipped": 30} and len(sent) == 30
    assert set(db.session.scalars(sa.select(Notification.status).where(Notification.id.in_(ids)))) == {"sent"}


def test_one_failing_row_does_not_stop_the_rest_of_the_chunk(db, sent, flaky):  # noqa: F811
    ids = _rows(db, 5, prefix="f")
    flaky.failures = 1  # the first send fails (and is retried later with backoff)
    outcome = dispatch_many(ids)
    assert outcome == {"retrying": 1, "sent": 4}
    statuses = dict(db.session.execute(sa.select(Notification.id, Notification.status)
                                       .where(Notification.id.in_(ids))).all())
    assert statuses[ids[0]] == "pending" and [statuses[i] for i in ids[1:]] == ["sent"] * 4


def test_a_chunk_redelivered_after_a_lost_worker_skips_what_was_sent_or_claimed(db, sent):
    ids = _rows(db, 4, prefix="r")
    tasks.deliver(ids[0])          # sent before the worker died
    assert delivery.claim(ids[1])  # claimed, then the worker died mid-send
    db.session.commit()
    assert dispatch_many(ids) == {"skipped": 2, "sent": 2}
    assert sorted(m["idempotency_key"] for m in sent) == sorted(f"r:{i}" for i in (0, 2, 3))


def test_a_database_error_on_one_row_leaves_it_to_the_sweep_and_the_chunk_goes_on(db, sent, monkeypatch):
    ids = _rows(db, 5, prefix="e")
    real_claim = delivery.claim

    def claim(notification_id, **kwargs):
        if notification_id == ids[2]:
            raise sa.exc.OperationalError("UPDATE notifications", {}, Exception("connection reset"))
        return real_claim(notification_id, **kwargs)

    monkeypatch.setattr(delivery, "claim", claim)
    assert dispatch_many(ids) == {"sent": 4, "error": 1}
    statuses = dict(db.session.execute(sa.select(Notification.id, Notification.status)
                                       .where(Notification.id.in_(ids))).all())
    assert statuses[ids[2]] == "pending" and [statuses[i] for i in ids if i != ids[2]] == ["sent"] * 4
    assert sorted(m["idempotency_key"] for m in sent) == sorted(f"e:{i}" for i in (0, 1, 3, 4))
