"""Helpers shared by the credentials views: loading with the object check, errors at their fields, uploads."""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

from app.core import views as core_views
from app.core.views import actor, show_errors  # noqa: F401  (the credentials views import them from here)
from app.extensions import db
from app.general.auth.policy import authorize, can
from app.school.credentials.models import Credential, Renewal, TrainingRecord

PER_PAGE = 25


def form_page(form, **kwargs):
    """The credentials module's small form page (see app.core.views.form_page)."""
    return core_views.form_page("credentials/form_page.html", form, **kwargs)




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




def uploaded(form: FlaskForm) -> FileStorage | None:
    """The file chosen in the form's `document` field, or None when none was chosen."""
    data = form.document.data if "document" in form._fields else None
    return data if isinstance(data, FileStorage) and data.filename else None

