"""Worker-health canary: a task round-trip through the broker, recorded in the database."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
from app.extensions import db


class WorkerHeartbeat(db.Model):
    """The last nonce a worker echoed back; a stuck worker answers pings but never writes here."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    seen_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<WorkerHeartbeat {self.name} {self.seen_at:%Y-%m-%d %H:%M:%S}>"
