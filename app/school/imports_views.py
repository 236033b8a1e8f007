"""Imports and exports pages: templates, upload → preview → confirm, rejection report, progress, downloads."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField

from app.core.errors import ImportRejected
from app.core.imports import jobs
from app.core.imports.template_files import template_csv, template_xlsx
from app.core.jobs import Job
from app.core.navigation import register_nav
from app.core.spreadsheets import SpreadsheetRejected, csv_bytes
from app.extensions import db
from app.general.auth.policy import can, requires
from app.general.auth.sessions import fresh_login_required
from app.general.org.models import OrgUnit
from app.school.classes.queries import schools_for
from app.school.imports_kinds import FORMATS, build_export, context_for, export_kinds, import_specs, spec_for

log = logging.getLogger(__name__)

bp = Blueprint("imports", __name__, url_prefix="/imports")
register_nav("imports.run", "imports.index", _l("Imports"), order=60, group="admin")

REPORT_ROWS_SHOWN = 1000


class UploadForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file to upload."))])


class ConfirmForm(FlaskForm):
    token = HiddenField()


def _actor():
    return current_user._get_current_object()


def _spec(kind: str):
    return spec_for(kind) or abort(404)


def _load_job(job_id: int) -> Job:
    """An import job the user started, or one of their schools' when they administer it (else 403)."""
    job = db.get_or_404(Job, job_id)
    if not jobs.is_import(job):
        abort(404)
    unit = db.session.get(OrgUnit, job.scope_unit_id) if job.scope_unit_id else None
    if job.requested_by_id != current_user.id and not (unit and can(current_user, "imports.run", unit)):
        abort(403)
    return job


