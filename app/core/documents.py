"""Uploaded evidence documents (PDF, PNG, JPEG): checked by content, stored outside the web root.

The type is decided by the file's first bytes, never by its name or the browser's claim: an HTML page
renamed `.pdf` is refused. Files are written under instance/uploads/documents with a random name, readable
only by the app's user; the database row (owned by the calling module) keeps the original name and hash.
Several web hosts need this folder shared, like the imports' folder.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import orm

from app.core.errors import ValidationFailed

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_NAME = re.compile(r"[0-9a-f]{32}\.(pdf|png|jpg)")
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
ALLOWED_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg"}


@dataclass(frozen=True)
class StoredDocument:
    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str


def sniff_type(data: bytes) -> str | None:
    """The content type the bytes really are (PDF, PNG or JPEG), or None."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def max_bytes() -> int:
    return int(current_app.config.get("DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def safe_original_name(filename: str | None) -> str:
    """The uploaded name without folders or control characters, at most 200 characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "document")[:200]


def check_document(data: bytes, filename: str | None) -> str:
    """The content type of an acceptable upload.

    :raises ValidationFailed: (field "document") empty, too large, or not really a PDF/PNG/JPEG.
    """
    if not data:
        raise ValidationFailed(_("Choose a file to upload."), field="document")
    limit = max_bytes()
    if len(data) > limit:
        raise ValidationFailed(_("The file is larger than %(mb)s MB. Upload a smaller scan.",
                                 mb=f"{limit / 1024 / 1024:g}"), field="document")
    suffix = Path(safe_original_name(filename)).suffix.lower()
    kind = sniff_type(data)
    if suffix not in ALLOWED_SUFFIXES or kind is None:
        raise ValidationFailed(_("Upload a PDF, PNG or JPEG file (this file is not one, whatever its name)."),
                               field="document")
    return kind


def folder() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"]) / "documents"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def store_document(data: bytes, filename: str | None) -> StoredDocument:
    """Check and write one upload; the caller records the row (and deletes the file if its transaction fails).

    :raises ValidationFailed: see `check_document`.
    """
    kind = check_document(data, filename)
    name = f"{secrets.token_hex(16)}.{EXTENSIONS[kind]}"
    fd = os.open(folder() / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return StoredDocument(name, safe_original_name(filename), kind, len(data), hashlib.sha256(data).hexdigest())


def document_path(stored_name: str) -> Path | None:
    """The file of a stored name (None for anything that is not one of ours, e.g. '../x')."""
    if not _NAME.fullmatch(stored_name or ""):
        return None
    path = folder() / stored_name
    return path if path.is_file() else None


def discard_document(stored_name: str) -> None:
    """Delete a stored file (safe to call twice)."""
    if path := document_path(stored_name):
        path.unlink(missing_ok=True)


# --- files of a transaction that rolls back are deleted -------------------------------------------------

_INFO_KEY = "documents.written_in_transaction"


def discard_if_rolled_back(session: orm.Session, stored_name: str) -> None:
    """Delete the file again unless the transaction that records it commits."""
    _install()
    session.info.setdefault(_INFO_KEY, []).append(stored_name)


def _after_commit(session: orm.Session) -> None:
    if session.get_nested_transaction() is None:  # a released SAVEPOINT is not the real commit
        session.info.pop(_INFO_KEY, None)


def _after_transaction_end(session: orm.Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit taking the names
        for name in session.info.pop(_INFO_KEY, ()):
            discard_document(name)


def _install() -> None:
    if not sa.event.contains(orm.Session, "after_commit", _after_commit):
        sa.event.listen(orm.Session, "after_commit", _after_commit)
        sa.event.listen(orm.Session, "after_transaction_end", _after_transaction_end)
