"""The business rules of the classes module: plain functions, actor passed explicitly, audited, flush never commit.

Split by topic (catalogue, students, guardians, enrolments, assignments); everything is importable from here, e.g.
`from app.school.classes import services; services.assign_teacher(...)`.
"""
from __future__ import annotations

from app.school.classes.services.assignments import (
    assign_teacher,
    change_teacher,
    end_assignment,
    qualification_problem,
    weekly_load_between,
)
from app.school.classes.services.catalogue import (
    create_class,
    create_subject,
    may_manage_catalogue,
    set_subject_active,
    update_class,
    update_subject,
)
from app.school.classes.services.common import ClassesInvalid, academic_year_bounds, clean_academic_year
from app.school.classes.services.enrolments import end_enrolment, enrol, move_student
from app.school.classes.services.guardians import (
    RELATIONSHIPS,
    add_guardian,
    clean_guardian,
    clean_relationship,
    create_guardian,
    edit_guardian,
    link_guardian,
    link_guardian_account,
    parent_account,
    set_relationship,
    unlink_guardian,
    update_guardian,
)
from app.school.classes.services.students import (
    clean_student,
    create_student,
    deactivate_student,
    normalise_student_number,
    reactivate_student,
    update_student,
)

__all__ = [
    "ClassesInvalid", "RELATIONSHIPS", "academic_year_bounds", "add_guardian", "assign_teacher", "change_teacher",
    "clean_academic_year", "clean_guardian", "clean_relationship", "clean_student", "create_class",
    "create_guardian", "create_student", "create_subject", "deactivate_student", "edit_guardian", "end_assignment",
    "end_enrolment", "enrol", "link_guardian", "link_guardian_account", "may_manage_catalogue", "move_student",
    "normalise_student_number", "parent_account", "qualification_problem", "reactivate_student", "set_relationship",
    "set_subject_active", "unlink_guardian", "update_class", "update_guardian", "update_student", "update_subject",
    "weekly_load_between",
]
