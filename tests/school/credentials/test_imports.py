"""The credentials import: all or nothing with a row/column report, expiry from the type, no duplicates."""
from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import sqlalchemy as sa

from app.core.imports import jobs
from app.core.imports.template_files import template_csv
from app.general.audit.models import AuditEvent
from app.school.credentials.imports import CredentialImport
from app.school.credentials.models import Credential
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential
from tests.school.imports.conftest import csv_bytes, import_file, problems_of, xlsx_bytes

SPEC = CredentialImport()


@pytest.fixture
def admin(db, org):
    return factories.make_user("admin", unit=org.school_a)


@pytest.fixture
def ctx(app, admin):
    from app.school.imports_kinds import context_for

    return dataclasses.replace(context_for(admin), today=TODAY)


@pytest.fixture(autouse=True)
def _uploads_in_tmp(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))


def row(staff, type_code: str = "TEACH", **overrides) -> dict:
    values = {"school_code": staff.school.code, "employee_number": staff.employee_number, "type_code": type_code,
              "number": "2024-001", "issuer": "Education Bureau", "issued_on": "2024-09-01", "expires_on": "",
              "note": ""}
    values.update(overrides)
    return values


def _credentials(db) -> list[tuple]:
    db.session.expire_all()
    return [(c.staff_id, c.type.code, c.number, c.issued_on, c.expires_on)
            for c in db.session.scalars(sa.select(Credential).order_by(Credential.id))]


def test_a_good_file_applies_with_expiry_computed_from_the_type(db, catalogue, ctx):
    c = catalogue
    rows = [row(c.teacher_a), row(c.teacher_a, "SAFE", expires_on="2027-06-30", number=""),
            row(c.teacher_a2, "title", issued_on="2015年7月1日")]
    plan = import_file(SPEC, xlsx_bytes(rows), ctx, "credentials.xlsx")
    assert plan.counts["credentials"]["create"] == 3
    assert _credentials(db) == [(c.teacher_a.id, "TEACH", "2024-001", date(2024, 9, 1), date(2029, 8, 31)),
                                (c.teacher_a.id, "SAFE", None, date(2024, 9, 1), date(2027, 6, 30)),
                                (c.teacher_a2.id, "TITLE", "2024-001", date(2015, 7, 1), None)]


def test_a_file_whose_last_row_is_bad_is_rejected_whole_with_a_report(db, catalogue, ctx):
    c = catalogue
    rows = [row(c.teacher_a), row(c.teacher_a2, "SAFE"),
            row(c.teacher_a2, "NOPE", issued_on="2024-02-30", expires_on="2020-01-01")]
    assert problems_of(SPEC, csv_bytes(rows), ctx) == [
        (4, "issued_on", "“2024-02-30” is not a date: write it as YYYY-MM-DD."),
        (4, "type_code", "Unknown credential type “NOPE”, or no longer in use.")]
    bad = [row(c.teacher_a), row(c.teacher_a2, "SAFE", expires_on="2020-01-01"),
           row(c.teacher_a2, "NOPE"), row(c.teacher_b), {**row(c.teacher_a), "employee_number": "X999"},
           row(c.teacher_a), row(c.teacher_a2, "TITLE", expires_on="2030-01-01")]
    report = problems_of(SPEC, csv_bytes(bad), ctx)
    assert [(r, col) for r, col, _message in report] == [
        (3, "expires_on"), (4, "type_code"), (5, "school_code"), (6, "employee_number"), (7, "issued_on"),
        (8, "expires_on")]
    assert "cannot be before" in report[0][2] and "Same person" in report[4][2] and "does not expire" in report[5][2]
    assert _credentials(db) == []


def test_reimporting_creates_no_duplicates_and_a_different_record_of_the_same_period_is_refused(db, catalogue, ctx):
    c = catalogue
    make_credential(c.teacher_a, c.safe, issued_on=date(2024, 9, 1), number="2024-001")
    data = csv_bytes([row(c.teacher_a), row(c.teacher_a, "SAFE")])
    first = import_file(SPEC, data, ctx)
    assert (first.counts["credentials"]["create"], first.counts["credentials"]["unchanged"]) == (1, 1)
    again = import_file(SPEC, data, ctx)
    assert again.counts["credentials"] == {"create": 0, "update": 0, "end": 0, "unchanged": 2}
    assert len(_credentials(db)) == 2
    report = problems_of(SPEC, csv_bytes([row(c.teacher_a, number="OTHER")]), ctx)
    assert [(r, col) for r, col, _m in report] == [(2, "issued_on")]


def test_a_departed_person_cannot_get_a_credential(db, catalogue, ctx):
    gone = factories.make_staff(catalogue.school_a, status="departed")
    report = problems_of(SPEC, csv_bytes([row(gone, "SAFE")]), ctx)
    assert [(r, col) for r, col, _m in report] == [(2, "employee_number")]


def test_confirmed_import_is_one_audited_event_with_counts(db, catalogue, admin):
    from app.school.imports_kinds import context_for

    data = csv_bytes([row(catalogue.teacher_a), row(catalogue.teacher_a2, "SAFE")])
    job = jobs.stage_upload(SPEC, data, "credentials.csv", ctx=context_for(admin))
    db.session.flush()
    assert jobs.state(job) == "preview", job.result
    assert jobs.confirm(job, token=job.params["token"], spec=SPEC, ctx=context_for(admin)) == "applied"
    db.session.flush()
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "imports.applied",
                                                              AuditEvent.actor_id == admin.id)).all()
    assert event.changes["kind"] == "credentials" and event.changes["counts"]["credentials"]["create"] == 2
    assert len(_credentials(db)) == 2


def test_the_template_lists_the_columns_with_an_example(app):
    with app.test_request_context():
        text = template_csv(SPEC).decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header == "school_code,employee_number,type_code,number,issuer,issued_on,expires_on,note"
    assert "RS1-T001" in text


def test_the_import_kind_and_the_exports_are_registered(app, client, login_as, catalogue, org):
    from app.school.imports_kinds import export_kinds, import_specs

    assert "credentials" in import_specs()
    assert {"credentials", "credential_compliance"} <= set(export_kinds())
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2025, 1, 1), number="=HYPERLINK(1)")
    make_credential(catalogue.teacher_b, catalogue.safe, issued_on=date(2025, 1, 1), number="B-ONLY")
    login_as("admin", unit=org.school_a)
    assert client.get("/imports/templates/credentials.csv").status_code == 200
    text = client.get("/imports/exports/credentials.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text and "B-ONLY" not in text
