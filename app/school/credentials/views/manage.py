"""Credentials of the staff in an admin's or head's scope: the list, recording, the credential page, correcting
and revoking."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, can, requires
from app.general.org.models import OrgUnit
from app.school.credentials import forms, queries, services
from app.school.credentials.models import Credential, CredentialType
from app.school.credentials.services.common import ClassesInvalid
from app.school.credentials.views import bp
from app.school.credentials.views.common import (
    PER_PAGE,
    actor,
    form_page,
    load,
    load_credential,
    show_errors,
    uploaded,
)
from app.school.staff.models import StaffMember


def _school_choices(user, blank: str | None = None) -> list[SelectChoice]:
    choices = [SelectChoice(school.id, school.name) for school in queries.schools_for(user)]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices


def _type_choices(*, active_only: bool, blank: str | None = None) -> list[SelectChoice]:
    choices = [SelectChoice(t.id, t.name) for t in queries.credential_types(active_only=active_only)]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices


def _filter(form: forms.CredentialFilterForm) -> queries.CredentialFilter:
    if not form.validate():
        return queries.CredentialFilter()
    status = form.status.data if form.status.data in queries.STATUS_FILTERS else "current"
    return queries.CredentialFilter(school_id=form.school.data, type_id=form.type.data, status=status,
                                    q=form.q.data or "")


@bp.get("/")
@requires("credentials.view")
def index():
    """The credentials of the staff in the user's schools: filter by school, type and status; search by person."""
    user = actor()
    form = forms.CredentialFilterForm(request.args)
    form.school.choices = _school_choices(user, blank=_("All schools"))
    form.type.choices = _type_choices(active_only=False, blank=_("All credentials"))
    today = queries.local_today()
    page = db.paginate(queries.credentials_for(user, _filter(form), today), per_page=PER_PAGE, error_out=False)
    return render_template("credentials/index.html", form=form, page=page, today=today,
                           statuses=queries.statuses(page.items, today), counts=queries.queue_counts(user),
                           has_types=bool(form.type.choices[1:]))


def _record(form: forms.RecordForm, staff: StaffMember) -> Credential:
    """Record the credential (or find the one a first press recorded) and attach the scan, if any."""
    credential_type = db.session.get(CredentialType, form.type.data) or abort(404)
    existing = queries.same_credential(staff.id, credential_type.id, form.issued_on.data, form.number.data)
    if existing is not None:
        return existing
    data = {name: form[name].data for name in ("number", "issuer", "issued_on", "expires_on", "note")}
    credential = services.record_credential(staff, credential_type, data=data, actor=actor())
    if file := uploaded(form):
        services.attach_document(credential, data=file.read(), filename=file.filename, actor=actor())
    return credential


def _record_page(form: forms.RecordForm, staff: StaffMember | None, back_url: str, back_label: str):
    if form.validate_on_submit():
        try:
            if staff is None:
                staff = _staff_from(form)
            credential = _record(form, staff)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(type)s recorded for %(name)s.", type=credential.type.name, name=staff.full_name), "success")
            return redirect(url_for(".show", credential_id=credential.id))
    title = _("Record a credential for %(name)s", name=staff.full_name) if staff else _("Record a credential")
    return form_page(form, title=title, back_url=back_url, back_label=back_label, multipart=True)


def _staff_from(form: forms.NewCredentialForm) -> StaffMember:
    school = db.session.get(OrgUnit, form.school.data) or abort(404)
    authorize("credentials.manage", school)
    staff = queries.staff_by_number(school.id, form.employee_number.data)
    if staff is None:
        raise ClassesInvalid({"employee_number": _("Nobody at %(school)s has this employee number.",
                                                   school=school.name)})
    authorize("credentials.manage", staff)
    return staff


@bp.route("/new", methods=["GET", "POST"])
@requires("credentials.manage")
def create():
    """Record a credential for a staff member of one of the user's schools (found by employee number)."""
    form = forms.NewCredentialForm(school=request.args.get("school", type=int))
    form.school.choices = _school_choices(actor())
    form.type.choices = _type_choices(active_only=True, blank="—")
    return _record_page(form, None, url_for(".index"), _("Credentials"))


@bp.route("/staff/<int:staff_id>/new", methods=["GET", "POST"])
@requires("credentials.manage")
def record(staff_id: int):
    """Record a credential for this staff member (from their profile)."""
    staff = load(StaffMember, staff_id, "credentials.manage")
    form = forms.RecordForm(type=request.args.get("type", type=int))
    form.type.choices = _type_choices(active_only=True, blank="—")
    return _record_page(form, staff, url_for("staff.profile", staff_id=staff.id), staff.full_name)


@bp.get("/<int:credential_id>")
@requires("credentials.view")
def show(credential_id: int):
    """A credential: status and countdown, the person's periods of this type, documents, reminders sent,
    renewals and the training in this period."""
    credential = load_credential(credential_id)
    progress = services.hours_progress(credential) if credential.type.renewal_hours and credential.is_open else None
    return render_template("credentials/show.html", page=queries.credential_page(credential, queries.local_today()),
                           credential=credential, own=False, manage=can(actor(), "credentials.manage", credential),
                           progress=progress,
                           may_attach=can(actor(), "credentials.attach", credential),
                           document_form=forms.DocumentForm(), confirm=forms.VersionedForm())


@bp.route("/<int:credential_id>/edit", methods=["GET", "POST"])
@requires("credentials.manage")
def correct(credential_id: int):
    """Correct a typing mistake in a current credential's details."""
    credential = load_credential(credential_id, "credentials.manage")
    form = forms.CredentialForm(obj=None if request.method == "POST" else credential)
    if form.validate_on_submit():
        data = {name: form[name].data for name in ("number", "issuer", "issued_on", "expires_on", "note")}
        try:
            services.correct_credential(credential, data=data, actor=actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".show", credential_id=credential_id))
    return form_page(form, title=_("Correct %(type)s", type=credential.type.name),
                     back_url=url_for(".show", credential_id=credential_id), back_label=credential.type.name,
                     intro=credential.staff.full_name)


@bp.route("/<int:credential_id>/revoke", methods=["GET", "POST"])
@requires("credentials.manage")
def revoke(credential_id: int):
    """Withdraw a credential (e.g. a failed background check), saying why; it stops counting at once."""
    credential = load_credential(credential_id, "credentials.manage")
    form = forms.ReasonForm(data=None if request.method == "POST" else {"version": credential.version})
    if form.validate_on_submit():
        try:
            services.revoke_credential(credential, reason=form.reason.data, actor=actor(),
                                       expected_version=None if credential.revoked_at else form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The credential is revoked."), "success")
            return redirect(url_for(".show", credential_id=credential_id))
    return form_page(form, title=_("Revoke %(type)s", type=credential.type.name),
                     back_url=url_for(".show", credential_id=credential_id), back_label=credential.type.name,
                     intro=_("%(name)s will no longer count as holding it. The reason is recorded.",
                             name=credential.staff.full_name))
