"""Celery tasks of the outbox: deliver one row; sweep for rows that were never or only half delivered."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.general.notifications import dispatch as delivery
from app.general.notifications import outbox

log = logging.getLogger(__name__)


@shared_task(name="notifications.dispatch", acks_late=True)
def dispatch(notification_id: int) -> str:
    """Deliver one outbox row: claim it, send it with its idempotency key, record the outcome."""
    return deliver(notification_id)


@shared_task(name="notifications.dispatch_many", acks_late=True)
def dispatch_many(notification_ids: list[int]) -> dict[str, int]:
    """Deliver a chunk of outbox rows one after the other (a notice to hundreds of parents is published as a few
    chunks, not hundreds of tasks). Each row is claimed, sent and recorded with the same steps as `dispatch`; a
    chunk redelivered after a lost worker skips the rows already sent or claimed, and the sweep re-queues a row
    left claimed."""
    outcomes = deliver_many([int(i) for i in notification_ids])
    log.info("notification chunk of %s: %s", len(notification_ids), outcomes)
    return outcomes


def deliver_many(notification_ids: list[int]) -> dict[str, int]:
    """`deliver` for many rows on one connection (checked out, and pinged, once). Each row is claimed, sent and
    recorded with the same steps, the outcome committed right after the provider call returns; no transaction is
    open while the provider is called. A database error on one row leaves that row to the sweep (pending again,
    or 'sending' until it is stale) and the chunk goes on."""
    outcomes: dict[str, int] = {}

    def count(outcome: str) -> None:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    with _one_connection() as (connection, transaction):
        for notification_id in notification_ids:
            try:
                with transaction():
                    message = delivery.claim(notification_id, executor=connection)
            except SQLAlchemyError:
                log.exception("notification %s: could not be claimed; the sweep will retry it", notification_id)
                count("error")
                continue
            if message is None:
                count("skipped")
                continue
            try:
                delivery.send_message(message)
            except SoftTimeLimitExceeded:
                raise  # the task ran out of time: the rest of the chunk waits for the sweep
            except Exception as exc:
                count(_after_failure(notification_id, exc))
                continue
            try:
                with transaction():
                    delivery.record_success(notification_id, executor=connection)
            except SQLAlchemyError:
                log.exception("notification %s: sent, but not recorded; the sweep will re-send it with the same "
                              "key, which the provider drops", notification_id)
                count("unrecorded")
                continue
            count("sent")
            log.info("notification %s sent by %s", notification_id, message.channel)
    return outcomes


@contextmanager
def _one_connection() -> Iterator[tuple[sa.Connection, Callable]]:
    """A connection of the session's database and how to open a transaction on it: from the engine, committed
    transactions; when the session is bound to one connection already (inside an outer transaction, as the test
    suite's is), savepoints on it."""
    bind = db.session.get_bind()
    if isinstance(bind, sa.Connection):
        yield bind, bind.begin_nested
        return
    with bind.connect() as connection:
        yield connection, connection.begin


def deliver(notification_id: int) -> str:
    """Claim one row, send it with its idempotency key, record the outcome (each step committed on its own)."""
    message = delivery.claim(notification_id)
    db.session.commit()  # the claim (and the counted attempt) survives even if this worker dies now
    if message is None:
        log.info("notification %s not due or already taken; skipped", notification_id)
        return "skipped"
    try:  # no transaction is open while the provider is called
        delivery.send_message(message)
    except Exception as exc:
        return _after_failure(notification_id, exc)
    delivery.record_success(notification_id)
    db.session.commit()
    log.info("notification %s sent by %s", notification_id, message.channel)
    return "sent"


def _after_failure(notification_id: int, exc: Exception) -> str:
    if not isinstance(exc, delivery.DeliveryError):
        log.exception("notification %s: backend error", notification_id)
    delay = delivery.record_failure(notification_id, exc)
    db.session.commit()
    if delay is None:
        return "failed"
    countdown = delivery.schedule_countdown(delay)
    if countdown is not None:
        outbox.enqueue([notification_id], countdown=countdown)
    return "retrying"


@shared_task(name="notifications.sweep_pending")
def sweep_pending(grace_seconds: int | None = None) -> int:
    """Re-enqueue due pending rows and reclaim rows stuck in 'sending'; safe to run twice."""
    ids = delivery.sweep(grace_seconds=grace_seconds)
    db.session.commit()
    queued = outbox.enqueue(ids)
    log.info("sweep: %s notification(s) due, %s enqueued", len(ids), queued)
    return queued
