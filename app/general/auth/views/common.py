"""Small helpers shared by the auth views."""
from __future__ import annotations

from flask import url_for
from flask_wtf import FlaskForm

from app.core.errors import DomainError
from app.core.net import is_safe_next


def safe_next(target: str | None) -> str | None:
    """`target` when it is a same-origin path, else None (never an open redirect)."""
    return target if is_safe_next(target) else None


def next_or_home(target: str | None) -> str:
    return safe_next(target) or url_for("dashboard.index")


def show_error(form: FlaskForm, error: DomainError, default_field: str) -> None:
    """Put a service's error message next to the field it names (or `default_field`)."""
    field = form._fields.get(error.field or "") or form._fields[default_field]
    field.errors = [*field.errors, error.message]
