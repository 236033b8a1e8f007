"""Helpers shared by the classes views: loading with an object check, errors at their fields, form pages."""
from __future__ import annotations

from wtforms.fields.choices import SelectChoice

from app.core import views as core_views
from app.core.views import actor, show_errors  # noqa: F401  (the classes views import them from here)
from app.extensions import db
from app.general.auth.policy import authorize
from app.school.classes import queries
from app.school.classes.models import Assignment, Enrollment, SchoolClass, Student

PER_PAGE = 25


def form_page(form, **kwargs):
    """The classes module's small form page (see app.core.views.form_page)."""
    return core_views.form_page("classes/form_page.html", form, **kwargs)




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






def school_choices(user, blank: str | None = None) -> list[SelectChoice]:
    """The schools in the user's reach, as select choices."""
    choices = [SelectChoice(school.id, school.name) for school in queries.schools_for(user)]
    return ([SelectChoice("", blank)] if blank is not None else []) + choices
