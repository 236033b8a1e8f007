"""Celery tasks of the outbox: deliver one row; sweep for rows that were never or only half delivered."""
from __future__ import annotations

import logging

from celery import shared_task

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
    chunks, not hundreds of tasks). Each row is claimed, sent and recorded on its own, exactly as `dispatch` does:
    a chunk redelivered after a lost worker skips the rows already sent or claimed, and the sweep re-queues a row
    left claimed."""
    outcomes: dict[str, int] = {}
    for notification_id in notification_ids:
        outcome = deliver(int(notification_id))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    log.info("notification chunk of %s: %s", len(notification_ids), outcomes)
    return outcomes


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
