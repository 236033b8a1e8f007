"""Scheduled export of audit checkpoints."""
from __future__ import annotations

import logging

from celery import shared_task

from app.extensions import db
from app.general.audit import services

log = logging.getLogger(__name__)


@shared_task(name="audit.write_checkpoint")
def write_checkpoint() -> int | None:
    """Append the chain head to the checkpoint file outside the database."""
    entry = services.write_checkpoint()
    db.session.rollback()
    if entry:
        log.info("audit checkpoint #%s", entry["seq"])
    return entry["seq"] if entry else None
