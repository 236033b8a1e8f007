"""The staff import: rows checked with the staff module's rules, upserted by employee number, all or nothing."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import ImportRejected
from app.core.imports.pipeline import analyse
from app.core.spreadsheets import read_upload
from app.school.classes.models import Assignment, SchoolClass
from app.school.staff.imports import StaffImport
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.imports.conftest import csv_bytes, staff_row, xlsx_bytes

SPEC = StaffImport()


def _plan(data: bytes, ctx, name: str = "staff.csv"):
    return analyse(SPEC, read_upload(data, name), ctx)


def _import(data: bytes, ctx, name: str = "staff.csv"):
    plan = _plan(data, ctx, name)
    SPEC.apply(plan, ctx, lambda _done: None)
    return plan


def _staff(db, school) -> list[StaffMember]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StaffMember).where(StaffMember.school_id == school.id)
                                   .order_by(StaffMember.employee_number)))


def _problems(data: bytes, ctx, name: str = "staff.csv") -> list[tuple[int, str, str]]:
    with pytest.raises(ImportRejected) as rejected:
        _plan(data, ctx, name)
    return rejected.value.rows


def test_a_file_creates_staff_with_department_and_subjects(db, org, ctx, subjects):
    rows = [staff_row(org.school_a, 1, department_code=org.dept_a.code, subjects="MATH;phys"),
            staff_row(org.school_a, 2, subjects="")]
    plan = _import(csv_bytes(rows), ctx)
    assert plan.counts["staff"]["create"] == 2
    first, second = _staff(db, org.school_a)
    assert (first.employee_number, first.department_id, first.hired_on) == ("T00001", org.dept_a.id, date(2021, 9, 1))
    assert sorted(s.code for s in first.subjects) == ["MATH", "PHYS"]
    assert second.subjects == [] and second.status == "active" and second.max_weekly_periods == 16


def test_reimporting_the_same_file_creates_no_duplicates(db, org, ctx, subjects):
    data = csv_bytes([staff_row(org.school_a, n) for n in range(1, 6)])
    _import(data, ctx)
    plan = _import(data, ctx)
    assert plan.counts["staff"] == {"create": 0, "update": 0, "end": 0, "unchanged": 5}
    assert len(_staff(db, org.school_a)) == 5


def test_a_changed_row_updates_the_person_and_bumps_their_version(db, org, ctx, subjects):
    existing = factories.make_staff(org.school_a, employee_number="T00001", family_name="Old", subjects=[])
    version = existing.version
    plan = _import(csv_bytes([staff_row(org.school_a, 1, family_name="王", subjects="CHN")]), ctx)
    assert plan.counts["staff"]["update"] == 1
    assert "Family name" in plan.preview[0].details and "Subjects" in plan.preview[0].details
    (person,) = _staff(db, org.school_a)
    assert person.id == existing.id and person.family_name == "王" and person.version == version + 1
    assert [s.code for s in person.subjects] == ["CHN"]


def test_a_column_left_out_keeps_the_stored_value(db, org, ctx, subjects):
    factories.make_staff(org.school_a, employee_number="T00001", family_name="王", given_name="芳1",
                         email="keep@example.org", hired_on=date(2021, 9, 1), subjects=[subjects["MATH"]])
    row = staff_row(org.school_a, 1)
    for column in ("email", "phone", "subjects", "max_weekly_periods"):
        row.pop(column)
    plan = _import(csv_bytes([row]), ctx)
    (person,) = _staff(db, org.school_a)
    assert person.email == "keep@example.org" and [s.code for s in person.subjects] == ["MATH"]
    assert plan.counts["staff"]["unchanged"] == 1


def test_leading_zeros_and_na_survive(db, org, ctx, subjects):
    _import(csv_bytes([staff_row(org.school_a, 1, employee_number="007", family_name="NA", given_name="Null")]), ctx)
    (person,) = _staff(db, org.school_a)
    assert (person.employee_number, person.family_name, person.given_name) == ("007", "NA", "Null")


def test_chinese_headers_and_an_xlsx_with_date_cells_are_read(db, org, ctx, subjects):
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["学校代码", "工号", "姓", "名", "入职日期", "周课时上限", "任教科目"])
    sheet.append([org.school_a.code, "007", "王", "芳", date(2020, 9, 1), 12, "MATH；PHYS"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    _import(buffer.getvalue(), ctx, "教师.xlsx")
    (person,) = _staff(db, org.school_a)
    assert (person.employee_number, person.hired_on, person.max_weekly_periods) == ("007", date(2020, 9, 1), 12)
    assert sorted(s.code for s in person.subjects) == ["MATH", "PHYS"]


def test_pandas_written_xlsx_is_imported(db, org, ctx, subjects):
    _import(xlsx_bytes([staff_row(org.school_a, n) for n in range(1, 4)]), ctx, "staff.xlsx")
    assert [p.employee_number for p in _staff(db, org.school_a)] == ["T00001", "T00002", "T00003"]


def test_the_report_lists_every_bad_row_and_column(db, org, ctx, subjects):
    rows = [
        staff_row(org.school_a, 1),
        staff_row(org.school_a, 2, hired_on="2021-02-30", email="not-an-address"),
        staff_row(org.school_a, 3, family_name="", max_weekly_periods="99"),
        staff_row(org.school_b, 4),  # another school: outside the admin's scope
        staff_row(org.school_a, 5, department_code=org.dept_b.code, subjects="MATH;NOPE"),
        staff_row(org.school_a, 1),  # duplicate of row 2
        staff_row(org.school_a, 7, probation_ends_on="2020-01-01"),
    ]
    problems = _problems(csv_bytes(rows), ctx)
    found = {(row, column) for row, column, _message in problems}
    assert found == {
        (3, "hired_on"), (3, "email"), (4, "family_name"), (4, "max_weekly_periods"), (5, "school_code"),
        (6, "department_code"), (6, "subjects"), (7, "employee_number"), (8, "probation_ends_on"),
    }
    messages = dict(((row, column), message) for row, column, message in problems)
    assert "not a date" in messages[(3, "hired_on")]
    assert "row 2" in messages[(7, "employee_number")]
    assert "NOPE" in messages[(6, "subjects")]
    assert _staff(db, org.school_a) == []


def test_the_report_names_columns_as_the_file_heads_them(db, org, ctx, subjects):
    data = f"学校代码,工号,姓,名,入职日期\n{org.school_a.code},007,王,芳,someday\n".encode()
    assert _problems(data, ctx) == [(2, "入职日期", "“someday” is not a date: write it as YYYY-MM-DD.")]


def test_missing_required_columns_are_reported_on_the_header_row(db, org, ctx):
    problems = _problems(b"school_code,family_name\nX,Y\n", ctx)
    assert {(row, column) for row, column, _m in problems} == {(1, "employee_number"), (1, "given_name"),
                                                               (1, "hired_on")}


def test_unknown_columns_are_ignored_with_a_warning(db, org, ctx, subjects):
    row = {**staff_row(org.school_a, 1), "notes": "x"}
    plan = _plan(csv_bytes([row]), ctx)
    assert "notes" in plan.warnings[0]


def test_the_maximum_cannot_drop_below_the_periods_already_taught(db, org, ctx, subjects):
    person = factories.make_staff(org.school_a, employee_number="T00001", family_name="王", given_name="芳1",
                                  max_weekly_periods=16, subjects=[subjects["MATH"]])
    school_class = SchoolClass(school=org.school_a, academic_year="2026-2027", grade=7, name="7-1")
    db.session.add_all([school_class, Assignment(school_class=school_class, staff=person, role="subject",
                                                 subject=subjects["MATH"], weekly_periods=10,
                                                 starts_on=date(2020, 9, 1))])
    db.session.flush()
    problems = _problems(csv_bytes([staff_row(org.school_a, 1, max_weekly_periods="8")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "max_weekly_periods")]
    assert "10 periods" in problems[0][2]


def test_a_district_admin_imports_into_several_schools(db, org, subjects):
    from app.school.imports_kinds import context_for

    ctx = context_for(factories.make_user("admin", unit=org.district))
    plan = _import(csv_bytes([staff_row(org.school_a, 1), staff_row(org.school_b, 1)]), ctx)
    assert plan.unit_ids == {org.school_a.id, org.school_b.id}
    assert len(_staff(db, org.school_a)) == len(_staff(db, org.school_b)) == 1