def download(content: bytes, filename: str, fmt: str) -> Response:
    """A file in `fmt` (a FORMATS key) as an attachment (also used by the credentials compliance export)."""
    return Response(content, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _index(forms: dict | None = None, status: int = 200):
    specs = import_specs()
    forms = {kind: (forms or {}).get(kind) or UploadForm(prefix=kind) for kind in specs}
    recent = db.session.scalars(db.select(Job).where(Job.requested_by_id == current_user.id,
                                                     Job.kind.startswith(jobs.KIND_PREFIX))
                                .order_by(Job.id.desc()).limit(10)).all()
    return render_template("imports/index.html", specs=specs, forms=forms, recent=recent, state=jobs.state,
                           exports=export_kinds(), threshold=jobs.background_threshold()), status


@bp.get("/")
@requires("imports.run")
def index():
    """The import kinds with their templates and upload forms, the user's recent imports, the exports."""
    return _index()


@bp.get("/templates/<kind>.<fmt>")
@requires("imports.run")
def template(kind: str, fmt: str):
    """A blank template of an import kind: header, notes, an example row."""
    spec = _spec(kind)
    if fmt not in FORMATS:
        abort(404)
    content = template_csv(spec) if fmt == "csv" else template_xlsx(spec)
    return download(content, f"{kind}-template.{fmt}", fmt)


@bp.post("/<kind>/upload")
@requires("imports.run")
def upload(kind: str):
    """Check an uploaded file and show what importing it would do (nothing is changed yet)."""
    spec = _spec(kind)
    form = UploadForm(prefix=kind)
    if form.validate_on_submit():
        try:
            jobs.purge_stale_previews()
            db.session.commit()  # on SQLite no lock is held while the rows are checked
            job = jobs.stage_upload(spec, form.file.data.read(), form.file.data.filename or "",
                                    ctx=context_for(_actor()))
            db.session.commit()
            return redirect(url_for(".job", job_id=job.id))
        except SpreadsheetRejected as error:
            db.session.rollback()
            form.file.errors = [*form.file.errors, error.message]
    return _index({kind: form}, 422)


@bp.get("/jobs/<int:job_id>")
@requires("imports.run")
def job(job_id: int):
    """One import: its preview, progress, result or rejection report."""
    job = _load_job(job_id)
    spec = _spec(jobs.kind_of(job))
    errors = (job.result or {}).get("errors", [])
    return render_template("imports/job.html", job=job, spec=spec, state=jobs.state(job),
                           form=ConfirmForm(token=(job.params or {}).get("token")),
                           errors=errors[:REPORT_ROWS_SHOWN], is_owner=job.requested_by_id == current_user.id)


@bp.get("/jobs/<int:job_id>.json")
@requires("jobs.view_own")
def job_json(job_id: int):
    """Progress of an import for the page's progress bar (its owner, or an administrator of its school)."""
    job = _load_job(job_id)
    rows = int((job.params or {}).get("rows", 0))
    return jsonify(id=job.id, state=jobs.state(job), status=job.status, done=job.done, total=job.total,
                   percent=job.percent, rows=rows, phase="writing" if job.done > rows else "checking",
                   url=url_for(".job", job_id=job.id))


@bp.post("/jobs/<int:job_id>/confirm")
@requires("imports.run")
def confirm(job_id: int):
    """Apply a previewed import (once: a second press finds it confirmed and does nothing)."""
    job = _load_job(job_id)
    spec = _spec(jobs.kind_of(job))
    form = ConfirmForm()
    try:
        outcome = jobs.confirm(job, token=form.token.data or "", spec=spec, ctx=context_for(_actor()))
        db.session.commit()
    except (ImportRejected, jobs.UploadGone, sa.exc.IntegrityError) as problem:
        db.session.rollback()
        _record_problem(job_id, problem)
        db.session.commit()
        return redirect(url_for(".job", job_id=job_id))
    if outcome == "queued":
        _enqueue(job_id)
    elif outcome == "applied":
        jobs.discard_upload(job)  # after the commit: a failed commit leaves the preview confirmable
    flash({"applied": _("The file was imported."), "queued": _("The import has started."),
           "already": _("This import was already confirmed.")}[outcome], "success" if outcome != "already" else "info")
    return redirect(url_for(".job", job_id=job_id))


def _record_problem(job_id: int, problem) -> None:
    if isinstance(problem, ImportRejected):
        jobs.record_rejection(job_id, problem)
    elif isinstance(problem, sa.exc.IntegrityError):  # a concurrent writer took a number first
        jobs.record_failure(job_id, jobs.concurrent_change_message())
    else:
        jobs.record_failure(job_id, problem.message)


def _enqueue(job_id: int) -> None:
    """Hand the job to a worker after the commit; a broker that is down delays it (resume_stalled) but loses nothing."""
    from app.school.imports_tasks import apply_file

    try:
        apply_file.delay(job_id)
    except Exception:
        log.exception("import job %s could not be queued; it will be resumed", job_id)
        flash(_("The workers cannot be reached right now: the import will start as soon as they can."), "warning")


@bp.post("/jobs/<int:job_id>/cancel")
@requires("imports.run")
def cancel(job_id: int):
    """Drop a preview without importing it."""
    job = _load_job(job_id)
    if jobs.cancel(job, actor=_actor()):
        db.session.commit()
        flash(_("The upload was discarded. Nothing was changed."), "info")
        return redirect(url_for(".index"))
    flash(_("This import was already confirmed."), "info")
    return redirect(url_for(".job", job_id=job_id))


@bp.get("/jobs/<int:job_id>/report.csv")
@requires("imports.run")
def report_csv(job_id: int):
    """The rejection report (row, column, message) as CSV."""
    job = _load_job(job_id)
    errors = (job.result or {}).get("errors") or []
    content = csv_bytes([_("Row"), _("Column"), _("Problem")], errors)
    return download(content, f"import-{job.id}-problems.csv", "csv")


def chosen_school():
    """The school picked to narrow an export (?school=id): one of the user's, else 404; None for all of them
    (also used by the credentials compliance export)."""
    school_id = request.args.get("school", type=int)
    if not school_id:
        return None
    return next((s for s in schools_for(current_user) if s.id == school_id), None) or abort(404)


@bp.get("/exports/")
@requires("exports.run")
def exports():
    """The lists that can be downloaded, for all the user's schools or one of them."""
    return render_template("imports/exports.html", exports=export_kinds(), schools=schools_for(current_user),
                           school=chosen_school())


@bp.get("/exports/<kind>.<fmt>")
@requires("exports.run")
@fresh_login_required
def export(kind: str, fmt: str):
    """Download a list (rows of the user's schools only, every cell neutralised); audited."""
    if kind not in export_kinds() or fmt not in FORMATS:
        abort(404)
    content, filename = build_export(kind, fmt, _actor(), chosen_school())
    db.session.commit()
    return download(content, filename, fmt)
