"""Training records: a teacher adds their own (with optional evidence); admins and heads verify or reject them."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.school.credentials import forms, queries, services
from app.school.credentials.models import CredentialDocument
from app.school.credentials.views import bp
from app.school.credentials.views.common import PER_PAGE, actor, form_page, load_training, show_errors, uploaded
from app.school.staff import queries as staff_queries


def _own_staff():
    staff = staff_queries.staff_for_user(actor())
    if staff is None:
        abort(404)
    authorize("training.submit", staff)
    return staff


def _hours(value: Decimal) -> str:
    """Hours as the templates' `hours` macro shows them ("7.5", "12"), from the Decimal without a float."""
    return f"{value.normalize():f}"


@bp.route("/mine/training/new", methods=["GET", "POST"])
@requires("training.submit")
def training_new():
    """Record training one has done; it counts toward renewals once an administrator verifies it."""
    staff = _own_staff()
    form = forms.TrainingForm()
    if form.validate_on_submit():
        data = {name: form[name].data for name in ("completed_on", "provider", "topic", "hours")}
        today = queries.local_today()
        try:
            training = queries.same_training(staff.id, data, today=today)
            if training is None:
                training = services.submit_training(staff, data=data, actor=actor(), today=today)
                if file := uploaded(form):
                    services.attach_document(training, data=file.read(), filename=file.filename, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Training recorded: it counts once an administrator has verified it."), "success")
            return redirect(url_for(".mine", _anchor="training"))
    return form_page(form, title=_("Add training"), back_url=url_for(".mine"), back_label=_("My certificates"),
                     intro=_("Courses, workshops and other continuing professional development you have completed."),
                     multipart=True)


@bp.get("/training/")
@requires("credentials.review")
def training_queue():
    """Training records waiting for verification in the user's schools, oldest first."""
    user = actor()
    page = db.paginate(queries.training_queue(user), per_page=PER_PAGE, error_out=False)
    evidence = queries.documents_by(CredentialDocument.training_id, [t.id for t in page.items])
    return render_template("credentials/training_queue.html", page=page, evidence=evidence,
                           confirm=forms.VersionedForm(), counts=queries.queue_counts(user))


@bp.post("/training/<int:training_id>/verify")
@requires("credentials.review")
def training_verify(training_id: int):
    """Accept a training record: its hours count toward renewals."""
    training = load_training(training_id)
    form = forms.VersionedForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.verify_training(training, actor=actor(),
                                 expected_version=None if training.status != "submitted" else form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(_("%(hours)s hours of %(name)s verified.", hours=_hours(training.hours),
                name=training.staff.full_name), "success")
    return redirect(url_for(".training_queue"))


@bp.route("/training/<int:training_id>/reject", methods=["GET", "POST"])
@requires("credentials.review")
def training_reject(training_id: int):
    """Refuse a training record, saying why (the teacher reads the reason)."""
    training = load_training(training_id)
    form = forms.ReasonForm(data=None if request.method == "POST" else {"version": training.version})
    if form.validate_on_submit():
        try:
            services.reject_training(training, reason=form.reason.data, actor=actor(),
                                     expected_version=None if training.status != "submitted" else form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The training record is rejected."), "success")
            return redirect(url_for(".training_queue"))
    intro = _("%(name)s: %(topic)s (%(provider)s), %(hours)s hours on %(day)s", name=training.staff.full_name,
              topic=training.topic, provider=training.provider, hours=_hours(training.hours),
              day=training.completed_on.isoformat())
    return form_page(form, title=_("Reject training record"), back_url=url_for(".training_queue"),
                     back_label=_("Training to verify"), intro=intro)
