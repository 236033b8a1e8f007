"""Long-running work (large imports, exports) recorded in a row the page polls for progress."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
from app.extensions import db


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(db.Model):
    """One background job: who asked, how far it got, and what came out (counts or a row report)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), nullable=False, index=True)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=JobStatus.QUEUED, index=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    scope_unit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="SET NULL"), nullable=True
    )
    params: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    total: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    result: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        sa.CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')", name="status"),
    )

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status} {self.done}/{self.total}>"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def owner_user_id(self) -> int | None:
        return self.requested_by_id
