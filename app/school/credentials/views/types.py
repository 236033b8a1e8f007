"""Credential types: the district's catalogue. Admins and heads read it; a district administrator edits it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.school.classes import queries as class_queries
from app.school.credentials import forms, queries, services
from app.school.credentials.models import CredentialType
from app.school.credentials.views import bp
from app.school.credentials.views.common import actor, form_page, show_errors


def _may_configure() -> None:
    if not services.may_configure(actor()):
        abort(403)


@bp.get("/types/")
@requires("credentials.view")
def types():
    """Every credential type, in use or not."""
    return render_template("credentials/types.html", types=queries.credential_types(),
                           may_configure=services.may_configure(actor()))


def _form(credential_type: CredentialType | None) -> forms.TypeForm:
    data = None
    if request.method != "POST" and credential_type is not None:
        data = {name: getattr(credential_type, name) for name in (
            "code", "name", "description", "validity_years", "grace_days", "reminder_offsets", "required_for",
            "grade_min", "grade_max", "is_active", "version")}
        data["renewal_hours"] = "" if credential_type.renewal_hours is None else f"{credential_type.renewal_hours:g}"
        data["subjects"] = [s.id for s in credential_type.subjects]
    form = forms.TypeForm(data=data)
    form.subjects.choices = [SelectChoice(s.id, f"{s.name} ({s.code})") for s in class_queries.subjects()]
    return form


def _save(form: forms.TypeForm, credential_type: CredentialType | None):
    data = {name: form[name].data for name in (
        "code", "name", "description", "validity_years", "grace_days", "reminder_offsets", "renewal_hours",
        "required_for", "grade_min", "grade_max", "is_active")}
    return services.save_type(credential_type, data=data, subject_ids=form.subjects.data or (), actor=actor(),
                              expected_version=form.version.data if credential_type else None)


@bp.route("/types/new", methods=["GET", "POST"])
@requires("credentials.configure")
def type_new():
    """Add a credential type to the catalogue."""
    _may_configure()
    form = _form(None)
    if form.validate_on_submit():
        try:
            credential_type = _save(form, None)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=credential_type.name), "success")
            return redirect(url_for(".types"))
    return form_page(form, title=_("New credential type"), back_url=url_for(".types"),
                     back_label=_("Credential types"))


@bp.route("/types/<int:type_id>/edit", methods=["GET", "POST"])
@requires("credentials.configure")
def type_edit(type_id: int):
    """Change a type's validity, reminders, renewal rule or who needs it (existing credentials keep their dates)."""
    _may_configure()
    credential_type = db.get_or_404(CredentialType, type_id)
    authorize("credentials.configure", None)
    form = _form(credential_type)
    if form.validate_on_submit():
        try:
            _save(form, credential_type)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".types"))
    return form_page(form, title=_("Edit %(name)s", name=credential_type.name), back_url=url_for(".types"),
                     back_label=_("Credential types"),
                     intro=_("Changing validity or grace does not change the dates of credentials already recorded."))
