"""The purge of old login attempts (auth.purge_login_attempts)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import LoginAttempt
from app.general.auth.tasks import purge_login_attempts


def _attempt(age: timedelta) -> LoginAttempt:
    row = LoginAttempt(email="x@example.test", ip="127.0.0.1", succeeded=False, reason="bad_password",
                       at=utcnow() - age)
    db.session.add(row)
    return row


def test_attempts_older_than_90_days_are_deleted_and_newer_ones_kept(db):
    _attempt(timedelta(days=91))
    _attempt(timedelta(days=365))
    kept = _attempt(timedelta(days=89))
    db.session.flush()
    assert purge_login_attempts.run() == 2
    assert db.session.scalars(sa.select(LoginAttempt.id)).all() == [kept.id]
    assert purge_login_attempts.run() == 0  # safe to run twice


def test_the_task_is_registered_under_the_name_in_the_beat_schedule(app):
    schedule = app.config["CELERY"]["beat_schedule"]["auth-purge-login-attempts"]
    assert purge_login_attempts.name == schedule["task"] == "auth.purge_login_attempts"
