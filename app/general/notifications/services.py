"""Writing notifications to the outbox (in the caller's transaction). Dispatch lives in dispatch.py."""
from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import InvalidTransition
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.models import User
from app.general.notifications import outbox
from app.general.notifications.models import Channel, Notification, Status
from app.general.notifications.queries import is_stuck
from app.general.notifications.rendering import pick_locale, render_message

log = logging.getLogger(__name__)

KEY_MAX = 200
NO_ADDRESS = "no recipient address"


def _existing(key: str) -> Notification | None:
    return db.session.scalar(sa.select(Notification).where(Notification.idempotency_key == key))


def address_of(user: Any, channel: str) -> str:
    """The user's address on `channel` (none for the inbox)."""
    if user is None or channel == Channel.INBOX:
        return ""
    return (user.phone if channel == Channel.SMS else user.email) or ""


def _json_safe(context: dict) -> dict:
    return json.loads(json.dumps(context, default=str, ensure_ascii=False))


def _ensure_sqlite_transaction() -> None:
    """pysqlite opens no transaction before a SAVEPOINT, so RELEASE would commit the caller's work; open one."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def _insert(row: Notification) -> Notification:
    """Insert inside a savepoint; losing the race to a concurrent writer of the same key returns theirs."""
    _ensure_sqlite_transaction()
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:
        winner = _existing(row.idempotency_key)
        if winner is None:
            raise
        return winner
    if row.status == Status.PENDING:
        outbox.enqueue_after_commit(db.session(), row.id)
    return row


def notify(
    *,
    template: str,
    channel: Channel | str,
    key: str,
    user: Any = None,
    address: str | None = None,
    context: dict | None = None,
    locale: str | None = None,
) -> Notification:
    """Render `template` in the recipient's locale and add one outbox row; the caller commits.

    `key` is the idempotency key: a second call with the same key returns the existing row and
    adds nothing. `user` (a User) or `address` (e-mail or phone) names the recipient.
    """
    channel = Channel(channel)
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"idempotency key must be 1..{KEY_MAX} characters")
    if channel == Channel.INBOX and user is None:
        raise ValueError("an inbox notification needs a user")
    existing = _existing(key)
    if existing is not None:
        return existing
    context = dict(context or {})
    lang = pick_locale(getattr(user, "locale", None), locale)
    rendered = render_message(template, channel, {**context, "recipient": user}, lang)
    row = Notification(
        idempotency_key=key, channel=channel, recipient_user_id=getattr(user, "id", None),
        recipient_address=(address or address_of(user, channel))[:254], template=template,
        context=_json_safe(context), locale=lang, subject=rendered.subject, body_text=rendered.body_text,
        body_html=rendered.body_html, status=Status.PENDING, attempts=0,
    )
    _set_initial_state(row)
    return _insert(row)


def initial_state(channel: str, address: str | None, at) -> dict:
    """status, sent_at and last_error of a new row: inbox rows are delivered by being written; a row with
    nowhere to go fails at once, visibly; the rest wait for dispatch."""
    if channel == Channel.INBOX:
        return {"status": Status.SENT, "sent_at": at, "last_error": None}
    if not address:
        return {"status": Status.FAILED, "sent_at": None, "last_error": NO_ADDRESS}
    return {"status": Status.PENDING, "sent_at": None, "last_error": None}


def _set_initial_state(row: Notification) -> None:
    for name, value in initial_state(row.channel, row.recipient_address, utcnow()).items():
        setattr(row, name, value)
    if row.status == Status.FAILED:
        log.warning("notification %s has no %s address; marked failed", row.idempotency_key, row.channel)


def notify_user(user: Any, *, template: str, key: str, context: dict | None = None,
                channels: tuple[str, ...] = ("inbox", "email")) -> list[Notification]:
    """One row per channel for a portal user (keys `<key>:<channel>`), in the user's locale."""
    return [
        notify(template=template, channel=channel, key=f"{key}:{channel}", user=user, context=context)
        for channel in channels
    ]


def mark_read(notification: Notification, *, actor: Any) -> Notification:
    """Mark one inbox message of `actor` as read (idempotent)."""
    if notification.recipient_user_id != actor.id or notification.channel != Channel.INBOX:
        raise ValueError("only the recipient can mark their own inbox message read")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(*, actor: Any) -> int:
    """Mark every unread inbox message of `actor` as read; returns how many changed."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_user_id == actor.id, Notification.channel == Channel.INBOX,
               Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def retry_notification(notification: Notification, *, actor: Any) -> Notification:
    """Put a failed (or stuck) delivery back in the queue with fresh attempts; dispatched after commit.

    :raises InvalidTransition: when the row is already sent or waiting in the queue.
    """
    if notification.status != Status.FAILED and not is_stuck(notification):
        raise InvalidTransition(_("Only failed or stuck deliveries can be retried."))
    before = {"status": notification.status, "attempts": notification.attempts, "last_error": notification.last_error}
    if not notification.recipient_address and notification.recipient_user_id is not None:
        user = db.session.get(User, notification.recipient_user_id)
        notification.recipient_address = address_of(user, notification.channel)[:254]
    notification.status, notification.attempts = Status.PENDING, 0
    notification.next_attempt_at = notification.claimed_at = None
    db.session.flush()
    outbox.enqueue_after_commit(db.session(), notification.id)
    record("notifications.retry", subject=notification, actor=actor, changes={"before": before})
    log.info("notification %s queued again by %s", notification.id, getattr(actor, "id", actor))
    return notification

