"""Import jobs: an upload is checked and previewed, then confirmed once and applied in one transaction.

The Job row carries the state: created at upload (status queued, `started_at` empty = awaiting
confirmation, the preview in `result`); confirming stamps `started_at` with a conditional UPDATE, so a
second confirm finds nothing to claim. Small files are applied in the confirming request's transaction;
large ones by the `imports.apply_file` task, which reports progress in separate short transactions and
writes the data in one transaction that either commits whole or leaves nothing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.core.errors import ImportRejected, NotAllowed, ValidationFailed
from app.core.imports import storage
from app.core.imports.pipeline import check_rows, plan_rows
from app.core.imports.spec import ImportContext, ImportSpec, Plan
from app.core.jobs import Job, JobStatus
from app.core.models import utcnow
from app.core.spreadsheets import read_upload
from app.extensions import db

log = logging.getLogger(__name__)

KIND_PREFIX = "import."
TERMINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
MAX_STORED_ERRORS = 10_000
STALE_PREVIEW = timedelta(days=1)
STALLED_AFTER = timedelta(minutes=20)  # longer than the task time limit: such a job's worker is gone


# --- state ------------------------------------------------------------------------------------------------


def is_import(job: Job) -> bool:
    """True for the jobs of this module (the Job table is shared with other kinds of background work)."""
    return job.kind.startswith(KIND_PREFIX)


def kind_of(job: Job) -> str:
    """The import kind ("staff", "students", "assignments") of an import job."""
    return job.kind.removeprefix(KIND_PREFIX)


def state(job: Job) -> str:
    """preview, waiting, running, succeeded, rejected, cancelled or failed."""
    if job.status == JobStatus.QUEUED:
        return "preview" if job.started_at is None else "waiting"
    if job.status == JobStatus.FAILED:
        stage = (job.result or {}).get("stage")
        return stage if stage in ("rejected", "cancelled") else "failed"
    return str(job.status)


def background_threshold() -> int:
    """Files with more rows than this are applied by a worker, with a progress bar."""
    return int(current_app.config.get("IMPORT_BACKGROUND_ROWS", 2000))


def _rejection_result(rejected: ImportRejected, stage: str) -> dict:
    return {
        "stage": "rejected",
        "during": stage,
        "message": str(rejected.message),
        "error_count": len(rejected.rows),
        "errors": [list(item) for item in rejected.rows[:MAX_STORED_ERRORS]],
    }


def _scope_unit_id(plan: Plan, actor: Any) -> int | None:
    if len(plan.unit_ids) == 1:
        return next(iter(plan.unit_ids))
    scopes = getattr(actor, "scopes", None) or []
    return scopes[0].org_unit_id if scopes else None


# --- upload and preview -----------------------------------------------------------------------------------


def stage_upload(spec: ImportSpec, data: bytes, filename: str, *, ctx: ImportContext) -> Job:
    """Check an uploaded file and record a job holding its preview (or its rejection report).

    The file is kept (under a random name) only when it passed, for the confirmation to apply.
    :raises SpreadsheetRejected: not a readable, safe .csv/.xlsx (no job is recorded).
    """
    sheet = read_upload(data, filename, storage.limits())
    params = {"filename": storage.display_name(filename), "sha256": hashlib.sha256(data).hexdigest(),
              "format": sheet.format, "rows": len(sheet)}
    try:
        checked = check_rows(spec, sheet, ctx)  # no database access yet: nothing is held while rows are checked
        plan = plan_rows(spec, checked, ctx)
    except ImportRejected as rejected:
        job = _new_job(spec, ctx, params, JobStatus.FAILED)
        job.finished_at, job.result = utcnow(), _rejection_result(rejected, "preview")
        job.scope_unit_id = _scope_unit_id(Plan(), ctx.actor)
    else:
        job = _new_job(spec, ctx, {**params, **storage.keep(data, sheet.format, checked, ctx),
                                   "token": secrets.token_urlsafe(24)}, JobStatus.QUEUED)
        job.result = {"stage": "preview", **plan.summary()}
        job.scope_unit_id = _scope_unit_id(plan, ctx.actor)
    db.session.add(job)
    db.session.flush()
    log.info("import %s staged as job %s: %s rows, %s", spec.kind, job.id, len(sheet), state(job))
    return job


def _new_job(spec: ImportSpec, ctx: ImportContext, params: dict, status: str) -> Job:
    return Job(kind=KIND_PREFIX + spec.kind, status=status, requested_by_id=ctx.actor.id, params=params,
               total=2 * params["rows"], done=0)


def _check_owner(job: Job, actor: Any) -> None:
    if job.requested_by_id != getattr(actor, "id", None):
        raise NotAllowed(_("Only the person who uploaded the file can confirm or cancel it."))


def _claim(job: Job, **values) -> bool:
    """Stamp the confirmation on a job still awaiting it; False when someone already did (a second submit)."""
    result = db.session.execute(
        sa.update(Job).where(Job.id == job.id, Job.status == JobStatus.QUEUED, Job.started_at.is_(None))
        .values(started_at=utcnow(), **values).execution_options(synchronize_session=False)
    )
    db.session.expire(job)
    return result.rowcount == 1


def confirm(job: Job, *, token: str, spec: ImportSpec, ctx: ImportContext) -> str:
    """Confirm a previewed import once: apply it now ("applied"), hand it to a worker ("queued"), or do
    nothing because it was already confirmed ("already"). The caller commits (and enqueues after commit).

    :raises ValidationFailed: wrong preview token. :raises NotAllowed: not the uploader's job.
    :raises ImportRejected: the data changed since the preview and a row no longer passes (roll back, then
        `record_rejection`).
    """
    _check_owner(job, ctx.actor)
    expected = (job.params or {}).get("token") or ""
    if not token or not hmac.compare_digest(expected, token):
        if state(job) != "preview":
            return "already"
        raise ValidationFailed(_("This confirmation does not belong to the preview shown. Upload the file again."))
    if job.params.get("rows", 0) > background_threshold():
        return "queued" if _claim(job) else "already"
    if not _claim(job, status=JobStatus.RUNNING):
        return "already"
    _apply_now(job, spec, ctx)
    return "applied"


def _apply_now(job: Job, spec: ImportSpec, ctx: ImportContext) -> dict:
    ctx = dataclasses.replace(ctx, lock=True)
    plan = plan_rows(spec, storage.checked_rows(job.params or {}, spec, ctx), ctx)
    spec.apply(plan, ctx, lambda _done: None)
    return finish(job.id, plan, ctx, {**job.params, "kind": kind_of(job)})


def finish(job_id: int, plan: Plan, ctx: ImportContext, params: dict) -> dict:
    """Mark the job succeeded and audit the import, in the data transaction (so both commit or neither)."""
    from app.general.audit.services import record

    result = {"stage": "applied", **plan.summary()}
    finished = db.session.execute(
        sa.update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(status=JobStatus.SUCCEEDED, done=Job.total, result=result, finished_at=utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount != 1:
        raise AlreadyDone()
    record("imports.applied", subject_type="Job", subject_id=job_id, actor=ctx.actor,
           unit=_unit(_scope_unit_id(plan, ctx.actor)),
           changes={"kind": params.get("kind"), "file": params.get("filename"), "sha256": params.get("sha256"),
                    "rows": params.get("rows"), "counts": plan.counts})
    log.info("import job %s applied: %s", job_id, plan.counts)
    return result


def _unit(unit_id: int | None):
    from app.general.org.models import OrgUnit

    return db.session.get(OrgUnit, unit_id) if unit_id else None


class AlreadyDone(Exception):
    """Another run of the same job finished first."""


def record_rejection(job_id: int, rejected: ImportRejected, stage: str = "apply") -> None:
    """After rolling back: keep the rejection report on the job (the caller commits) and drop the file."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in TERMINAL:
        return
    job.status, job.finished_at = JobStatus.FAILED, utcnow()
    job.started_at = job.started_at or utcnow()
    job.result = _rejection_result(rejected, stage)
    storage.discard_upload(job)
    log.info("import job %s rejected at %s: %d problems", job_id, stage, len(rejected.rows))


