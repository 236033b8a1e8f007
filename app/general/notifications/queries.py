"""Reading the outbox: a user's inbox, the admin's delivery list (scoped), counts for the CLI."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import UserScope
from app.general.notifications.models import Channel, Notification, Status
from app.general.org.models import OrgUnit, OrgUnitKind

STUCK = "stuck"
DELIVERY_STATES = ("failed", STUCK, "pending", "sending", "sent")


def inbox(user) -> sa.Select:
    """The user's own in-portal messages, newest first."""
    return (
        sa.select(Notification)
        .where(Notification.recipient_user_id == user.id, Notification.channel == Channel.INBOX)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def inbox_message(user, notification_id: int) -> Notification | None:
    """One message of the user's inbox, or None (another person's message is simply not found)."""
    return db.session.scalar(inbox(user).where(Notification.id == notification_id))


def unread_count(user) -> int:
    """How many inbox messages the user has not opened."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.recipient_user_id == user.id, Notification.channel == Channel.INBOX,
               Notification.read_at.is_(None))
    )
    return db.session.scalar(stmt) or 0


def stale_cutoff():
    """Rows claimed before this moment and still 'sending' belong to a worker that died."""
    return utcnow() - timedelta(seconds=int(current_app.config["NOTIFY_STALE_SENDING_SECONDS"]))


def is_stuck(notification: Notification) -> bool:
    """Still 'sending' long after it was claimed."""
    return (
        notification.status == Status.SENDING
        and notification.claimed_at is not None
        and notification.claimed_at <= stale_cutoff()
    )


@dataclass
class DeliveryFilter:
    state: str = "attention"
    channel: str = ""
    search: str = ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _state_condition(state: str):
    if state == STUCK:
        return sa.and_(Notification.status == Status.SENDING, Notification.claimed_at <= stale_cutoff())
    if state in (Status.FAILED, Status.PENDING, Status.SENDING, Status.SENT):
        return Notification.status == state
    return sa.or_(  # default: everything that needs an admin's eye
        Notification.status == Status.FAILED,
        sa.and_(Notification.status == Status.SENDING, Notification.claimed_at <= stale_cutoff()),
    )


def deliveries(f: DeliveryFilter) -> sa.Select:
    """Outgoing deliveries (not inbox rows) matching the filter, newest first."""
    stmt = (
        sa.select(Notification)
        .where(Notification.channel != Channel.INBOX, _state_condition(f.state))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    if f.channel in (Channel.EMAIL, Channel.SMS):
        stmt = stmt.where(Notification.channel == f.channel)
    if f.search.strip():
        pattern = _like(f.search.strip())
        stmt = stmt.where(sa.or_(Notification.recipient_address.ilike(pattern, escape="\\"),
                                 Notification.template.ilike(pattern, escape="\\"),
                                 Notification.subject.ilike(pattern, escape="\\")))
    return stmt


def _reaches_everyone(admin) -> bool:
    """A scope on a district (or on a top-level unit) reaches rows that name no scoped user."""
    return any(s.org_unit.kind == OrgUnitKind.DISTRICT or s.org_unit.parent_id is None for s in admin.scopes)


def visible_to(admin, stmt: sa.Select) -> sa.Select:
    """Only rows whose recipient is inside the admin's scopes; rows without one for district admins only."""
    paths = [scope.org_unit.path for scope in admin.scopes]
    if not paths:
        return stmt.where(sa.false())
    inside = (
        sa.select(UserScope.id)
        .join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(UserScope.user_id == Notification.recipient_user_id,
               sa.or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in paths)))
        .exists()
    )
    if not _reaches_everyone(admin):
        return stmt.where(inside)
    has_scope = sa.select(UserScope.id).where(UserScope.user_id == Notification.recipient_user_id).exists()
    return stmt.where(sa.or_(inside, ~has_scope))


def visible_delivery(admin, notification_id: int) -> Notification | None:
    """One delivery the admin may act on, or None."""
    stmt = visible_to(admin, sa.select(Notification).where(Notification.id == notification_id,
                                                           Notification.channel != Channel.INBOX))
    return db.session.scalar(stmt)


def status_counts() -> list[tuple[str, str, int]]:
    """(status, channel, count) over the whole outbox."""
    stmt = (
        sa.select(Notification.status, Notification.channel, sa.func.count())
        .group_by(Notification.status, Notification.channel)
        .order_by(Notification.status, Notification.channel)
    )
    return [(status, channel, count) for status, channel, count in db.session.execute(stmt)]
