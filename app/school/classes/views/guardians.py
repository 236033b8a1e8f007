"""Guardians, always reached through a student of the user's schools: add, link an existing one, edit, unlink."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import requires
from app.school.classes import forms, queries, services
from app.school.classes.models import Student, StudentGuardian
from app.school.classes.views import bp
from app.school.classes.views.common import actor, form_page, load_student, show_errors


def _back(student: Student) -> str:
    return url_for(".student", student_id=student.id, _anchor="guardians")


def _guardian_fields(form: forms.GuardianForm) -> dict:
    return {"full_name": form.full_name.data, "email": form.email.data, "phone": form.phone.data,
            "preferred_channel": form.preferred_channel.data, "locale": form.locale.data}


def _load_link(student_id: int, guardian_id: int) -> StudentGuardian:
    student = load_student(student_id, "classes.manage")
    link = queries.guardian_link(student.id, guardian_id)
    if link is None:
        abort(404)
    return link


@bp.route("/students/<int:student_id>/guardians/new", methods=["GET", "POST"])
@requires("classes.manage")
def guardian_new(student_id: int):
    """Add a new guardian to the student."""
    student = load_student(student_id, "classes.manage")
    form = forms.GuardianForm(data=None if request.method == "POST" else {"locale": "zh"})
    if form.validate_on_submit():
        try:
            services.add_guardian(student, relationship=form.relationship.data, actor=actor(),
                                  **_guardian_fields(form))
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=form.full_name.data), "success")
            return redirect(_back(student))
    return form_page(form, title=_("New guardian of %(name)s", name=student.full_name), back_url=_back(student),
                     back_label=student.full_name,
                     link_url=url_for(".guardian_link", student_id=student.id))


@bp.route("/students/<int:student_id>/guardians/link", methods=["GET", "POST"])
@requires("classes.manage")
def guardian_link(student_id: int):
    """Link a guardian the school already knows (by their exact e-mail address), e.g. a sibling's parent."""
    student = load_student(student_id, "classes.manage")
    form = forms.LinkGuardianForm()
    if form.validate_on_submit():
        guardian = queries.guardian_by_email(form.email.data)
        try:
            if guardian is None:
                raise services.ClassesInvalid({"email": _("No guardian has this e-mail address: add them as a new "
                                                          "guardian instead.")})
            services.link_guardian(student, guardian, form.relationship.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s is now a guardian of %(student)s.", name=guardian.full_name,
                    student=student.full_name), "success")
            return redirect(_back(student))
    return form_page(form, title=_("Link a known guardian to %(name)s", name=student.full_name),
                     back_url=_back(student), back_label=student.full_name)


@bp.route("/students/<int:student_id>/guardians/<int:guardian_id>", methods=["GET", "POST"])
@requires("classes.manage")
def guardian_edit(student_id: int, guardian_id: int):
    """Edit a guardian of the student: name, contact, channel, language, relationship, parent account."""
    link = _load_link(student_id, guardian_id)
    guardian, student = link.guardian, link.student
    form = forms.EditGuardianForm(data=None if request.method == "POST" else {
        "full_name": guardian.full_name, "email": guardian.email, "phone": guardian.phone,
        "preferred_channel": guardian.preferred_channel, "locale": guardian.locale,
        "relationship": link.relationship_kind, "account_email": guardian.user.email if guardian.user else ""})
    if form.validate_on_submit():
        try:
            services.edit_guardian(link, relationship=form.relationship.data,
                                   account_email=form.account_email.data, actor=actor(), **_guardian_fields(form))
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(_back(student))
    others = len(guardian.student_links) - 1
    intro = _("Changes apply to this guardian for all of their %(n)d children.", n=others + 1) if others else None
    return form_page(form, title=guardian.full_name, intro=intro, back_url=_back(student),
                     back_label=student.full_name)


@bp.post("/students/<int:student_id>/guardians/<int:guardian_id>/unlink")
@requires("classes.manage")
def guardian_unlink(student_id: int, guardian_id: int):
    """Remove the guardian from this student (the guardian's record stays for their other children)."""
    link = _load_link(student_id, guardian_id)
    student = link.student
    if forms.ConfirmForm().validate_on_submit():
        name = link.guardian.full_name
        services.unlink_guardian(link, actor=actor())
        db.session.commit()
        flash(_("%(name)s is no longer a guardian of %(student)s.", name=name, student=student.full_name),
              "success")
    return redirect(_back(student))