def concurrent_change_message() -> str:
    return _("Someone else changed the same records while this file was being imported. Nothing was changed: "
             "upload the file again.")


def record_failure(job_id: int, message: str) -> None:
    """After rolling back: mark the job failed with a message for the user (the caller commits)."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in TERMINAL:
        return
    job.status, job.finished_at, job.error = JobStatus.FAILED, utcnow(), message
    job.result = {"stage": "failed", "message": message}
    storage.discard_upload(job)


def cancel(job: Job, *, actor: Any) -> bool:
    """Drop a preview that was never confirmed; False when it was confirmed meanwhile."""
    _check_owner(job, actor)
    if not _claim(job, status=JobStatus.FAILED, finished_at=utcnow(), result={"stage": "cancelled"}):
        return False
    storage.discard_upload(job)
    return True


# --- housekeeping ------------------------------------------------------------------------------------------


def purge_stale_previews(now=None) -> int:
    """Previews never confirmed within a day are dropped with their files; returns how many."""
    cutoff = (now or utcnow()) - STALE_PREVIEW
    stmt = sa.select(Job).where(Job.kind.startswith(KIND_PREFIX), Job.status == JobStatus.QUEUED,
                                Job.started_at.is_(None), Job.created_at < cutoff)
    jobs = list(db.session.scalars(stmt))
    for job in jobs:
        if _claim(job, status=JobStatus.FAILED, finished_at=utcnow(), result={"stage": "cancelled"}):
            storage.discard_upload(job)
    return len(jobs)


def stalled_jobs(now=None) -> list[int]:
    """Confirmed imports that no worker finished long after they were handed over (a lost task message)."""
    cutoff = (now or utcnow()) - STALLED_AFTER
    stmt = sa.select(Job.id).where(Job.kind.startswith(KIND_PREFIX), Job.status.in_(ACTIVE),
                                   Job.started_at.is_not(None), Job.started_at < cutoff)
    return list(db.session.scalars(stmt))


# The public API of import jobs, in one place for views, tasks and the bench.
from app.core.imports.runner import fail_unexpectedly, run_job  # noqa: E402
from app.core.imports.storage import UploadGone, discard_upload, display_name, upload_folder  # noqa: E402

__all__ = [
    "ACTIVE", "KIND_PREFIX", "TERMINAL", "ImportRejected", "UploadGone", "background_threshold", "cancel",
    "concurrent_change_message", "confirm",
    "discard_upload", "display_name", "fail_unexpectedly", "is_import", "kind_of", "purge_stale_previews",
    "record_failure", "record_rejection", "run_job", "stage_upload", "stalled_jobs", "state", "upload_folder",
]
