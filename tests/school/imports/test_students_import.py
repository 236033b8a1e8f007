"""The students import: students, guardians, links and enrolments from one row per student and guardian."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.school.classes.imports import StudentImport
from app.school.classes.models import Enrollment, Guardian, Student, StudentGuardian
from tests import factories
from tests.school.imports.conftest import TODAY, csv_bytes, import_file, problems_of, student_row

SPEC = StudentImport()


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _family(org) -> list[dict]:
    """Two siblings sharing a mother; the elder also has a father reached by SMS."""
    a = org.school_a
    return [
        student_row(a, "S001"),
        student_row(a, "S001", guardian_name="李强", relationship="father", guardian_email="",
                    guardian_phone="13900139000", preferred_channel="sms", language="zh"),
        student_row(a, "S002", student_given_name="华", class_name="7-2", born_on="2015-05-01"),
    ]


def test_students_guardians_links_and_enrolments_are_created(db, org, ctx):
    first = factories.make_class(org.school_a, name="7-1")
    second = factories.make_class(org.school_a, name="7-2")
    plan = import_file(SPEC, csv_bytes(_family(org)), ctx)
    assert {k: v["create"] for k, v in plan.counts.items()} == {"students": 2, "guardians": 2, "links": 3,
                                                                  "enrolments": 2}
    mother = db.session.scalar(sa.select(Guardian).where(Guardian.email == "li.na@example.com"))
    assert sorted(link.student.student_number for link in mother.student_links) == ["S001", "S002"]
    father = db.session.scalar(sa.select(Guardian).where(Guardian.phone == "13900139000"))
    assert father.preferred_channel == "sms" and father.email is None
    enrolments = {e.student.student_number: (e.class_id, e.starts_on) for e in db.session.scalars(
        sa.select(Enrollment))}
    assert enrolments == {"S001": (first.id, TODAY), "S002": (second.id, TODAY)}


def test_reimporting_the_same_file_creates_no_duplicates(db, org, ctx):
    factories.make_class(org.school_a, name="7-1")
    factories.make_class(org.school_a, name="7-2")
    data = csv_bytes(_family(org))
    import_file(SPEC, data, ctx)
    plan = import_file(SPEC, data, ctx)
    assert all(bucket["create"] == bucket["update"] == 0 for bucket in plan.counts.values())
    assert [_count(db, m) for m in (Student, Guardian, StudentGuardian, Enrollment)] == [2, 2, 3, 2]


def test_chinese_headers_and_values_are_understood(db, org, ctx):
    factories.make_class(org.school_a, name="七年级1班")
    text = ("学校代码,学号,学生姓,学生名,学年,班级,家长姓名,关系,家长手机,通知方式,语言\n"
            f"{org.school_a.code},s009,王,小明,2026-2027,七年级1班,王芳,母亲,138 0013 8000,短信,中文\n")
    import_file(SPEC, text.encode("gb18030"), ctx)
    link = db.session.scalar(sa.select(StudentGuardian))
    assert link.relationship_kind == "mother" and link.student.student_number == "S009"
    assert (link.guardian.preferred_channel, link.guardian.locale) == ("sms", "zh")


def test_an_existing_guardian_is_found_by_email_and_updated(db, org, ctx):
    factories.make_class(org.school_a, name="7-1")
    guardian = factories.make_guardian(full_name="Old Name", email="li.na@example.com")
    plan = import_file(SPEC, csv_bytes([student_row(org.school_a, guardian_email="LI.NA@example.com")]), ctx)
    assert plan.counts["guardians"]["update"] == 1
    db.session.refresh(guardian)
    assert guardian.full_name == "李娜" and guardian.phone == "13800138000"
    assert _count(db, Guardian) == 1


def test_a_student_without_a_guardian_is_imported(db, org, ctx):
    factories.make_class(org.school_a, name="7-1")
    row = student_row(org.school_a, guardian_name="", relationship="", guardian_email="", guardian_phone="",
                      preferred_channel="", language="")
    plan = import_file(SPEC, csv_bytes([row]), ctx)
    assert plan.counts["students"]["create"] == 1 and "guardians" not in plan.counts


def test_the_report_lists_every_bad_row_and_column(db, org, ctx):
    factories.make_class(org.school_a, name="7-1")
    a = org.school_a
    rows = [
        student_row(a, "S001"),
        student_row(a, "S002", class_name="9-9"),
        student_row(a, "S003", academic_year="2026-2028"),
        student_row(a, "S004", preferred_channel="sms", guardian_phone=""),
        student_row(a, "S005", relationship="neighbour", language="fr"),
        student_row(a, "S001", guardian_email="other@example.com", student_family_name="王"),
        student_row(org.school_b, "S007"),
        student_row(a, "S008", enrolled_on="2025-01-01", born_on="2014-02-30"),
    ]
    problems = problems_of(SPEC, csv_bytes(rows), ctx)
    assert {(r, c) for r, c, _m in problems} == {
        (3, "class_name"), (4, "academic_year"), (5, "guardian_phone"), (6, "relationship"), (6, "language"),
        (7, "student_family_name"), (8, "school_code"), (9, "born_on"), (9, "enrolled_on"),
    }
    assert _count(db, Student) == 0


def test_a_student_already_in_another_class_of_the_year_is_refused(db, org, ctx):
    other = factories.make_class(org.school_a, name="7-3")
    factories.make_class(org.school_a, name="7-1")
    factories.make_student(org.school_a, student_number="S001", school_class=other, starts_on=date(2026, 9, 1))
    problems = problems_of(SPEC, csv_bytes([student_row(org.school_a, "S001")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "class_name")]
    assert "7-3" in problems[0][2]


def test_a_student_already_in_the_class_is_left_as_is(db, org, ctx):
    same = factories.make_class(org.school_a, name="7-1")
    factories.make_student(org.school_a, student_number="S001", family_name="李", given_name="明",
                           school_class=same, starts_on=date(2026, 9, 1))
    row = student_row(org.school_a, "S001", born_on="")
    plan = import_file(SPEC, csv_bytes([row]), ctx)
    assert plan.counts["enrolments"]["unchanged"] == 1 and plan.counts["students"]["unchanged"] == 1
    assert _count(db, Enrollment) == 1


def test_a_student_who_left_must_be_reactivated_first(db, org, ctx):
    factories.make_class(org.school_a, name="7-1")
    factories.make_student(org.school_a, student_number="S001", is_active=False)
    problems = problems_of(SPEC, csv_bytes([student_row(org.school_a, "S001")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "student_number")]
