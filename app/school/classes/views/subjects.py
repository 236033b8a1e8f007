"""The subject catalogue: everyone who sees classes reads it; a district administrator edits it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import requires
from app.school.classes import forms, queries, services
from app.school.classes.models import Subject
from app.school.classes.views import bp
from app.school.classes.views.common import actor, form_page, show_errors


def _may_edit() -> None:
    if not services.may_manage_catalogue(actor()):
        abort(403)


@bp.get("/subjects/")
@requires("classes.view")
def subjects():
    """Every subject, active or not."""
    return render_template("classes/subjects.html", subjects=queries.subjects(),
                           may_edit=services.may_manage_catalogue(actor()), confirm=forms.ConfirmForm())


@bp.route("/subjects/new", methods=["GET", "POST"])
@requires("classes.manage")
def subject_new():
    """Add a subject to the catalogue."""
    _may_edit()
    form = forms.SubjectForm()
    if form.validate_on_submit():
        try:
            subject = services.create_subject(code=form.code.data, name=form.name.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=subject.name), "success")
            return redirect(url_for(".subjects"))
    return form_page(form, title=_("New subject"), back_url=url_for(".subjects"), back_label=_("Subjects"))


@bp.route("/subjects/<int:subject_id>/edit", methods=["GET", "POST"])
@requires("classes.manage")
def subject_edit(subject_id: int):
    """Rename or re-code a subject."""
    _may_edit()
    subject = db.get_or_404(Subject, subject_id)
    form = forms.SubjectForm(obj=subject)
    if form.validate_on_submit():
        try:
            services.update_subject(subject, code=form.code.data, name=form.name.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".subjects"))
    return form_page(form, title=_("Edit %(name)s", name=subject.name), back_url=url_for(".subjects"),
                     back_label=_("Subjects"))


def _switch(subject_id: int, active: bool):
    _may_edit()
    subject = db.get_or_404(Subject, subject_id)
    if forms.ConfirmForm().validate_on_submit():
        services.set_subject_active(subject, active, actor=actor())
        db.session.commit()
        flash(_("%(name)s is active again.", name=subject.name) if active else
              _("%(name)s is deactivated: it can no longer be given to a teacher.", name=subject.name), "success")
    return redirect(url_for(".subjects"))


@bp.post("/subjects/<int:subject_id>/deactivate")
@requires("classes.manage")
def subject_deactivate(subject_id: int):
    """Stop offering a subject for new assignments (running ones keep it)."""
    return _switch(subject_id, False)


@bp.post("/subjects/<int:subject_id>/reactivate")
@requires("classes.manage")
def subject_reactivate(subject_id: int):
    """Offer a deactivated subject again."""
    return _switch(subject_id, True)
