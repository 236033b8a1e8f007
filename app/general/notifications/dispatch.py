"""Delivering outbox rows: claim atomically, send, record the outcome; the sweep re-queues what was lost.

Delivery is at-least-once (a worker can die between sending and recording); every backend receives
the row's delivery key and drops a key it already accepted, so the recipient gets the message once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.core.models import utcnow
from app.extensions import db
from app.general.notifications.backends import DeliveryError, OutgoingMessage, backend_for
from app.general.notifications.models import Notification, Status

log = logging.getLogger(__name__)

BACKOFF_CAP_SECONDS = 24 * 3600
ERROR_MAX = 2000
SWEEP_BATCH = 5000
DEFAULT_SWEEP_GRACE_SECONDS = 30
WORKER_LOST = "worker lost during delivery"
_ROWS = Notification.__table__


def _setting(name: str) -> int:
    return int(current_app.config[name])


def backoff_seconds(attempts: int, base: int | None = None) -> int:
    """Seconds to wait after the `attempts`-th failed attempt: base × 2^(attempts−1), capped at a day."""
    base = _setting("NOTIFY_BACKOFF_SECONDS") if base is None else base
    return min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


def claim(notification_id: int, *, now: datetime | None = None, executor: Any = None) -> OutgoingMessage | None:
    """Atomically take a due pending row ('sending', attempt counted) and return what to send; None if not ours.
    `executor`: a connection to run on instead of the session (a chunk holds one for all its rows)."""
    now = now or utcnow()
    row = (executor or db.session).execute(
        sa.update(_ROWS)  # the table, not the ORM entity: no ORM bulk-update machinery on the per-message path
        .where(
            _ROWS.c.id == notification_id,
            _ROWS.c.status == Status.PENDING,
            sa.or_(_ROWS.c.next_attempt_at.is_(None), _ROWS.c.next_attempt_at <= now),
        )
        .values(status=Status.SENDING, claimed_at=now, attempts=_ROWS.c.attempts + 1)
        .returning(_ROWS.c.id, _ROWS.c.channel, _ROWS.c.idempotency_key, _ROWS.c.recipient_address,
                   _ROWS.c.subject, _ROWS.c.body_text, _ROWS.c.body_html)
    ).first()
    if row is None:
        return None
    return OutgoingMessage(id=row.id, channel=row.channel, idempotency_key=row.idempotency_key,
                           address=row.recipient_address, subject=row.subject, body_text=row.body_text,
                           body_html=row.body_html)


def send_message(message: OutgoingMessage) -> None:
    """Hand the message to its channel's backend.

    :raises DeliveryError: the provider refused or could not be reached (other exceptions are bugs).
    """
    if message.channel != "inbox" and not message.address:
        raise DeliveryError("no recipient address", permanent=True)
    backend_for(message.channel).send(message)


def record_success(notification_id: int, *, now: datetime | None = None, executor: Any = None) -> bool:
    """Mark the row sent (whatever happened to it meanwhile: the provider has it)."""
    result = (executor or db.session).execute(
        sa.update(_ROWS)
        .where(_ROWS.c.id == notification_id, _ROWS.c.status != Status.SENT)
        .values(status=Status.SENT, sent_at=now or utcnow(), next_attempt_at=None, last_error=None)
    )
    return result.rowcount == 1


def record_failure(notification_id: int, error: BaseException, *, now: datetime | None = None) -> int | None:
    """Back to pending with backoff (returns the delay), or failed when permanent or out of attempts (None)."""
    now = now or utcnow()
    row = db.session.get(Notification, notification_id, populate_existing=True)
    if row is None or row.status != Status.SENDING:
        return None
    row.last_error = f"{type(error).__name__}: {error}"[:ERROR_MAX]
    permanent = isinstance(error, DeliveryError) and error.permanent
    if permanent or row.attempts >= _setting("NOTIFY_MAX_ATTEMPTS"):
        row.status, row.next_attempt_at = Status.FAILED, None
        log.error("notification %s failed for good after %s attempt(s): %s", row.id, row.attempts, row.last_error)
        db.session.flush()
        return None
    delay = backoff_seconds(row.attempts)
    row.status, row.next_attempt_at = Status.PENDING, now + timedelta(seconds=delay)
    log.warning("notification %s attempt %s failed (%s); next in %ss", row.id, row.attempts, row.last_error, delay)
    db.session.flush()
    return delay


def reclaim_stale(*, now: datetime | None = None) -> list[int]:
    """Rows left in 'sending' by a worker that died: back to pending, or failed when out of attempts."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=_setting("NOTIFY_STALE_SENDING_SECONDS"))
    stale = (Notification.status == Status.SENDING, Notification.claimed_at <= cutoff)
    out_of_attempts = Notification.attempts >= _setting("NOTIFY_MAX_ATTEMPTS")
    ids = list(db.session.scalars(sa.select(Notification.id).where(*stale, ~out_of_attempts).limit(SWEEP_BATCH)))
    failed = db.session.execute(
        sa.update(Notification).where(*stale, out_of_attempts)
        .values(status=Status.FAILED, last_error=WORKER_LOST, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if ids:
        db.session.execute(
            sa.update(Notification).where(Notification.id.in_(ids), *stale)
            .values(status=Status.PENDING, next_attempt_at=None, last_error=WORKER_LOST)
            .execution_options(synchronize_session=False)
        )
    if ids or failed:
        log.warning("sweep: %s stale delivery(ies) re-queued, %s failed after too many lost workers", len(ids), failed)
    return ids


def due_ids(*, now: datetime | None = None, grace_seconds: int | None = None) -> list[int]:
    """Pending rows whose time has come and that had `grace_seconds` to be enqueued the normal way."""
    now = now or utcnow()
    if grace_seconds is None:
        grace_seconds = int(current_app.config.get("NOTIFY_SWEEP_GRACE_SECONDS", DEFAULT_SWEEP_GRACE_SECONDS))
    cutoff = now - timedelta(seconds=grace_seconds)
    when = sa.func.coalesce(Notification.next_attempt_at, Notification.created_at)
    stmt = (
        sa.select(Notification.id)
        .where(Notification.status == Status.PENDING, when <= cutoff)
        .order_by(Notification.id)
        .limit(SWEEP_BATCH)
    )
    return list(db.session.scalars(stmt))


def sweep(*, now: datetime | None = None, grace_seconds: int | None = None) -> list[int]:
    """Reclaim stale rows and list everything that should be (re-)enqueued; safe to run twice."""
    now = now or utcnow()
    reclaimed = reclaim_stale(now=now)
    return sorted(set(reclaimed) | set(due_ids(now=now, grace_seconds=grace_seconds)))


def schedule_countdown(delay: int) -> int | None:
    """The countdown to give Celery, or None when the wait outlasts the broker's visibility timeout."""
    options = current_app.config["CELERY"].get("broker_transport_options", {})
    visibility = int(options.get("visibility_timeout", 3600))
    return delay if delay < visibility // 2 else None
