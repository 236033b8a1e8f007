"""The timetable import: all or nothing with a row/column report, weekday names, upsert, template, preview →
confirm, audited."""
from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from app.core.imports import jobs
from app.core.imports.template_files import template_csv
from app.general.audit.models import AuditEvent
from app.school.teaching.imports import TimetableImport
from app.school.teaching.models import TimetableSlot
from tests.school.imports.conftest import csv_bytes, import_file, problems_of, xlsx_bytes
from tests.school.teaching.conftest import MON, TUE, make_slot

SPEC = TimetableImport()


@pytest.fixture
def ctx(app, admin):
    from app.school.imports_kinds import context_for

    return context_for(admin)


@pytest.fixture(autouse=True)
def _uploads_in_tmp(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))


def row(teaching, weekday="1", period="1", class_name="7(2)", subject="MATH", number="A-T001", **overrides) -> dict:
    values = {"school_code": teaching.school.code, "term": "2026-2027 autumn term", "weekday": weekday,
              "period": period, "class": class_name, "subject": subject, "employee_number": number}
    values.update(overrides)
    return values


def _slots(db) -> list[tuple]:
    db.session.expire_all()
    return [(s.weekday, s.period, s.school_class.name, s.subject.code, s.staff.employee_number)
            for s in db.session.scalars(sa.select(TimetableSlot).order_by(TimetableSlot.weekday, TimetableSlot.period,
                                                                          TimetableSlot.class_id))]


def test_a_good_file_applies_with_weekday_names_in_either_language(db, teaching, ctx):
    rows = [row(teaching, "1", "1"), row(teaching, "Tue", "2"), row(teaching, "周三", "3", "7(3)"),
            row(teaching, "星期四", "1", subject="chn", number="A-T002")]
    plan = import_file(SPEC, xlsx_bytes(rows), ctx, "timetable.xlsx")
    assert plan.counts["slots"]["create"] == 4
    assert _slots(db) == [(1, 1, "7(2)", "MATH", "A-T001"), (2, 2, "7(2)", "MATH", "A-T001"),
                          (3, 3, "7(3)", "MATH", "A-T001"), (4, 1, "7(2)", "CHN", "A-T002")]


def test_re_importing_the_same_file_creates_nothing(db, teaching, ctx):
    data = csv_bytes([row(teaching, "1", "1"), row(teaching, "2", "1")])
    import_file(SPEC, data, ctx)
    plan = import_file(SPEC, data, ctx)
    assert plan.counts["slots"] == {"create": 0, "update": 0, "end": 0, "unchanged": 2}
    assert len(_slots(db)) == 2


def test_a_row_at_a_stored_place_replaces_its_teacher_and_other_slots_stay(db, teaching, ctx):
    make_slot(teaching.term, MON, 1, teaching.class_2, teaching.math, teaching.wang)
    make_slot(teaching.term, TUE, 5, teaching.class_3, teaching.math, teaching.wang)
    plan = import_file(SPEC, csv_bytes([row(teaching, "1", "1", subject="CHN", number="A-T002")]), ctx)
    assert plan.counts["slots"]["update"] == 1
    assert _slots(db) == [(1, 1, "7(2)", "CHN", "A-T002"), (2, 5, "7(3)", "MATH", "A-T001")]


def test_every_problem_is_reported_and_nothing_is_written(db, teaching, ctx):
    make_slot(teaching.term, MON, 2, teaching.class_3, teaching.math, teaching.wang)
    rows = [
        row(teaching, "1", "1"),                                  # 2: fine
        row(teaching, "Funday", "1"),                             # 3: weekday
        row(teaching, "1", "13"),                                 # 4: period
        row(teaching, "1", "3", term="Summer"),                   # 5: unknown term
        row(teaching, "1", "6", class_name="9(9)"),               # 6: unknown class
        row(teaching, "1", "7", subject="ART"),                   # 7: unknown subject
        row(teaching, "1", "8", number="X-1"),                    # 8: unknown teacher
        row(teaching, "1", "2"),                                  # 9: teacher clash with the stored slot
        row(teaching, "1", "4", number="A-T003"),                 # 10: not assigned
        row(teaching, "1", "1", subject="CHN", number="A-T002"),  # 11: same place as row 2
        row(teaching, "1", "5", school_code="NOPE"),              # 12: unknown school
    ]
    problems = problems_of(SPEC, csv_bytes(rows), ctx)
    by_row = {r: (column, message) for r, column, message in problems}
    assert set(by_row) == set(range(3, 13))
    assert by_row[3][0] == "weekday" and by_row[4][0] == "period" and by_row[5][0] == "term"
    assert by_row[6][0] == "class" and by_row[7][0] == "subject" and by_row[8][0] == "employee_number"
    assert by_row[9] == ("employee_number", "王芳 already teaches 7(3) Maths on Monday period 2.")
    assert by_row[10][0] == "employee_number" and "assign the teacher" in by_row[10][1]
    assert by_row[11][0] == "class" and by_row[12][0] == "school_code"
    assert len(_slots(db)) == 1


def test_a_school_outside_the_importers_scope_is_unknown(db, teaching, ctx):
    problems = problems_of(SPEC, csv_bytes([row(teaching, school_code=teaching.school_b.code, number="B-T001")]), ctx)
    assert [(r, c) for r, c, _m in problems] == [(2, "school_code")]


def test_confirmed_import_is_audited_with_counts(db, teaching, admin):
    from app.school.imports_kinds import context_for

    job = jobs.stage_upload(SPEC, csv_bytes([row(teaching, "1", "1"), row(teaching, "1", "2")]), "timetable.csv",
                            ctx=context_for(admin))
    db.session.flush()
    assert jobs.state(job) == "preview", job.result
    assert jobs.confirm(job, token=job.params["token"], spec=SPEC, ctx=dataclasses.replace(context_for(admin))) == \
        "applied"
    db.session.flush()
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)))
    assert {"imports.applied", "teaching.timetable_imported"} <= actions
    assert len(_slots(db)) == 2


def test_the_template_lists_the_columns_and_the_kind_is_registered(app, client, login_as, teaching, org):
    from app.school.imports_kinds import import_specs

    with app.test_request_context():
        text = template_csv(SPEC).decode("utf-8-sig")
    assert text.splitlines()[0] == "school_code,term,weekday,period,class,subject,employee_number"
    assert "timetable" in import_specs()
    login_as("admin", unit=org.school_a)
    assert client.get("/imports/templates/timetable.xlsx").status_code == 200
    assert 'action="/imports/timetable/upload"' in client.get("/imports/").get_data(as_text=True)
