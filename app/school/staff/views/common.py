"""Helpers shared by the staff views: loading with the object check, and showing a service's errors."""
from __future__ import annotations

from flask import flash
from flask_login import current_user
from flask_wtf import FlaskForm

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize
from app.school.staff.models import StaffMember
from app.school.staff.services import StaffInvalid


def actor():
    """The logged-in user as a plain object (services keep it beyond the request proxy)."""
    return current_user._get_current_object()


def load_staff(staff_id: int, permission: str) -> StaffMember:
    """The staff member, or 404; 403 unless `permission` covers this person (scope or ownership)."""
    staff = db.get_or_404(StaffMember, staff_id)
    authorize(permission, staff)
    return staff


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Roll back, then put each message next to the field it names (or above the form when it names none)."""
    db.session.rollback()
    errors = error.errors if isinstance(error, StaffInvalid) else {error.field: error.message}
    for name, message in errors.items():
        field = form._fields.get(name or "")
        if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
            field.errors = [*field.errors, message]
        else:
            flash(message, "danger")
