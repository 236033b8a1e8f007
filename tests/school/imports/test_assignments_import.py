"""The assignments import: the classes rules (school, status, one teacher per class and subject, qualification,
weekly maximum with the file's own rows counted) applied in bulk."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.school.classes.imports import AssignmentImport
from app.school.classes.models import Assignment
from tests import factories
from tests.school.imports.conftest import assignment_row, csv_bytes, import_file, problems_of

SPEC = AssignmentImport()


def _teacher(org, subjects, number="T00001", max_periods=16, **kwargs):
    return factories.make_staff(org.school_a, employee_number=number, max_weekly_periods=max_periods,
                                subjects=[subjects["MATH"]], **kwargs)


def _assignments(db) -> list[tuple]:
    db.session.expire_all()
    return [(a.school_class.name, a.staff.employee_number, a.role, a.subject.code if a.subject else None,
             a.weekly_periods, a.starts_on) for a in db.session.scalars(sa.select(Assignment).order_by(Assignment.id))]


def test_homeroom_and_subject_assignments_are_created(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects)
    rows = [assignment_row(org.school_a), assignment_row(org.school_a, role="班主任", subject_code="",
                                                         weekly_periods="2")]
    plan = import_file(SPEC, csv_bytes(rows), ctx)
    assert plan.counts["assignments"]["create"] == 2
    assert _assignments(db) == [("7-1", "T00001", "subject", "MATH", 4, date(2026, 9, 1)),
                                ("7-1", "T00001", "homeroom", None, 2, date(2026, 9, 1))]


def test_reimporting_creates_nothing_and_changed_periods_update_the_same_row(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects)
    import_file(SPEC, csv_bytes([assignment_row(org.school_a)]), ctx)
    again = import_file(SPEC, csv_bytes([assignment_row(org.school_a)]), ctx)
    assert again.counts["assignments"]["unchanged"] == 1
    changed = import_file(SPEC, csv_bytes([assignment_row(org.school_a, weekly_periods="6")]), ctx)
    assert changed.counts["assignments"]["update"] == 1
    assert _assignments(db) == [("7-1", "T00001", "subject", "MATH", 6, date(2026, 9, 1))]


def test_unknown_class_teacher_subject_bad_date_and_duplicates_are_row_errors(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    factories.make_class(org.school_a, name="7-2")
    _teacher(org, subjects)
    factories.make_staff(org.school_b, employee_number="T00009")
    a = org.school_a
    rows = [
        assignment_row(a, "7-9"),
        assignment_row(a, "7-2", number="T00009"),  # works at school B
        assignment_row(a, "7-2", subject_code="LATIN"),
        assignment_row(a, "7-1", starts_on="2026-13-01"),
        assignment_row(a, "7-1", starts_on="2026-09-02"),  # same class and subject as the row above
        assignment_row(a, "7-1", role="subject", subject_code=""),
        assignment_row(a, "7-1", role="homeroom", subject_code="", weekly_periods="41"),
    ]
    problems = problems_of(SPEC, csv_bytes(rows), ctx)
    assert {(r, c) for r, c, _m in problems} == {
        (2, "class_name"), (3, "employee_number"), (4, "subject_code"), (5, "starts_on"), (6, "subject_code"),
        (7, "subject_code"), (8, "weekly_periods"),
    }
    assert _assignments(db) == []


def test_capacity_counts_the_files_own_rows(db, org, ctx, subjects):
    for name in ("7-1", "7-2"):
        factories.make_class(org.school_a, name=name)
    _teacher(org, subjects, max_periods=10)
    rows = [assignment_row(org.school_a, "7-1", weekly_periods="6"),
            assignment_row(org.school_a, "7-2", weekly_periods="6")]
    problems = problems_of(SPEC, csv_bytes(rows), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "weekly_periods"), (3, "weekly_periods")]
    assert "12 periods" in problems[0][2] and "maximum of 10" in problems[0][2]


def test_capacity_counts_stored_assignments(db, org, ctx, subjects):
    old, new = factories.make_class(org.school_a, name="7-1"), factories.make_class(org.school_a, name="7-2")
    teacher = _teacher(org, subjects, max_periods=10)
    factories.make_assignment(old, teacher, subject=subjects["MATH"], weekly_periods=8)
    problems = problems_of(SPEC, csv_bytes([assignment_row(org.school_a, "7-2")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "weekly_periods")]
    assert new.id


def test_a_class_keeps_one_homeroom_teacher(db, org, ctx, subjects):
    school_class = factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects)
    other = _teacher(org, subjects, number="T00002")
    factories.make_assignment(school_class, other, weekly_periods=0)
    row = assignment_row(org.school_a, role="homeroom", subject_code="", weekly_periods="0")
    problems = problems_of(SPEC, csv_bytes([row]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "starts_on")]
    assert "Change teacher" in problems[0][2]


def test_departed_teachers_get_no_classes(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects, status="departed")
    problems = problems_of(SPEC, csv_bytes([assignment_row(org.school_a)]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "employee_number")]


def test_an_unqualified_teacher_needs_a_recorded_reason(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects)
    row = assignment_row(org.school_a, subject_code="PHYS")
    problems = problems_of(SPEC, csv_bytes([row]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "qualification_override")]
    import_file(SPEC, csv_bytes([{**row, "qualification_override": "Only physics graduate on staff"}]), ctx)
    assignment = db.session.scalar(sa.select(Assignment))
    assert assignment.qualification_override == "Only physics graduate on staff"


def test_a_start_outside_the_academic_year_is_refused(db, org, ctx, subjects):
    factories.make_class(org.school_a, name="7-1")
    _teacher(org, subjects)
    problems = problems_of(SPEC, csv_bytes([assignment_row(org.school_a, starts_on="2027-09-01")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "starts_on")]
