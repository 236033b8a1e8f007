"""Reading the audit log: filtered listings for the viewer and its export."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app.general.audit.models import AuditEvent


@dataclass
class AuditFilter:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


def _local_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered_events(f: AuditFilter) -> sa.Select:
    """Events matching the filter, newest first (dates are whole days in the school's time zone)."""
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
    if f.actor:
        stmt = stmt.where(AuditEvent.actor_label.ilike(_like(f.actor.strip()), escape="\\"))
    if f.action:
        stmt = stmt.where(AuditEvent.action.ilike(_like(f.action.strip()), escape="\\"))
    if f.subject_type:
        stmt = stmt.where(AuditEvent.subject_type == f.subject_type.strip())
    if f.subject_id:
        stmt = stmt.where(AuditEvent.subject_id == f.subject_id.strip())
    if f.date_from:
        stmt = stmt.where(AuditEvent.at >= _local_midnight(f.date_from))
    if f.date_to:
        stmt = stmt.where(AuditEvent.at < _local_midnight(f.date_to + timedelta(days=1)))
    return stmt


def subject_types() -> list[str]:
    """Distinct subject types, for the filter's choices."""
    from app.extensions import db

    stmt = sa.select(AuditEvent.subject_type).where(AuditEvent.subject_type.is_not(None)).distinct()
    return sorted(db.session.scalars(stmt))


def events_for_subject(subject_type: str, subject_id: object, limit: int = 200) -> list[AuditEvent]:
    """The timeline of one object, oldest first: its latest `limit` events (used by profile and case pages)."""
    from app.extensions import db

    stmt = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id))
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    return list(reversed(db.session.scalars(stmt).all()))


def visible_to(user, stmt: sa.Select) -> sa.Select:
    """Restrict to events within the user's scopes; events tied to no unit only for top-level scopes."""
    paths = [scope.org_unit.path for scope in user.scopes]
    if not paths:
        return stmt.where(sa.false())
    conditions = [AuditEvent.scope_path.startswith(path, autoescape=True) for path in paths]
    if any(scope.org_unit.parent_id is None for scope in user.scopes):
        conditions.append(AuditEvent.scope_path.is_(None))
    return stmt.where(sa.or_(*conditions))
