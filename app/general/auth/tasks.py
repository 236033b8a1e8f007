"""Periodic housekeeping of the auth module."""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task

from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import LoginAttempt

log = logging.getLogger(__name__)

KEEP_LOGIN_ATTEMPTS = timedelta(days=90)


@shared_task(name="auth.purge_login_attempts")
def purge_login_attempts() -> int:
    """Delete login attempts older than 90 days (safe to run twice); returns how many went."""
    cutoff = utcnow() - KEEP_LOGIN_ATTEMPTS
    deleted = db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < cutoff)).rowcount
    db.session.commit()
    log.info("purged %d login attempts older than %s", deleted, cutoff.date())
    return deleted
