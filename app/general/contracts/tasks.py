"""Daily contract jobs (Celery beat): expiry reminders and obligations falling due; expiry of ended contracts."""
from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

from app.extensions import db
from app.general.contracts import services

log = logging.getLogger(__name__)


def _day(on: str | None) -> date:
    return date.fromisoformat(on) if on else services.local_today()


@shared_task(name="contracts.send_expiry_reminders")
def send_expiry_reminders(on: str | None = None) -> dict[str, int]:
    """Remind parties and admins 60 and 30 days before a contract ends, admins 7 days before an obligation is due.

    `on` (YYYY-MM-DD) defaults to today in the school's time zone. Safe to run twice or late.
    """
    counts = services.send_expiry_reminders(_day(on))
    db.session.commit()
    return counts


@shared_task(name="contracts.expire_contracts")
def expire_contracts(on: str | None = None) -> int:
    """Mark active contracts whose last day has passed as expired (safe to run twice)."""
    count = services.expire_due_contracts(_day(on))
    db.session.commit()
    return count
