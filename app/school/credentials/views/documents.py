"""Evidence documents: upload to a credential, a training record or a renewal; download to those allowed.

A document is served only to whom the policy allows (the holder; admins and heads in scope); anyone else gets
404, so that document ids cannot be probed. Every reading is audited.
"""
from __future__ import annotations

import hashlib

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core import documents as files
from app.core.errors import DomainError
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.policy import can, requires
from app.school.credentials import forms, queries, services
from app.school.credentials.models import Credential, CredentialDocument, Renewal, TrainingRecord
from app.school.credentials.views import bp
from app.school.credentials.views.common import actor, show_errors, uploaded


def _attachable(model, object_id: int):
    """The record to attach to: 404 for what the user may not attach to (nor even see)."""
    row = db.session.get(model, object_id)
    if row is None or not can(current_user, "credentials.attach", row):
        abort(404)
    return row


def _upload(owner, column, back_url: str):
    """Check and store the chosen file; the same file twice (a double press) is kept once."""
    form = forms.DocumentForm()
    if not form.validate_on_submit():
        abort(400)
    file = uploaded(form)
    data = file.read() if file else b""
    try:
        if queries.same_document(column, owner.id, hashlib.sha256(data).hexdigest()) is None:
            services.attach_document(owner, data=data, filename=file.filename if file else None, actor=actor())
        db.session.commit()
    except DomainError as error:
        show_errors(form, error)
        return render_template("credentials/upload_failed.html", form=form, back_url=back_url), 422
    flash(_("The document has been uploaded."), "success")
    return redirect(back_url)


def _credential_url(credential: Credential) -> str:
    if credential.owner_user_id == current_user.id:
        return url_for(".own", credential_id=credential.id, _anchor="documents")
    return url_for(".show", credential_id=credential.id, _anchor="documents")


@bp.post("/<int:credential_id>/documents")
@requires("credentials.attach")
def upload(credential_id: int):
    """Attach a scan of the certificate."""
    credential = _attachable(Credential, credential_id)
    return _upload(credential, CredentialDocument.credential_id, _credential_url(credential))


@bp.post("/training/<int:training_id>/documents")
@requires("credentials.attach")
def training_upload(training_id: int):
    """Attach evidence to a training record (a certificate of attendance)."""
    training = _attachable(TrainingRecord, training_id)
    return _upload(training, CredentialDocument.training_id, url_for(".mine", _anchor="training"))


@bp.post("/renewals/<int:renewal_id>/documents")
@requires("credentials.attach")
def renewal_upload(renewal_id: int):
    """Attach evidence to a renewal while it is under review."""
    renewal = _attachable(Renewal, renewal_id)
    return _upload(renewal, CredentialDocument.renewal_id, _credential_url(renewal.credential))


@bp.get("/documents/<int:document_id>")
@requires("credentials.document")
def document(document_id: int):
    """Download a document as an attachment with its recorded type; the reading is audited."""
    row = db.session.get(CredentialDocument, document_id)
    if row is None or not can(current_user, "credentials.document", row):
        abort(404)
    path = files.document_path(row.stored_name)
    if path is None:
        abort(404)
    record("credential_document.read", subject=row, actor=actor(), changes={"name": row.original_name})
    db.session.commit()
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.original_name,
                         max_age=0, conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
