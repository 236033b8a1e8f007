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
import os
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.core.errors import ImportRejected, NotAllowed, ValidationFailed
from app.core.imports.pipeline import Checked, check_rows, dump_checked, load_checked, plan_rows
from app.core.imports.progress import JobProgress
from app.core.imports.spec import ImportContext, ImportSpec, Plan
from app.core.jobs import Job, JobStatus
from app.core.models import utcnow
from app.core.spreadsheets import ReadLimits, read_upload
from app.extensions import db

log = logging.getLogger(__name__)

KIND_PREFIX = "import."
TERMINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
MAX_STORED_ERRORS = 10_000
STALE_PREVIEW = timedelta(days=1)
STALLED_AFTER = timedelta(minutes=20)  # longer than the task time limit: such a job's worker is gone
_PG_LOCK_SPACE = 0x494D  # "IM": the advisory-lock namespace of import jobs
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


# --- stored uploads ----------------------------------------------------------------------------------


def upload_folder() -> Path:
    """instance/uploads/imports (outside static/), created private to the app's user."""
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _store(data: bytes, name: str) -> str:
    fd = os.open(upload_folder() / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return name


def _stored_path(name: str | None) -> Path | None:
    if not name or not re.fullmatch(r"[0-9a-f]{32}\.(csv|xlsx|json)", name):
        return None
    return upload_folder() / name


def discard_upload(job: Job) -> None:
    """Delete a job's stored file and its checked rows (safe to call twice)."""
    _discard(job.params or {})


def _discard(params: dict) -> None:
    for key in ("file", "parsed"):
        path = _stored_path(params.get(key))
        if path is not None:
            path.unlink(missing_ok=True)


def _keep(data: bytes, fmt: str, checked: Checked, ctx: ImportContext) -> dict:
    """Store the file and its checked rows under one random name; returns what the job's params record."""
    stem = secrets.token_hex(16)
    rows = dump_checked(checked)
    return {"file": _store(data, f"{stem}.{fmt}"), "parsed": _store(rows, f"{stem}.json"),
            "parsed_sha256": hashlib.sha256(rows).hexdigest(), "parsed_on": ctx.today.isoformat()}


def _checked(params: dict, spec: ImportSpec, ctx: ImportContext, progress=None) -> Checked:
    """The file's checked rows: those the preview kept when they still apply (same day, intact), else the file's
    rows checked again. No database access. :raises UploadGone: the file is no longer there."""
    path = _stored_path(params.get("parsed"))
    if path is not None and path.exists() and params.get("parsed_on") == ctx.today.isoformat():
        blob = path.read_bytes()
        if hmac.compare_digest(hashlib.sha256(blob).hexdigest(), params.get("parsed_sha256", "")):
            return load_checked(blob)
    sheet = _read_stored(params)
    return check_rows(spec, sheet, ctx, progress) if progress else check_rows(spec, sheet, ctx)


def display_name(filename: str | None) -> str:
    """The uploaded file's own name, for pages and the audit log: no path, no control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("", name)[:200] or "upload"


# --- state ------------------------------------------------------------------------------------------------


def is_import(job: Job) -> bool:
    return job.kind.startswith(KIND_PREFIX)


def kind_of(job: Job) -> str:
    return job.kind.removeprefix(KIND_PREFIX)


def state(job: Job) -> str:
    """preview, waiting, running, succeeded, rejected, cancelled or failed."""
    if job.status == JobStatus.QUEUED:
        return "preview" if job.started_at is None else "waiting"
    if job.status == JobStatus.FAILED:
        stage = (job.result or {}).get("stage")
        return stage if stage in ("rejected", "cancelled") else "failed"
    return str(job.status)


def _limits() -> ReadLimits:
    return ReadLimits.from_config(current_app.config)


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
    sheet = read_upload(data, filename, _limits())
    params = {"filename": display_name(filename), "sha256": hashlib.sha256(data).hexdigest(),
              "format": sheet.format, "rows": len(sheet)}
    try:
        checked = check_rows(spec, sheet, ctx)  # no database access yet: nothing is held while rows are checked
        plan = plan_rows(spec, checked, ctx)
    except ImportRejected as rejected:
        job = _new_job(spec, ctx, params, JobStatus.FAILED)
        job.finished_at, job.result = utcnow(), _rejection_result(rejected, "preview")
        job.scope_unit_id = _scope_unit_id(Plan(), ctx.actor)
    else:
        job = _new_job(spec, ctx, {**params, **_keep(data, sheet.format, checked, ctx),
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


def _read_stored(params: dict):
    path = _stored_path(params.get("file"))
    if path is None or not path.exists():
        raise UploadGone(_("The uploaded file is no longer available. Upload it again."))
    return read_upload(path.read_bytes(), params["filename"], _limits())


def _apply_now(job: Job, spec: ImportSpec, ctx: ImportContext) -> dict:
    ctx = dataclasses.replace(ctx, lock=True)
    plan = plan_rows(spec, _checked(job.params or {}, spec, ctx), ctx)
    spec.apply(plan, ctx, lambda _done: None)
    return _finish(job.id, plan, ctx, {**job.params, "kind": kind_of(job)})


def _finish(job_id: int, plan: Plan, ctx: ImportContext, params: dict) -> dict:
    """Mark the job succeeded and audit the import, in the data transaction (so both commit or neither)."""
    from app.general.audit.services import record

    result = {"stage": "applied", **plan.summary()}
    finished = db.session.execute(
        sa.update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(status=JobStatus.SUCCEEDED, done=Job.total, result=result, finished_at=utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount != 1:
        raise _AlreadyDone()
    record("imports.applied", subject_type="Job", subject_id=job_id, actor=ctx.actor,
           unit=_unit(_scope_unit_id(plan, ctx.actor)),
           changes={"kind": params.get("kind"), "file": params.get("filename"), "sha256": params.get("sha256"),
                    "rows": params.get("rows"), "counts": plan.counts})
    log.info("import job %s applied: %s", job_id, plan.counts)
    return result


def _unit(unit_id: int | None):
    from app.general.org.models import OrgUnit

    return db.session.get(OrgUnit, unit_id) if unit_id else None


class UploadGone(ValidationFailed):
    """The stored file of a previewed import has disappeared (deleted, or another host's disk)."""


class _AlreadyDone(Exception):
    """Another run of the same job finished first."""


def record_rejection(job_id: int, rejected: ImportRejected, stage: str = "apply") -> None:
    """After rolling back: keep the rejection report on the job (the caller commits) and drop the file."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in TERMINAL:
        return
    job.status, job.finished_at = JobStatus.FAILED, utcnow()
    job.started_at = job.started_at or utcnow()
    job.result = _rejection_result(rejected, stage)
    discard_upload(job)
    log.info("import job %s rejected at %s: %d problems", job_id, stage, len(rejected.rows))


def record_failure(job_id: int, message: str) -> None:
    """After rolling back: mark the job failed with a message for the user (the caller commits)."""
    job = db.session.get(Job, job_id)
    if job is None or job.status in TERMINAL:
        return
    job.status, job.finished_at, job.error = JobStatus.FAILED, utcnow(), message
    job.result = {"stage": "failed", "message": message}
    discard_upload(job)


def cancel(job: Job, *, actor: Any) -> bool:
    """Drop a preview that was never confirmed; False when it was confirmed meanwhile."""
    _check_owner(job, actor)
    if not _claim(job, status=JobStatus.FAILED, finished_at=utcnow(), result={"stage": "cancelled"}):
        return False
    discard_upload(job)
    return True


# --- the background run --------------------------------------------------------------------------------


def _guard(job_id: int) -> bool:
    """Open the data transaction holding the job: False when the job is finished (by another run).

    PostgreSQL: an advisory lock, so a second run waits for the first and then sees it finished (a row
    lock would block the progress writes). SQLite: a write first, which takes the database's one write lock.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:space, :id)"),
                           {"space": _PG_LOCK_SPACE, "id": job_id})
        status = db.session.execute(sa.select(Job.status).where(Job.id == job_id)).scalar()
        return status in ACTIVE
    result = db.session.execute(
        sa.update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE)).values(status=JobStatus.RUNNING)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def run_job(job_id: int, *, spec_for: Callable[[str], ImportSpec | None],
            context_for: Callable[[Any], ImportContext]) -> str:
    """The worker's side of a large import; safe to run twice (and after a killed run).

    Returns "applied", "rejected", "already" (finished before), or "skipped" (unknown or unconfirmed job).
    """
    job = db.session.get(Job, job_id)
    if job is None or not is_import(job) or job.started_at is None:
        db.session.rollback()
        return "skipped"
    if job.status in TERMINAL:
        discard_upload(job)
        db.session.rollback()
        return "already"
    spec, actor = spec_for(kind_of(job)), job.requested_by_id and db.session.get(_user_model(), job.requested_by_id)
    if spec is None or not actor:
        record_failure(job_id, _("The import could not run: its kind or its owner no longer exists."))
        db.session.commit()
        return "skipped"
    ctx, params = context_for(actor), {**job.params, "kind": kind_of(job)}
    locale = getattr(actor, "locale", None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    db.session.rollback()  # nothing held while progress is written elsewhere (read nothing more until _guard)
    with force_locale(locale):
        return _run(job_id, spec, ctx, params)


def _user_model():
    from app.general.auth.models import User

    return User


def _run(job_id: int, spec: ImportSpec, ctx: ImportContext, params: dict) -> str:
    rows = int(params.get("rows", 0))
    progress = JobProgress(job_id)
    progress.write(status=JobStatus.RUNNING, done=0, force=True)
    try:
        # No transaction is open while the rows are checked: on SQLite (BEGIN IMMEDIATE) even a read would
        # hold the write lock that the progress writes need.
        checked = _checked(params, spec, ctx, progress)
        progress.write(done=len(checked.rows), force=True)  # the checking half is done
        if not _guard(job_id):
            db.session.rollback()
            return "already"
        if db.session.get_bind().dialect.name == "sqlite":
            progress.enabled = False  # the data transaction holds SQLite's only write lock until it commits
        ctx = dataclasses.replace(ctx, lock=True)
        plan = plan_rows(spec, checked, ctx)
        spec.apply(plan, ctx, lambda done: progress(rows + done))
        _finish(job_id, plan, ctx, params)
        db.session.commit()
    except _AlreadyDone:
        db.session.rollback()
        return "already"
    except ImportRejected as rejected:
        db.session.rollback()
        record_rejection(job_id, rejected)
        db.session.commit()
        return "rejected"
    except ValidationFailed as problem:
        db.session.rollback()
        record_failure(job_id, problem.message)
        db.session.commit()
        return "rejected"
    _discard(params)
    return "applied"


def fail_unexpectedly(job_id: int) -> None:
    """After an unexpected error: roll back, mark the job failed (nothing was written), commit."""
    db.session.rollback()
    record_failure(job_id, _("The import stopped because of an unexpected error. Nothing was changed; "
                             "try again, and tell your administrator if it happens again."))
    db.session.commit()


# --- housekeeping ------------------------------------------------------------------------------------------


def purge_stale_previews(now=None) -> int:
    """Previews never confirmed within a day are dropped with their files; returns how many."""
    cutoff = (now or utcnow()) - STALE_PREVIEW
    stmt = sa.select(Job).where(Job.kind.startswith(KIND_PREFIX), Job.status == JobStatus.QUEUED,
                                Job.started_at.is_(None), Job.created_at < cutoff)
    jobs = list(db.session.scalars(stmt))
    for job in jobs:
        if _claim(job, status=JobStatus.FAILED, finished_at=utcnow(), result={"stage": "cancelled"}):
            discard_upload(job)
    return len(jobs)


def stalled_jobs(now=None) -> list[int]:
    """Confirmed imports that no worker finished long after they were handed over (a lost task message)."""
    cutoff = (now or utcnow()) - STALLED_AFTER
    stmt = sa.select(Job.id).where(Job.kind.startswith(KIND_PREFIX), Job.status.in_(ACTIVE),
                                   Job.started_at.is_not(None), Job.started_at < cutoff)
    return list(db.session.scalars(stmt))
