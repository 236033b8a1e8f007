"""Helpers shared by the classes views: loading with an object check, errors at their fields, form pages."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize
from app.school.classes import queries
from app.school.classes.models import Assignment, Enrollment, SchoolClass, Student

PER_PAGE = 25


def actor():
    """The logged-in user as a plain object (what services receive)."""
    return current_user._get_current_object()


def load_class(class_id: int, permission: str = "classes.view") -> SchoolClass:
    """The class, or 404; 403 unless the user may do `permission` to it."""
    school_class = db.get_or_404(SchoolClass, class_id)
    authorize(permission, school_class)
    return school_class


def load_student(student_id: int, permission: str = "classes.view") -> Student:
    """The student, or 404; 403 unless the user may do `permission` to them."""
    student = db.get_or_404(Student, student_id)
    authorize(permission, student)
    return student


def load_assignment(assignment_id: int) -> Assignment:
    """The assignment, or 404; 403 unless the user manages assignments of its class's school."""
    assignment = db.get_or_404(Assignment, assignment_id)
    authorize("assignments.manage", assignment)
    return assignment


def load_enrolment(enrolment_id: int) -> Enrollment:
    """The enrolment, or 404; 403 unless the user manages its class."""
    enrolment = db.get_or_404(Enrollment, enrolment_id)
    authorize("classes.manage", enrolment.school_class)
    return enrolment


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


def form_page(form: FlaskForm, *, title: str, back_url: str, back_label: str, intro: str | None = None,
              **context):
    """The one page of every small form: a card with the form; 422 when it carries errors."""
    status = 422 if form.errors else 200
    return render_template("classes/form_page.html", form=form, title=title, back_url=back_url,
                           back_label=back_label, intro=intro, **context), status


def school_choices(user, blank: str | None = None) -> list[SelectChoice]:
    """The schools in the user's reach, as select choices."""
    choices = [SelectChoice(school.id, school.name) for school in queries.schools_for(user)]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices
