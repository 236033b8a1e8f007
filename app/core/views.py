"""Helpers every module's views share: the acting user, a service's errors at their fields, the small form page."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user
from flask_wtf import FlaskForm

from app.core.errors import DomainError
from app.extensions import db


def actor():
    """The logged-in user as a plain object (what services receive)."""
    return current_user._get_current_object()


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


def form_page(template: str, form: FlaskForm, *, title: str, back_url: str, back_label: str,
              intro: str | None = None, **context):
    """The one page of a small form (`template` extends _form_page.html): a card with the form; 422 when it carries
    errors."""
    status = 422 if form.errors or form.form_errors else 200
    return render_template(template, form=form, title=title, back_url=back_url, back_label=back_label, intro=intro,
                           **context), status
