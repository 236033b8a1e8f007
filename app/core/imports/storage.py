"""Where an import's upload and its checked rows wait between the preview and the apply.

Under instance/uploads/imports (outside static/), under one random name per upload, readable only by the
app's user, and deleted once the job is finished. Several web and worker hosts need this folder shared.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.core.imports.pipeline import Checked, check_rows, dump_checked, load_checked
from app.core.imports.spec import ImportContext, ImportSpec
from app.core.jobs import Job
from app.core.spreadsheets import ReadLimits, read_upload

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


class UploadGone(ValidationFailed):
    """The stored file of a previewed import has disappeared (deleted, or another host's disk)."""



def limits() -> ReadLimits:
    return ReadLimits.from_config(current_app.config)



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
    discard(job.params or {})


def discard(params: dict) -> None:
    for key in ("file", "parsed"):
        path = _stored_path(params.get(key))
        if path is not None:
            path.unlink(missing_ok=True)


def keep(data: bytes, fmt: str, checked: Checked, ctx: ImportContext) -> dict:
    """Store the file and its checked rows under one random name; returns what the job's params record."""
    stem = secrets.token_hex(16)
    rows = dump_checked(checked)
    return {"file": _store(data, f"{stem}.{fmt}"), "parsed": _store(rows, f"{stem}.json"),
            "parsed_sha256": hashlib.sha256(rows).hexdigest(), "parsed_on": ctx.today.isoformat()}


def checked_rows(params: dict, spec: ImportSpec, ctx: ImportContext, progress=None) -> Checked:
    """The file's checked rows: those the preview kept when they still apply (same day, intact), else the file's
    rows checked again. No database access. :raises UploadGone: the file is no longer there."""
    path = _stored_path(params.get("parsed"))
    if path is not None and path.exists() and params.get("parsed_on") == ctx.today.isoformat():
        blob = path.read_bytes()
        if hmac.compare_digest(hashlib.sha256(blob).hexdigest(), params.get("parsed_sha256", "")):
            return load_checked(blob)
    sheet = read_stored(params)
    return check_rows(spec, sheet, ctx, progress) if progress else check_rows(spec, sheet, ctx)


def display_name(filename: str | None) -> str:
    """The uploaded file's own name, for pages and the audit log: no path, no control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("", name)[:200] or "upload"


def read_stored(params: dict):
    path = _stored_path(params.get("file"))
    if path is None or not path.exists():
        raise UploadGone(_("The uploaded file is no longer available. Upload it again."))
    return read_upload(path.read_bytes(), params["filename"], limits())


