"""Fixtures of the import and export tests: an admin of school A, the import context, files built in code."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import orm

from app.core.imports import jobs, progress
from app.extensions import db as _db
from tests import factories


@pytest.fixture
def admin(db, org):
    return factories.make_user("admin", unit=org.school_a)


@pytest.fixture
def ctx(app, admin):
    from app.school.imports_kinds import context_for

    return context_for(admin)


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


__all__ = ["csv_bytes", "jobs", "staff_row", "xlsx_bytes"]
