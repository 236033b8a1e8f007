"""Reads: the class page's split of teachers, a parent's children, teacher loads, and a fixed number of queries
per page whatever the number of rows."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa

from app.extensions import db as _db
from app.school.classes import queries
from tests import factories

NOV = date(2026, 11, 16)


@contextmanager
def _counting():
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    engine = _db.session.get_bind().engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def test_class_page_splits_teachers_into_now_to_come_and_before(year):
    past = factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1, ends_on=date(2026, 10, 31))
    now = factories.make_assignment(year.class_a, year.teacher_a2, weekly_periods=1, starts_on=date(2026, 11, 1))
    later = factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, starts_on=date(2027, 2, 1))
    page = queries.class_page(year.class_a, NOV)
    assert (page.past, page.current, page.upcoming) == ([past], [now], [later])
    assert page.homeroom is now and page.weekly_periods == 1


def test_class_page_costs_the_same_queries_for_5_or_40_students(year):
    def cost(n: int) -> int:
        school_class = factories.make_class(year.school_a, name=f"Size {n}")
        for _i in range(n):
            factories.make_guardian(factories.make_student(year.school_a, school_class=school_class))
        factories.make_assignment(school_class, year.teacher_a, weekly_periods=1)
        _db.session.expire_all()
        with _counting() as statements:
            page = queries.class_page(school_class, NOV)
            names = [(e.student.full_name, [link.guardian.full_name for link in e.student.guardian_links])
                     for e in page.enrolments]
            assert len(names) == n and all(guardians for _name, guardians in names)
        return len(statements)

    assert cost(5) == cost(40) <= 6


def test_children_of_a_guardian_with_classes_and_current_teachers(year):
    mine = factories.make_student(year.school_a, school_class=year.class_a)
    other_school = factories.make_student(year.school_b, school_class=year.class_b)
    not_in_class = factories.make_student(year.school_a)
    guardian = factories.make_guardian(mine, other_school, not_in_class)
    factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1)
    factories.make_assignment(year.class_a, year.teacher_a2, subject=year.english, ends_on=date(2026, 10, 31))
    children = {child.student.id: child for child in queries.children_of(guardian, NOV)}
    assert set(children) == {mine.id, other_school.id, not_in_class.id}
    assert [a.staff_id for a in children[mine.id].teachers] == [year.teacher_a.id]  # the ended one is gone
    assert children[other_school.id].school_class.id == year.class_b.id
    assert children[not_in_class.id].school_class is None


def test_load_overview_counts_periods_running_that_day_within_scope(year, org):
    factories.make_assignment(year.class_a, year.teacher_a, subject=year.math, weekly_periods=10)
    factories.make_assignment(year.class_a, year.teacher_a2, subject=year.english, weekly_periods=6,
                              ends_on=date(2026, 10, 31))
    factories.make_staff(org.school_a, status="departed")
    admin = factories.make_user("admin", unit=org.school_a, password=None)
    rows = {row.name: row for row in queries.load_overview(admin, org.school_a.id, NOV)}
    assert set(rows) == {"Wei Li", "Emily Johnson"}  # the departed one is not listed
    assert (rows["Wei Li"].used, rows["Wei Li"].maximum, rows["Emily Johnson"].used) == (10, 16, 0)
    assert queries.load_overview(admin, org.school_b.id, NOV) == []  # another school: nothing in reach
    dept_head = factories.make_user("head", unit=org.dept_a, password=None)
    assert [row.name for row in queries.load_overview(dept_head, org.school_a.id, NOV)] == ["Wei Li"]


def test_class_summaries_and_current_classes_for_a_page(year):
    factories.make_assignment(year.class_a, year.teacher_a, weekly_periods=1)
    students = [factories.make_student(year.school_a, school_class=year.class_a) for _n in range(3)]
    summaries = queries.class_summaries([year.class_a.id, year.class_b.id], NOV)
    assert (summaries[year.class_a.id].homeroom, summaries[year.class_a.id].students) == (["Wei Li"], 3)
    assert summaries[year.class_b.id].students == 0
    assert set(queries.current_classes([s.id for s in students], NOV).values()) == {year.class_a}


def _found(admin, text: str) -> set[str]:
    stmt = queries.students_for(admin, queries.StudentFilter(q=text, status="all"))
    return {student.student_number for student in _db.session.scalars(stmt)}


def test_student_search_matches_a_number_prefix_or_within_one_name_and_cjk_names_whole(year, org):
    admin = factories.make_user("admin", unit=org.school_a)
    factories.make_student(year.school_a, family_name="王", given_name="小明", student_number="2026007")
    factories.make_student(year.school_a, family_name="Smith", given_name="Anna", student_number="2026008")
    factories.make_student(year.school_a, family_name="欧阳", given_name="Lan", student_number="X9")
    cases = {"王小明": {"2026007"}, "小明": {"2026007"}, "明": {"2026007"}, "SMITH": {"2026008"}, "ann": {"2026008"},
             "mithann": set(), "2026": {"2026007", "2026008"}, "007": set(), "x9": {"X9"}, "阳Lan": {"X9"},
             "anna 2026": {"2026008"}, "%": set()}
    assert {text: _found(admin, text) for text in cases} == cases
