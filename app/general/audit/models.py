"""AuditEvent: one row per recorded action, chained by a keyed HMAC; never updated or deleted."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
from app.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, unique=True)
    at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True, index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    ip: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    action: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    subject_type: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # Org-unit path ("/1/4/") of what the event concerns, so scoped admins see only their part.
    scope_path: Mapped[str | None] = mapped_column(sa.String(400), nullable=True, index=True)
    changes: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)

    __table_args__ = (sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    def __repr__(self) -> str:
        return f"<AuditEvent #{self.seq} {self.action} {self.subject_type}:{self.subject_id}>"


# The database refuses UPDATE and DELETE on the log. The same statements are in the migration;
# these listeners give create_all() (used by the test suite) the same protection.
PG_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
"""
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)'); END;",
)

sa.event.listen(
    AuditEvent.__table__,
    "after_create",
    sa.DDL(PG_TRIGGER.replace("%", "%%")).execute_if(dialect="postgresql"),  # DDL() formats with %
)
for _stmt in SQLITE_TRIGGERS:
    sa.event.listen(AuditEvent.__table__, "after_create", sa.DDL(_stmt).execute_if(dialect="sqlite"))
