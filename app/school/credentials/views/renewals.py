"""Renewals: a teacher starts one from their credential (with evidence) and may withdraw it; admins and heads in
scope review it (approve: a new period; reject with a reason)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import requires
from app.school.credentials import forms, queries, services
from app.school.credentials.models import Credential, Renewal, RenewalStatus
from app.school.credentials.status import expiry_for
from app.school.credentials.views import bp
from app.school.credentials.views.common import (
    PER_PAGE,
    actor,
    form_page,
    load_own,
    load_renewal,
    show_errors,
    uploaded,
)


@bp.route("/mine/<int:credential_id>/renew", methods=["GET", "POST"])
@requires("credentials.renew")
def renew(credential_id: int):
    """Ask to renew one's own credential: the hours rule's count is shown; evidence may be attached."""
    credential = load_own(Credential, credential_id, "credentials.renew")
    back = url_for(".own", credential_id=credential_id)
    if services.open_renewal(credential) is not None:
        flash(_("A renewal of this credential is already under review."), "info")
        return redirect(back)
    form = forms.RenewalForm()
    if form.validate_on_submit():
        try:
            renewal = services.start_renewal(credential, note=form.note.data, actor=actor())
            if file := uploaded(form):
                services.attach_document(renewal, data=file.read(), filename=file.filename, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Your renewal has been sent for review."), "success")
            return redirect(back)
    return form_page(form, title=_("Renew %(type)s", type=credential.type.name), back_url=back,
                     back_label=credential.type.name, progress=services.hours_progress(credential),
                     multipart=True)


@bp.post("/renewals/<int:renewal_id>/withdraw")
@requires("credentials.renew")
def renewal_withdraw(renewal_id: int):
    """Take back one's own renewal request while it is under review."""
    renewal = load_own(Renewal, renewal_id, "credentials.renew")
    form = forms.VersionedForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.withdraw_renewal(renewal, actor=actor(), expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(_("Your renewal request is withdrawn."), "success")
    return redirect(url_for(".own", credential_id=renewal.credential_id))


@bp.get("/renewals/")
@requires("credentials.review")
def renewals():
    """Renewals in the user's schools: those under review (or, by filter, decided ones)."""
    user = actor()
    status = request.args.get("status", RenewalStatus.SUBMITTED)
    status = status if status in {*RenewalStatus, "all"} else RenewalStatus.SUBMITTED
    page = db.paginate(queries.renewals_queue(user, status), per_page=PER_PAGE, error_out=False)
    return render_template("credentials/renewals.html", page=page, status=status, counts=queries.queue_counts(user),
                           today=queries.local_today())


def _review_page(renewal: Renewal, reject_form: forms.ReasonForm, status: int = 200):
    credential = renewal.credential
    today = queries.local_today()
    starts = services.new_period_start(credential, today) if credential.expires_on else None
    return render_template(
        "credentials/renewal.html", renewal=renewal, credential=credential,
        page=queries.credential_page(credential, today), progress=services.hours_progress(credential),
        new_starts_on=starts, new_expires_on=expiry_for(starts, credential.type.validity_years) if starts else None,
        approve_form=forms.VersionedForm(version=renewal.version), reject_form=reject_form,
        is_own=credential.owner_user_id == actor().id), status


@bp.get("/renewals/<int:renewal_id>")
@requires("credentials.review")
def renewal(renewal_id: int):
    """Review a renewal: the credential, hours against the rule, evidence, training; approve or reject."""
    renewal = load_renewal(renewal_id)
    return _review_page(renewal, forms.ReasonForm(version=renewal.version))


@bp.post("/renewals/<int:renewal_id>/approve")
@requires("credentials.review")
def renewal_approve(renewal_id: int):
    """Approve: a new certification period from the type's validity; the old one is kept as history."""
    renewal = load_renewal(renewal_id)
    form = forms.VersionedForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.approve_renewal(renewal, actor=actor(), on=queries.local_today(),
                                 expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(".renewal", renewal_id=renewal_id))
    new = renewal.new_credential
    flash(_("Renewal approved: %(name)s's %(type)s is now valid until %(day)s.", name=new.staff.full_name,
            type=new.type.name, day=format_date(new.expires_on, "medium")), "success")
    return redirect(url_for(".renewal", renewal_id=renewal_id))


@bp.post("/renewals/<int:renewal_id>/reject")
@requires("credentials.review")
def renewal_reject(renewal_id: int):
    """Reject with a reason the teacher reads; the credential keeps its dates."""
    renewal = load_renewal(renewal_id)
    form = forms.ReasonForm()
    if form.validate_on_submit():
        try:
            services.reject_renewal(renewal, reason=form.reason.data, actor=actor(),
                                    expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The renewal is rejected."), "success")
            return redirect(url_for(".renewal", renewal_id=renewal_id))
    return _review_page(renewal, form, 422)

