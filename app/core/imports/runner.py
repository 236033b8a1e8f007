"""The worker's side of a large import: check the rows with progress, then plan, write, audit and commit in
one transaction that a second run (or a run after a killed worker) can safely repeat."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.core.errors import ImportRejected, ValidationFailed
from app.core.imports import storage
from app.core.imports.jobs import (
    ACTIVE,
    TERMINAL,
    AlreadyDone,
    concurrent_change_message,
    finish,
    is_import,
    kind_of,
    record_failure,
    record_rejection,
)
from app.core.imports.pipeline import plan_rows
from app.core.imports.progress import JobProgress
from app.core.imports.spec import ImportContext, ImportSpec
from app.core.jobs import Job, JobStatus
from app.extensions import db

log = logging.getLogger(__name__)

_PG_LOCK_SPACE = 0x494D  # "IM": the advisory-lock namespace of import jobs


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
        storage.discard_upload(job)
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
        checked = storage.checked_rows(params, spec, ctx, progress)
        progress.write(done=len(checked.rows), force=True)  # the checking half is done
        if not _guard(job_id):
            db.session.rollback()
            return "already"
        if db.session.get_bind().dialect.name == "sqlite":
            progress.enabled = False  # the data transaction holds SQLite's only write lock until it commits
        ctx = dataclasses.replace(ctx, lock=True)
        plan = plan_rows(spec, checked, ctx)
        spec.apply(plan, ctx, lambda done: progress(rows + done))
        finish(job_id, plan, ctx, params)
        db.session.commit()
    except AlreadyDone:
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
    except sa.exc.IntegrityError:
        db.session.rollback()
        record_failure(job_id, concurrent_change_message())
        db.session.commit()
        return "rejected"
    storage.discard(params)
    return "applied"


def fail_unexpectedly(job_id: int) -> None:
    """After an unexpected error: roll back, mark the job failed (nothing was written), commit."""
    db.session.rollback()
    record_failure(job_id, _("The import stopped because of an unexpected error. Nothing was changed; "
                             "try again, and tell your administrator if it happens again."))
    db.session.commit()


