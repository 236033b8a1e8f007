"""Daily credential job (Celery beat): staged reminders, expiry escalations and the admins' digest."""
from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

from app.extensions import db
from app.general.contracts.services.common import local_today
from app.school.credentials.services.reminders import send_credential_reminders

log = logging.getLogger(__name__)


@shared_task(name="credentials.send_reminders")
def send_reminders(on: str | None = None) -> dict[str, int]:
    """Remind holders at their types' offsets, escalate expired required credentials, one digest per admin.

    `on` (YYYY-MM-DD) defaults to today in the school's time zone. Safe to run twice or late: the reminder rows
    and the idempotency keys make a second run write nothing.
    """
    day = date.fromisoformat(on) if on else local_today()
    counts = send_credential_reminders(day)
    db.session.commit()
    log.info("credential reminders committed for %s: %s", day, counts)
    return counts
