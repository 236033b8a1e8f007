"""The imports and exports pages: access, upload → preview → confirm, reports, progress JSON, downloads."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
import sqlalchemy as sa

from app.core.imports import jobs
from app.core.imports.pipeline import map_header
from app.core.imports.spec import RowErrors
from app.core.jobs import Job
from app.core.spreadsheets import read_upload
from app.general.audit.models import AuditEvent
from app.school.imports_kinds import import_specs
from app.school.staff.models import StaffMember
from tests import factories
from tests.school.imports.conftest import csv_bytes, staff_row


def _upload(client, data: bytes, name: str = "staff.csv", kind: str = "staff"):
    return client.post(f"/imports/{kind}/upload", data={f"{kind}-file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _job_id(response) -> int:
    return int(re.search(r"/imports/jobs/(\d+)$", response.headers["Location"]).group(1))


def _staff_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(StaffMember))


@pytest.fixture
def admin_client(client, login_as, admin):
    login_as(user=admin)
    return client


@pytest.fixture
def queued(monkeypatch):
    """Task messages are recorded instead of sent (no broker in unit tests)."""
    sent: list[int] = []
    from app.school.imports_tasks import apply_file

    monkeypatch.setattr(apply_file, "delay", lambda job_id: sent.append(job_id))
    return sent


# --- access ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["head", "teacher", "parent"])
def test_only_admins_import(client, login_as, role):
    login_as(role)
    assert client.get("/imports/").status_code == 403
    assert client.get("/imports/templates/staff.csv").status_code == 403
    assert _upload(client, b"a\n1\n").status_code == 403


def test_the_index_lists_the_kinds_with_templates(admin_client):
    page = admin_client.get("/imports/").get_data(as_text=True)
    for kind in ("staff", "students", "assignments"):
        assert f"/imports/templates/{kind}.xlsx" in page and f"/imports/templates/{kind}.csv" in page
        assert f'action="/imports/{kind}/upload"' in page
    assert '<script>' not in page.replace('<script src=', '')


@pytest.mark.parametrize("kind", ["staff", "students", "assignments"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_template_downloads_with_every_column_an_example_and_notes(admin_client, kind, fmt):
    response = admin_client.get(f"/imports/templates/{kind}.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{kind}-template.{fmt}"'
    spec = import_specs()[kind]
    sheet = read_upload(response.data, f"t.{fmt}")
    errors = RowErrors()
    header = map_header(spec, sheet, errors)
    assert not errors and not header.ignored and len(sheet) == 1  # the notes row is skipped
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(response.data))
        assert workbook.sheetnames == [kind, "Notes"] and workbook["Notes"].max_row == len(spec.columns) + 1
    else:
        _header, notes, _example = csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline=""))
        assert notes[0].startswith("# ") and len(notes) == len(spec.columns)


# --- upload, preview, confirm ----------------------------------------------------------------------------------


def test_upload_preview_and_confirm(admin_client, db, org, subjects, queued):
    response = _upload(admin_client, csv_bytes([staff_row(org.school_a, n) for n in range(1, 4)]))
    assert response.status_code == 302
    job_id = _job_id(response)
    page = admin_client.get(f"/imports/jobs/{job_id}").get_data(as_text=True)
    assert "Confirm and import" in page and "T00002" in page and _staff_count(db) == 0
    token = db.session.get(Job, job_id).params["token"]
    confirmed = admin_client.post(f"/imports/jobs/{job_id}/confirm", data={"token": token}, follow_redirects=True)
    assert "The file was imported." in confirmed.get_data(as_text=True)
    assert _staff_count(db) == 3 and queued == []
    assert not (jobs.upload_folder() / db.session.get(Job, job_id).params["file"]).exists()
    again = admin_client.post(f"/imports/jobs/{job_id}/confirm", data={"token": token}, follow_redirects=True)
    assert "already confirmed" in again.get_data(as_text=True)
    assert _staff_count(db) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "imports.applied")) == 1


def test_an_html_file_renamed_xlsx_is_refused_on_the_form(admin_client, db):
    response = _upload(admin_client, b"<html><body>hello</body></html>", "staff.xlsx")
    assert response.status_code == 422
    assert "is not an Excel workbook" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_an_oversized_upload_gets_413(admin_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2_000)
    assert _upload(admin_client, b"a," * 2_000).status_code == 413


def test_the_rejection_report_lists_every_problem_and_says_nothing_changed(admin_client, db, org, subjects):
    rows = [staff_row(org.school_a, 1, hired_on="x"), staff_row(org.school_a, 2),
            staff_row(org.school_a, 3, email="bad", school_code="NOPE")]
    job_id = _job_id(_upload(admin_client, csv_bytes(rows)))
    page = admin_client.get(f"/imports/jobs/{job_id}").get_data(as_text=True)
    assert "Nothing was changed" in page
    for cell in ("hired_on", "email", "school_code"):
        assert f"<code>{cell}</code>" in page
    report = admin_client.get(f"/imports/jobs/{job_id}/report.csv")
    lines = report.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "Row,Column,Problem" and sorted(line.split(",")[:2] for line in lines[1:]) == [
        ["2", "hired_on"], ["4", "email"], ["4", "school_code"]]
    assert _staff_count(db) == 0


def test_discarding_a_preview(admin_client, db, org, subjects):
    job_id = _job_id(_upload(admin_client, csv_bytes([staff_row(org.school_a)])))
    page = admin_client.post(f"/imports/jobs/{job_id}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "discarded" in page and jobs.state(db.session.get(Job, job_id)) == "cancelled"


# --- large files: progress -------------------------------------------------------------------------------------


def test_a_large_import_shows_a_progress_bar_fed_by_json(admin_client, app, db, org, subjects, queued, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 2)
    job_id = _job_id(_upload(admin_client, csv_bytes([staff_row(org.school_a, n) for n in range(1, 6)])))
    token = db.session.get(Job, job_id).params["token"]
    page = admin_client.post(f"/imports/jobs/{job_id}/confirm", data={"token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert queued == [job_id]
    assert 'role="progressbar"' in text and f'data-url="/imports/jobs/{job_id}.json"' in text
    assert "/static/js/imports.js" in text and "<script>" not in text
    status = admin_client.get(f"/imports/jobs/{job_id}.json").get_json()
    assert status == {"id": job_id, "state": "waiting", "status": "queued", "done": 0, "total": 10, "percent": 0,
                      "rows": 5, "phase": "checking", "url": f"/imports/jobs/{job_id}"}


def test_the_progress_json_refuses_other_users(client, db, org, admin, subjects):
    job = jobs.stage_upload(import_specs()["staff"], csv_bytes([staff_row(org.school_a)]), "s.csv",
                            ctx=__import__("app.school.imports_kinds", fromlist=["x"]).context_for(admin))
    db.session.commit()
    url = f"/imports/jobs/{job.id}.json"
    for user in (factories.make_user("admin", unit=org.school_b), factories.make_user("teacher", unit=org.school_a),
                 factories.make_user("head", unit=org.school_a), factories.make_user("parent", unit=org.school_a)):
        factories.log_in(client, user)
        assert client.get(url).status_code == 403, user.role
        assert client.get(f"/imports/jobs/{job.id}").status_code == 403, user.role
    colleague = factories.make_user("admin", unit=org.district)
    factories.log_in(client, colleague)
    assert client.get(url).status_code == 200
    factories.log_in(client, admin)
    assert client.get(url).get_json()["state"] == "preview"


# --- exports ------------------------------------------------------------------------------------------------------


def test_an_export_needs_a_fresh_login(client, login_as, db, org):
    login_as("admin", fresh=False)
    response = client.get("/imports/exports/staff.csv")
    assert response.status_code == 302 and "/auth/reauthenticate" in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "exports.downloaded")) == 0


def test_an_export_holds_only_rows_in_scope_and_is_audited(admin_client, db, org, subjects):
    factories.make_staff(org.school_a, employee_number="A001", family_name="=HYPERLINK(\"http://x\")")
    factories.make_staff(org.school_b, employee_number="B001")
    response = admin_client.get("/imports/exports/staff.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="staff-')
    text = response.data.decode("utf-8-sig")
    assert "A001" in text and "B001" not in text
    assert "'=HYPERLINK" in text
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exports.downloaded"))
    assert event.changes == {"kind": "staff", "format": "csv", "rows": 1, "school": None}


def test_a_district_admin_narrows_an_export_to_one_of_their_schools(client, login_as, db, org):
    factories.make_staff(org.school_a, employee_number="A001")
    factories.make_staff(org.school_b, employee_number="B001")
    login_as("admin", unit=org.district)
    page = client.get("/imports/exports/").get_data(as_text=True)
    assert f'<option value="{org.school_b.id}"' in page
    response = client.get(f"/imports/exports/staff.csv?school={org.school_b.id}")
    text = response.data.decode("utf-8-sig")
    assert "B001" in text and "A001" not in text and org.school_b.code in response.headers["Content-Disposition"]


def test_an_export_cannot_be_narrowed_to_a_school_out_of_reach(admin_client, org):
    assert admin_client.get(f"/imports/exports/staff.csv?school={org.school_b.id}").status_code == 404


@pytest.mark.parametrize("kind", ["staff", "students", "assignments"])
def test_each_export_downloads_as_xlsx_with_text_cells(admin_client, db, org, subjects, kind):
    school_class = factories.make_class(org.school_a, name="@7-1")
    teacher = factories.make_staff(org.school_a, employee_number="007", family_name="+1", subjects=[subjects["MATH"]])
    student = factories.make_student(org.school_a, student_number="S1", family_name="@x", school_class=school_class)
    factories.make_guardian(student, full_name="-1", email="g@example.com")
    factories.make_assignment(school_class, teacher, subject=subjects["MATH"])
    factories.make_class(org.school_b, name="7-1")
    response = admin_client.get(f"/imports/exports/{kind}.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2  # the header and school A's one record
    texts = [cell for cell in rows[1] if isinstance(cell, str)]
    assert all(not t.startswith(("=", "+", "-", "@")) for t in texts)
    assert any(t.startswith("'") for t in texts)


def test_a_department_head_exports_only_their_departments_staff(client, login_as, db, org):
    factories.make_staff(org.school_a, department=org.dept_a, employee_number="IN01")
    factories.make_staff(org.school_a, employee_number="OUT1")  # school A, no department
    login_as("head", unit=org.dept_a)
    text = client.get("/imports/exports/staff.csv").data.decode("utf-8-sig")
    assert "IN01" in text and "OUT1" not in text
    assert client.get("/imports/exports/students.csv").data.decode("utf-8-sig").count("\n") == 1  # header only


def test_an_exported_staff_list_imports_back_unchanged(admin_client, db, org, subjects):
    factories.make_staff(org.school_a, department=org.dept_a, employee_number="007", family_name="+王",
                         subjects=[subjects["MATH"], subjects["PHYS"]])
    exported = admin_client.get("/imports/exports/staff.xlsx").data
    job_id = _job_id(_upload(admin_client, exported, "staff.xlsx"))
    job = db.session.get(Job, job_id)
    assert jobs.state(job) == "preview", job.result
    assert job.result["counts"]["staff"]["unchanged"] == 1
    assert "status" in job.result["warnings"][0]
