"""The relay from the outbox to Celery: ids of rows written in a transaction are enqueued after it commits.

A rollback drops them (nothing was written, so nothing is sent). A broker that is down at that moment
is logged and ignored: the row is safe in the database and the beat sweep enqueues it later.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import orm

log = logging.getLogger(__name__)

_INFO_KEY = "notifications.enqueue_after_commit"
DISPATCH_TASK = "notifications.dispatch"
DISPATCH_MANY_TASK = "notifications.dispatch_many"
# From this many rows on, ids are published in chunks (one task each) instead of one task per row: publishing
# 800 parent notices one by one took 0.5–1.3 s after the commit, and each task's own overhead capped a worker at
# about 70 deliveries a second.
CHUNK_FROM = 20
CHUNK_SIZE = 50


def enqueue_after_commit(session: orm.Session, notification_id: int) -> None:
    """Remember a row written in this transaction so that it is dispatched once the transaction commits."""
    session.info.setdefault(_INFO_KEY, set()).add(notification_id)


def _after_commit(session: orm.Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT was released (SQLAlchemy calls this "commit" too): the real commit is still to come
    ids = session.info.pop(_INFO_KEY, None)
    if ids and has_app_context():
        enqueue(sorted(ids))


def _after_transaction_end(session: orm.Session, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed (a commit has already taken the ids)
        session.info.pop(_INFO_KEY, None)


def install() -> None:
    """Listen on every SQLAlchemy session (idempotent)."""
    if not sa.event.contains(orm.Session, "after_commit", _after_commit):
        sa.event.listen(orm.Session, "after_commit", _after_commit)
        sa.event.listen(orm.Session, "after_transaction_end", _after_transaction_end)


def publish(notification_id: int, countdown: float | None = None) -> None:
    """Send one dispatch message through this application's Celery app, in one attempt.

    No retry loop: a request must not wait on a broker that is away (the transport's socket timeouts bound
    the attempt); redis-py reconnects by itself after a Redis restart; the sweep covers the rest.
    """
    celery_app = current_app.extensions["celery"]
    celery_app.send_task(DISPATCH_TASK, args=[notification_id], countdown=countdown, retry=False)


def publish_chunk(notification_ids: list[int], countdown: float | None = None) -> None:
    """Send one dispatch message for a chunk of rows (delivered one after the other by one task)."""
    celery_app = current_app.extensions["celery"]
    celery_app.send_task(DISPATCH_MANY_TASK, args=[list(notification_ids)], countdown=countdown, retry=False)


def enqueue(ids: Iterable[int], countdown: float | None = None) -> int:
    """Publish dispatch messages — one per row, or one per chunk of CHUNK_SIZE rows when there are CHUNK_FROM or
    more; a broker failure is logged, not raised (the sweep will catch up). Returns the rows enqueued.

    NOTIFY_ENQUEUE_ON_COMMIT=False (the unit tests) turns all publishing off.
    """
    if not current_app.config.get("NOTIFY_ENQUEUE_ON_COMMIT", True):
        return 0
    ids = list(ids)
    size = CHUNK_SIZE if len(ids) >= CHUNK_FROM else 1
    sent = 0
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        try:
            if size == 1:
                publish(chunk[0], countdown)
            else:
                publish_chunk(chunk, countdown)
        except Exception:  # kombu raises many types for "broker away"; none of them may fail the caller
            log.warning("could not enqueue notification %s (of %s); the sweep will pick it up", chunk[0], len(chunk),
                        exc_info=True)
            return sent
        sent += len(chunk)
    return sent
