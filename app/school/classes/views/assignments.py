"""Teachers of a class: assign, change (dated hand-over), end. Each a form page that answers errors at the field."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import requires
from app.school.classes import forms, queries, services
from app.school.classes.models import Assignment, SchoolClass, Subject
from app.school.classes.views import bp
from app.school.classes.views.common import actor, form_page, load_assignment, load_class, show_errors
from app.school.staff.models import StaffMember


def _teacher_choices(school_class: SchoolClass, exclude_id: int | None = None) -> list[SelectChoice]:
    """Active teachers of the class's school, each with the periods a week they teach today and their maximum."""
    today = queries.local_today()
    return [SelectChoice("", "—")] + [
        SelectChoice(choice.staff_id, _("%(name)s — %(used)d of %(max)d periods", name=choice.name,
                                        used=choice.used, max=choice.maximum))
        for choice in queries.teacher_choices(school_class.school_id, today) if choice.staff_id != exclude_id]


def _staff_of(form, school_class: SchoolClass) -> StaffMember | None:
    """The chosen teacher; one outside the class's school counts as not chosen (the choices never offer it)."""
    staff = db.session.get(StaffMember, form.staff.data) if form.staff.data else None
    if staff is None or staff.school_id != school_class.school_id:
        form.staff.errors = [*form.staff.errors, _("Choose a teacher from the list.")]
        return None
    return staff


def _subject(subject_id: int | None) -> Subject | None:
    return db.session.get(Subject, subject_id) if subject_id else None


def _class_url(school_class: SchoolClass) -> str:
    return url_for(".detail", class_id=school_class.id, _anchor="teachers")


@bp.route("/<int:class_id>/assign", methods=["GET", "POST"])
@requires("assignments.manage")
def assign(class_id: int):
    """Make a teacher the homeroom or a subject teacher of the class from a date."""
    school_class = load_class(class_id, "assignments.manage")
    form = forms.AssignForm(data=None if request.method == "POST" else {
        "role": request.args.get("role", "subject"), "starts_on": queries.local_today(),
        "version": school_class.version, "weekly_periods": 4})
    form.staff.choices = _teacher_choices(school_class)
    form.subject.choices = [SelectChoice("", "—")] + [
        SelectChoice(s.id, s.name) for s in queries.subjects(active_only=True)]
    if form.validate_on_submit() and (staff := _staff_of(form, school_class)) is not None:
        try:
            services.assign_teacher(school_class, staff, role=form.role.data, subject=_subject(form.subject.data),
                                    weekly_periods=form.weekly_periods.data, starts_on=form.starts_on.data,
                                    override_reason=form.override_reason.data, actor=actor(),
                                    expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s is assigned to %(class)s.", name=staff.full_name, **{"class": school_class.name}),
                  "success")
            return redirect(_class_url(school_class))
    return form_page(form, title=_("Assign a teacher to %(name)s", name=school_class.name),
                     back_url=_class_url(school_class), back_label=school_class.name)


def _describe(assignment: Assignment) -> str:
    what = assignment.subject.name if assignment.subject else _("Homeroom teacher")
    return _("%(what)s: %(name)s since %(day)s", what=what, name=assignment.staff.full_name,
             day=assignment.starts_on.isoformat())


@bp.route("/assignments/<int:assignment_id>/change", methods=["GET", "POST"])
@requires("assignments.manage")
def change(assignment_id: int):
    """Hand the assignment to another teacher from a date (the current one ends the day before)."""
    assignment = load_assignment(assignment_id)
    school_class = assignment.school_class
    form = forms.ChangeTeacherForm(data=None if request.method == "POST" else {
        "effective_on": max(queries.local_today(), assignment.starts_on), "version": school_class.version})
    form.staff.choices = _teacher_choices(school_class, exclude_id=assignment.staff_id)
    if form.validate_on_submit() and (staff := _staff_of(form, school_class)) is not None:
        try:
            services.change_teacher(assignment, staff, effective_on=form.effective_on.data, actor=actor(),
                                    weekly_periods=form.weekly_periods.data, reason=form.reason.data,
                                    override_reason=form.override_reason.data, expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s takes over from %(day)s.", name=staff.full_name, day=form.effective_on.data.isoformat()),
                  "success")
            return redirect(_class_url(school_class))
    return form_page(form, title=_("Change teacher"), intro=_describe(assignment),
                     back_url=_class_url(school_class), back_label=school_class.name)


@bp.route("/assignments/<int:assignment_id>/end", methods=["GET", "POST"])
@requires("assignments.manage")
def end(assignment_id: int):
    """End an assignment on a last day, with the reason (kept in the class's history)."""
    assignment = load_assignment(assignment_id)
    school_class = assignment.school_class
    form = forms.EndAssignmentForm(data=None if request.method == "POST" else {
        "last_day": max(queries.local_today(), assignment.starts_on), "version": school_class.version})
    if form.validate_on_submit():
        try:
            services.end_assignment(assignment, last_day=form.last_day.data, reason=form.reason.data, actor=actor(),
                                    expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The assignment ends on %(day)s.", day=form.last_day.data.isoformat()), "success")
            return redirect(_class_url(school_class))
    return form_page(form, title=_("End assignment"), intro=_describe(assignment),
                     back_url=_class_url(school_class), back_label=school_class.name)
