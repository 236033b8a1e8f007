"""Celery tasks of the imports: apply a large confirmed file, resume lost ones, drop stale previews."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from celery import shared_task

from app.core.imports import jobs
from app.extensions import db
from app.school.imports_kinds import context_for, spec_for

log = logging.getLogger(__name__)

MAX_RETRIES = 3


@shared_task(name="imports.apply_file", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def apply_file(self, job_id: int) -> str:
    """Apply a confirmed import in one transaction, with progress on the job; safe to run twice.

    A lost database connection is retried; any other error marks the job failed (nothing was written).
    """
    try:
        outcome = jobs.run_job(job_id, spec_for=spec_for, context_for=context_for)
    except sa.exc.OperationalError as error:
        db.session.rollback()
        if self.request.retries < MAX_RETRIES:
            log.warning("import job %s: database unavailable, retrying", job_id)
            raise self.retry(exc=error, countdown=30 * (self.request.retries + 1)) from error
        _fail(job_id)
        raise
    except Exception:
        log.exception("import job %s failed", job_id)
        _fail(job_id)
        raise
    log.info("import job %s: %s", job_id, outcome)
    return outcome


def _fail(job_id: int) -> None:
    try:
        jobs.fail_unexpectedly(job_id)
    except Exception:  # the database may be the problem; the job is then resumed by `resume_stalled`
        db.session.rollback()
        log.exception("import job %s: could not record the failure", job_id)


@shared_task(name="imports.resume_stalled")
def resume_stalled() -> int:
    """Hand again to a worker the confirmed imports whose task was lost (e.g. a broker restart)."""
    stalled = jobs.stalled_jobs()
    db.session.rollback()
    for job_id in stalled:
        apply_file.delay(job_id)
    if stalled:
        log.warning("resumed %d stalled import jobs: %s", len(stalled), stalled)
    return len(stalled)


@shared_task(name="imports.purge_stale_previews")
def purge_stale_previews() -> int:
    """Drop previews nobody confirmed within a day, with their stored files."""
    count = jobs.purge_stale_previews()
    db.session.commit()
    return count
