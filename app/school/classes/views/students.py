"""Students: search, the student's page (reading it is audited), create and edit, enrol, move, end, leave."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.policy import authorize, requires
from app.general.org.models import OrgUnit
from app.school.classes import forms, queries, services
from app.school.classes.models import Enrollment, SchoolClass
from app.school.classes.views import bp
from app.school.classes.views.common import (
    PER_PAGE,
    actor,
    form_page,
    load_class,
    load_enrolment,
    load_student,
    school_choices,
    show_errors,
)


@bp.get("/students/")
@requires("classes.view")
def students():
    """The students of the user's schools: search by name or number, filter by school and status."""
    user = actor()
    form = forms.StudentFilterForm(request.args)
    form.school.choices = school_choices(user, blank=_("All schools"))
    student_filter = queries.StudentFilter()
    if form.validate():
        student_filter = queries.StudentFilter(q=form.q.data or "", school_id=form.school.data,
                                               status=form.status.data or "active")
    today = queries.local_today()
    page = db.paginate(queries.students_for(user, student_filter, today), per_page=PER_PAGE, error_out=False)
    classes = queries.current_classes([s.id for s in page.items], today)
    return render_template("classes/students.html", form=form, page=page, classes=classes)


@bp.route("/students/new", methods=["GET", "POST"])
@requires("classes.manage")
def student_new():
    """Add a student to one of the user's schools."""
    form = forms.NewStudentForm(school=request.args.get("school", type=int))
    form.school.choices = school_choices(actor())
    if form.validate_on_submit():
        school = db.session.get(OrgUnit, form.school.data) or abort(404)
        authorize("classes.manage", school)
        try:
            student = services.create_student(
                school=school, student_number=form.student_number.data, family_name=form.family_name.data,
                given_name=form.given_name.data, born_on=form.born_on.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added.", name=student.full_name), "success")
            return redirect(url_for(".student", student_id=student.id))
    return form_page(form, title=_("New student"), back_url=url_for(".students"), back_label=_("Students"))


@bp.get("/students/<int:student_id>")
@requires("classes.view")
def student(student_id: int):
    """A student's record: guardians with their contacts, and the enrolment history. The reading is audited."""
    student = load_student(student_id)
    page = queries.student_page(student, queries.local_today())
    record("classes.student_viewed", subject=student, actor=actor())
    db.session.commit()
    return render_template("classes/student.html", page=page, student=student, confirm=forms.ConfirmForm())


@bp.route("/students/<int:student_id>/edit", methods=["GET", "POST"])
@requires("classes.manage")
def student_edit(student_id: int):
    """Correct a student's number, names or date of birth."""
    student = load_student(student_id, "classes.manage")
    form = forms.StudentForm(obj=None if request.method == "POST" else student)
    if form.validate_on_submit():
        try:
            services.update_student(student, student_number=form.student_number.data,
                                    family_name=form.family_name.data, given_name=form.given_name.data,
                                    born_on=form.born_on.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".student", student_id=student_id))
    return form_page(form, title=_("Edit %(name)s", name=student.full_name),
                     back_url=url_for(".student", student_id=student_id), back_label=student.full_name)


@bp.route("/students/<int:student_id>/leave", methods=["GET", "POST"])
@requires("classes.manage")
def student_leave(student_id: int):
    """Record that the student left the school: their current class ends that day."""
    student = load_student(student_id, "classes.manage")
    form = forms.LeaveForm(data=None if request.method == "POST" else {"on": queries.local_today()})
    if form.validate_on_submit():
        try:
            services.deactivate_student(student, on=form.on.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has left the school.", name=student.full_name), "success")
            return redirect(url_for(".student", student_id=student_id))
    return form_page(form, title=_("%(name)s leaves the school", name=student.full_name),
                     back_url=url_for(".student", student_id=student_id), back_label=student.full_name)


@bp.post("/students/<int:student_id>/return")
@requires("classes.manage")
def student_return(student_id: int):
    """Undo a departure (then enrol the student in a class)."""
    student = load_student(student_id, "classes.manage")
    if forms.ConfirmForm().validate_on_submit():
        services.reactivate_student(student, actor=actor())
        db.session.commit()
        flash(_("%(name)s is at the school again: enrol them in a class.", name=student.full_name), "success")
    return redirect(url_for(".student", student_id=student_id))


# --- enrolments ---------------------------------------------------------------------------------------------


@bp.route("/<int:class_id>/enrol", methods=["GET", "POST"])
@requires("classes.manage")
def enrol(class_id: int):
    """Put a student of the school (by student number) into the class from a date."""
    school_class = load_class(class_id, "classes.manage")
    form = forms.EnrolForm(data=None if request.method == "POST" else {
        "starts_on": queries.local_today(), "version": school_class.version})
    if form.validate_on_submit():
        student = queries.student_by_number(school_class.school_id, form.student_number.data)
        try:
            if student is None:
                raise services.ClassesInvalid({"student_number": _("No student of %(school)s has this number.",
                                                                   school=school_class.school.name)})
            services.enrol(student, school_class, form.starts_on.data, actor=actor(),
                           expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s is enrolled.", name=student.full_name), "success")
            return redirect(url_for(".detail", class_id=class_id, _anchor="students"))
    return form_page(form, title=_("Enrol a student in %(name)s", name=school_class.name),
                     back_url=url_for(".detail", class_id=class_id), back_label=school_class.name)


def _enrolment_label(enrolment: Enrollment) -> str:
    return _("%(name)s in %(class)s since %(day)s", name=enrolment.student.full_name,
             day=enrolment.starts_on.isoformat(), **{"class": enrolment.school_class.name})


@bp.route("/enrolments/<int:enrolment_id>/end", methods=["GET", "POST"])
@requires("classes.manage")
def enrolment_end(enrolment_id: int):
    """The student leaves the class after a last day (the enrolment is kept as history)."""
    enrolment = load_enrolment(enrolment_id)
    back = url_for(".student", student_id=enrolment.student_id)
    form = forms.EndEnrolmentForm(data=None if request.method == "POST" else {
        "last_day": max(queries.local_today(), enrolment.starts_on)})
    if form.validate_on_submit():
        try:
            services.end_enrolment(enrolment, last_day=form.last_day.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The enrolment ends on %(day)s.", day=form.last_day.data.isoformat()), "success")
            return redirect(back)
    return form_page(form, title=_("End enrolment"), intro=_enrolment_label(enrolment), back_url=back,
                     back_label=enrolment.student.full_name)


@bp.route("/enrolments/<int:enrolment_id>/move", methods=["GET", "POST"])
@requires("classes.manage")
def enrolment_move(enrolment_id: int):
    """Move the student to another class of the same school and year from a date."""
    enrolment = load_enrolment(enrolment_id)
    old = enrolment.school_class
    back = url_for(".student", student_id=enrolment.student_id)
    form = forms.MoveStudentForm(data=None if request.method == "POST" else {"effective_on": queries.local_today()})
    others = [c for c in queries.classes_of_school(old.school_id, old.academic_year) if c.id != old.id]
    form.new_class.choices = [SelectChoice("", "—")] + [SelectChoice(c.id, c.name) for c in others]
    if form.validate_on_submit():
        new_class = db.session.get(SchoolClass, form.new_class.data) or abort(404)
        authorize("classes.manage", new_class)
        try:
            services.move_student(enrolment, new_class, effective_on=form.effective_on.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Moved to %(class)s.", **{"class": new_class.name}), "success")
            return redirect(back)
    return form_page(form, title=_("Move to another class"), intro=_enrolment_label(enrolment), back_url=back,
                     back_label=enrolment.student.full_name)
