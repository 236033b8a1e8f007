"""Reading classes, students, guardians and assignments: scoped lists, the class and student pages, a parent's
children, and teachers' weekly loads. Each page costs a fixed number of queries, whatever the district's size.

Split by topic; everything is importable from here (`from app.school.classes import queries`).
"""
from __future__ import annotations

from app.school.classes.queries.classes import (
    ClassFilter,
    ClassPage,
    ClassSummary,
    academic_years,
    assignment_order,
    class_page,
    class_summaries,
    classes_for,
    classes_of_school,
    subjects,
)
from app.school.classes.queries.common import covering, full_name, in_scope, local_today, schools_for
from app.school.classes.queries.loads import LoadRow, TeacherChoice, load_overview, teacher_choices, weekly_load
from app.school.classes.queries.students import (
    Child,
    StudentFilter,
    StudentPage,
    children_of,
    current_classes,
    guardian_by_email,
    guardian_for_user,
    guardian_link,
    student_by_number,
    student_page,
    students_for,
    taken_student_numbers,
)

__all__ = [
    "Child", "ClassFilter", "ClassPage", "ClassSummary", "LoadRow", "StudentFilter", "StudentPage", "TeacherChoice",
    "academic_years", "assignment_order", "children_of", "class_page", "class_summaries", "classes_for",
    "classes_of_school", "covering", "current_classes", "full_name", "guardian_by_email", "guardian_for_user",
    "guardian_link", "in_scope", "load_overview", "local_today", "schools_for", "student_by_number", "student_page",
    "students_for", "subjects", "taken_student_numbers", "teacher_choices", "weekly_load",
]
