"""Fixtures of the import and export tests: an admin of school A, the import context, files built in code."""
from __future__ import annotations

import dataclasses
import io
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import orm

from app.core.imports import jobs, progress
from app.extensions import db as _db
from tests import factories


@pytest.fixture
def admin(db, org):
    return factories.make_user("admin", unit=org.school_a)


TODAY = date(2026, 9, 15)  # inside academic year 2026-2027, whatever the clock says


@pytest.fixture
def ctx(app, admin):
    from app.school.imports_kinds import context_for

    return dataclasses.replace(context_for(admin), today=TODAY)


@pytest.fixture
def subjects(db):
    return {code: factories.make_subject(code, name) for code, name in
            (("MATH", "Maths"), ("PHYS", "Physics"), ("CHN", "Chinese"))}


@pytest.fixture(autouse=True)
def _uploads_in_tmp(app, tmp_path, monkeypatch):
    """Each test stores its uploads in its own folder."""
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))


@pytest.fixture
def progress_on_test_connection(db, monkeypatch):
    """The test's data lives in one rolled-back transaction that another connection cannot see: progress
    goes through the test's connection (test_worker_killed.py checks a really separate one)."""
    monkeypatch.setattr(progress, "progress_session",
                        lambda: orm.Session(bind=_db.session.connection(), join_transaction_mode="create_savepoint"))


def csv_bytes(rows: list[dict], *, encoding: str = "utf-8-sig", columns=None) -> bytes:
    """A CSV file as Excel would save it (pandas, text cells)."""
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    return frame.to_csv(index=False).encode(encoding)


def xlsx_bytes(rows: list[dict], columns=None) -> bytes:
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


def staff_row(school, n: int = 1, **overrides) -> dict:
    row = {"school_code": school.code, "department_code": "", "employee_number": f"T{n:05d}",
           "family_name": "王", "given_name": f"芳{n}", "email": f"t{n}@example.edu.cn", "phone": "+86 138 0013 8000",
           "hired_on": "2021-09-01", "probation_ends_on": "", "max_weekly_periods": "16", "subjects": "MATH"}
    row.update(overrides)
    return row


def student_row(school, number: str = "S001", **overrides) -> dict:
    row = {"school_code": school.code, "student_number": number, "student_family_name": "李",
           "student_given_name": "明", "born_on": "2014-03-15", "academic_year": "2026-2027", "class_name": "7-1",
           "enrolled_on": "", "guardian_name": "李娜", "relationship": "mother", "guardian_email": "li.na@example.com",
           "guardian_phone": "13800138000", "preferred_channel": "email", "language": "zh"}
    row.update(overrides)
    return row


def assignment_row(school, class_name: str = "7-1", number: str = "T00001", **overrides) -> dict:
    row = {"school_code": school.code, "academic_year": "2026-2027", "class_name": class_name,
           "employee_number": number, "role": "subject", "subject_code": "MATH", "weekly_periods": "4",
           "starts_on": "2026-09-01", "qualification_override": ""}
    row.update(overrides)
    return row


def import_file(spec, data: bytes, ctx, name: str = "file.csv"):
    """Check and apply a file the way a confirmed import does (in the test's transaction)."""
    from app.core.imports.pipeline import analyse
    from app.core.spreadsheets import read_upload

    plan = analyse(spec, read_upload(data, name), ctx)
    spec.apply(plan, ctx, lambda _done: None)
    return plan


def problems_of(spec, data: bytes, ctx, name: str = "file.csv") -> list[tuple[int, str, str]]:
    from app.core.errors import ImportRejected
    from app.core.imports.pipeline import analyse
    from app.core.spreadsheets import read_upload

    with pytest.raises(ImportRejected) as rejected:
        analyse(spec, read_upload(data, name), ctx)
    return rejected.value.rows


__all__ = ["TODAY", "assignment_row", "csv_bytes", "import_file", "jobs", "problems_of", "staff_row", "student_row",
           "xlsx_bytes"]
