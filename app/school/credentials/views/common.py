"""Helpers shared by the credentials views: loading with the object check, errors at their fields, uploads."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, can
from app.school.credentials.models import Credential, Renewal, TrainingRecord

PER_PAGE = 25


def actor():
    """The logged-in user as a plain object (what services receive)."""
    return current_user._get_current_object()


def load(model, object_id: int, permission: str):
    """The row, or 404; 403 unless the user may do `permission` to it."""
    row = db.get_or_404(model, object_id)
    authorize(permission, row)
    return row


def load_own(model, object_id: int, permission: str):
    """A row the logged-in person owns; anybody else's answers 404 (ids cannot be probed)."""
    row = db.session.get(model, object_id)
    if row is None or row.owner_user_id != current_user.id or not can(current_user, permission, row):
        abort(404)
    return row


def load_credential(credential_id: int, permission: str = "credentials.view") -> Credential:
    return load(Credential, credential_id, permission)


def load_renewal(renewal_id: int, permission: str = "credentials.review") -> Renewal:
    return load(Renewal, renewal_id, permission)


def load_training(training_id: int, permission: str = "credentials.review") -> TrainingRecord:
    return load(TrainingRecord, training_id, permission)


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Roll back, then put a service's messages next to the fields they name (others above the form)."""
    db.session.rollback()
    errors = getattr(error, "errors", None) or {error.field or "": error.message}
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def uploaded(form: FlaskForm) -> FileStorage | None:
    """The file chosen in the form's `document` field, or None when none was chosen."""
    data = form.document.data if "document" in form._fields else None
    return data if isinstance(data, FileStorage) and data.filename else None


def form_page(form: FlaskForm, *, title: str, back_url: str, back_label: str, intro: str | None = None,
              **context):
    """The one page of every small form: a card with the form; 422 when it carries errors."""
    status = 422 if form.errors or form.form_errors else 200
    return render_template("credentials/form_page.html", form=form, title=title, back_url=back_url,
                           back_label=back_label, intro=intro, **context), status
