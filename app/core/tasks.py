"""Infrastructure tasks: the worker-health canary."""
from __future__ import annotations

import logging

from celery import shared_task

from app.core.health import WorkerHeartbeat
from app.core.models import utcnow
from app.extensions import db

log = logging.getLogger(__name__)


@shared_task(name="core.canary")
def canary(nonce: str, name: str = "default") -> str:
    """Echo `nonce` into the heartbeat table: proof that a worker takes and finishes tasks."""
    beat = db.session.get(WorkerHeartbeat, name) or WorkerHeartbeat(name=name, nonce=nonce)
    beat.nonce, beat.seen_at = nonce, utcnow()
    db.session.add(beat)
    db.session.commit()
    log.info("canary %s answered", nonce)
    return nonce
