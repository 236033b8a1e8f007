"""The outbox row: rendered message, recipient, channel, delivery state, UNIQUE idempotency key."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
from app.extensions import db


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    INBOX = "inbox"


class Status(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), nullable=False, unique=True)
    channel: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    recipient_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    recipient_address: Mapped[str] = mapped_column(sa.String(254), nullable=False, default="")
    template: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    context: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="en")
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    body_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    body_html: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=Status.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, index=True)

    __table_args__ = (
        sa.CheckConstraint("channel in ('email', 'sms', 'inbox')", name="channel"),
        sa.CheckConstraint("status in ('pending', 'sending', 'sent', 'failed')", name="status"),
        sa.Index("ix_notifications_inbox", "recipient_user_id", "channel", "created_at"),
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.channel} {self.status} {self.idempotency_key}>"
