"""The staff list (scope as SQL, search, filters, sort) and the profile's gathering of assignments and history."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.school.classes.models import Assignment, SchoolClass
from app.school.staff import queries, services
from tests import factories


def _rows(user, **kwargs) -> list[str]:
    return [s.employee_number for s in db.session.scalars(queries.staff_list(user, **kwargs))]


@pytest.fixture
def people(org):
    """Two schools' staff: a department, school-level, and statuses."""
    return {
        "a1": factories.make_staff(org.school_a, department=org.dept_a, employee_number="A1", family_name="Zhang",
                                   given_name="Wei", email="wei@a.example", hired_on=date(2015, 9, 1)),
        "a2": factories.make_staff(org.school_a, employee_number="A2", family_name="Brown", given_name="Laura",
                                   hired_on=date(2022, 2, 1)),
        "a3": factories.make_staff(org.school_a, department=org.dept_a, employee_number="A3", family_name="王",
                                   given_name="芳", status="on_notice", hired_on=date(2019, 9, 1)),
        "a4": factories.make_staff(org.school_a, employee_number="A4", family_name="Old", given_name="Timer",
                                   status="departed", hired_on=date(2001, 9, 1)),
        "b1": factories.make_staff(org.school_b, department=org.dept_b, employee_number="B1", family_name="Zhang",
                                   given_name="Min"),
    }


def test_an_admin_of_school_a_never_gets_rows_of_school_b(org, people, admin_a):
    assert set(_rows(admin_a, status="all")) == {"A1", "A2", "A3", "A4"}
    assert "B1" not in _rows(admin_a, status="all", search="Zhang")
    assert _rows(admin_a, school_id=org.school_b.id, status="all") == []
    assert _rows(admin_a, department_id=org.dept_b.id, status="all") == []


def test_a_district_admin_sees_both_schools(org, people, district_admin):
    assert set(_rows(district_admin, status="all")) == {"A1", "A2", "A3", "A4", "B1"}


def test_a_head_of_a_department_sees_only_that_department(org, people):
    head = factories.make_user("head", unit=org.dept_a)
    assert set(_rows(head, status="all")) == {"A1", "A3"}


def test_a_user_without_scopes_sees_nobody(org, people):
    assert _rows(factories.make_user("admin"), status="all") == []


def test_the_default_lists_current_staff_and_the_status_filter_narrows(org, people, admin_a):
    assert set(_rows(admin_a)) == {"A1", "A2", "A3"}
    assert _rows(admin_a, status="departed") == ["A4"]
    assert _rows(admin_a, status="on_notice") == ["A3"]
    assert set(_rows(admin_a, status="active")) == {"A1", "A2"}


@pytest.mark.parametrize(("search", "expected"), [
    ("zhang", {"A1"}), ("Wei Zhang", {"A1"}), ("zhang wei", {"A1"}), ("王芳", {"A3"}), ("a2", {"A2"}),
    ("WEI@A.EXAMPLE", {"A1"}), ("%", set()), ("_", set()), ("nobody", set()),
    # one word within the names written together, the number or the e-mail, never across two of them
    ("zhangwei", {"A1"}), ("芳", {"A3"}), ("A1 wei@", {"A1"}), ("a1wei", set()), ("weia1", set()),
])
def test_search_by_name_number_or_email(org, people, admin_a, search, expected):
    assert set(_rows(admin_a, search=search, status="all")) == expected


def test_filter_by_school_and_department(org, people, district_admin):
    assert set(_rows(district_admin, school_id=org.school_b.id)) == {"B1"}
    assert set(_rows(district_admin, department_id=org.dept_a.id)) == {"A1", "A3"}


@pytest.mark.parametrize(("sort", "direction", "expected"), [
    ("name", "asc", ["A2", "A4", "A1", "A3"]),
    ("number", "desc", ["A4", "A3", "A2", "A1"]),
    ("hired", "asc", ["A4", "A1", "A3", "A2"]),
    ("status", "asc", ["A1", "A2", "A4", "A3"]),
    ("department", "asc", ["A2", "A4", "A1", "A3"]),
    ("nonsense", "sideways", ["A2", "A4", "A1", "A3"]),
])
def test_sorting(org, people, admin_a, sort, direction, expected):
    rows = _rows(admin_a, status="all", sort=sort, direction=direction)
    if sort == "department":  # no department sorts first (SQLite) or last (PostgreSQL): compare the groups
        assert {tuple(sorted(rows[:2])), tuple(sorted(rows[2:]))} <= {("A2", "A4"), ("A1", "A3")}
    else:
        assert rows == expected


def test_sorting_by_school_keeps_a_stable_order(org, people, district_admin):
    rows = _rows(district_admin, status="all", sort="school", direction="desc")
    assert rows[0] == "B1" and set(rows[1:]) == {"A1", "A2", "A3", "A4"}


def test_taken_employee_numbers_in_one_query(org, people):
    assert queries.taken_employee_numbers(org.school_a.id, ["A1", "A9", "B1", ""]) == {"A1"}
    assert queries.taken_employee_numbers(org.school_a.id, ["A1"], exclude_ids=[people["a1"].id]) == set()


def test_the_list_is_one_statement_with_no_python_filtering(org, people, admin_a):
    sql = str(queries.staff_list(admin_a, search="x", status="all").compile())
    assert "org_units" in sql and "LIKE" in sql.upper()


def test_profile_splits_assignments_into_current_and_past_and_gathers_the_history(org, admin_a, people):
    staff = people["a1"]
    klass = SchoolClass(school=org.school_a, academic_year="2025-2026", grade=7, name="7-2")
    maths = factories.make_subject("M1", "Maths")
    db.session.add_all([
        Assignment(school_class=klass, staff=staff, role="subject", subject=maths, weekly_periods=6,
                   starts_on=date(2025, 9, 1), ends_on=None),
        Assignment(school_class=klass, staff=staff, role="homeroom", weekly_periods=2,
                   starts_on=date(2024, 9, 1), ends_on=date(2025, 7, 15)),
    ])
    db.session.flush()
    services.set_status(staff, "on_notice", actor=admin_a)
    profile = queries.staff_profile(staff, today=date(2026, 1, 10))
    assert [a.role for a in profile.current_assignments] == ["subject"]
    assert [a.role for a in profile.past_assignments] == ["homeroom"]
    assert profile.periods_in_use == 6
    assert [e.action for e in profile.timeline] == ["staff.status_changed"]
    assert profile.contracts is None or isinstance(profile.contracts, list)


def test_staff_for_user(org, people):
    teacher = factories.make_user("teacher", unit=org.school_a)
    assert queries.staff_for_user(teacher) is None
    people["a2"].user = teacher
    db.session.flush()
    assert queries.staff_for_user(teacher) == people["a2"]
