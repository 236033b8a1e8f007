"""Reads for the dashboards: the latest inbox messages and the latest audit events in reach."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.audit.queries import visible_to
from app.general.notifications.models import Notification
from app.general.notifications.queries import inbox


def latest_inbox(user, limit: int = 5) -> list[Notification]:
    """The user's newest in-portal messages (the inbox page's own query, cut to `limit`)."""
    return list(db.session.scalars(inbox(user).limit(limit)))


def recent_audit_events(user, limit: int = 10) -> list[AuditEvent]:
    """The newest audit events within the user's reach (the audit viewer's own scoping rule)."""
    stmt = visible_to(user, sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).limit(limit)
    return list(db.session.scalars(stmt))
