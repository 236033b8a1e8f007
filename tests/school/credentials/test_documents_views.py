"""Evidence documents through the pages (RELIABILITY check 17): content sniffed, size limited, nothing written on
refusal, served as an attachment with its recorded type and nosniff, only to those allowed, each reading audited;
any other id answers 404 so that ids cannot be probed."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.credentials.models import CredentialDocument
from tests import factories
from tests.school.credentials.conftest import make_credential, make_training

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _uploads(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads" / "documents"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*")) if folder.exists() else []


def _count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(CredentialDocument))


@pytest.fixture
def held(catalogue):
    credential = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2025, 1, 1))
    _db.session.commit()
    return credential


def _upload(client, credential_id: int, data: bytes, name: str):
    return client.post(f"/credentials/{credential_id}/documents", data={"document": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_teacher_uploads_a_scan_to_their_own_credential_and_downloads_it(client, catalogue, held, _uploads):
    factories.log_in(client, catalogue.teacher_a.user)
    response = _upload(client, held.id, PDF, "safeguarding.pdf")
    assert response.status_code == 302 and response.location.endswith(f"/credentials/mine/{held.id}#documents")
    assert _upload(client, held.id, PDF, "safeguarding.pdf").status_code == 302  # a second press: kept once
    document = _db.session.scalars(sa.select(CredentialDocument)).one()
    assert len(_files(_uploads)) == 1
    download = client.get(f"/credentials/documents/{document.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download.headers["Cache-Control"]
    reads = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "credential_document.read")).all()
    assert [e.subject_id for e in reads] == [str(document.id)]


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<html><script>alert(1)</script></html>", "certificate.pdf", "Upload a PDF, PNG or JPEG"),
    (PNG, "certificate.html", "Upload a PDF, PNG or JPEG"),
    (b"", "empty.pdf", "Choose a file"),
])
def test_disguised_or_empty_files_are_refused_at_the_field_and_nothing_is_written(client, catalogue, held, _uploads,
                                                                                   data, name, message):
    factories.log_in(client, catalogue.teacher_a.user)
    response = _upload(client, held.id, data, name)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "is-invalid" in html
    assert _count() == 0 and _files(_uploads) == []


def test_an_oversized_file_is_refused_with_a_clear_message(client, app, catalogue, held, _uploads, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1024)
    factories.log_in(client, catalogue.teacher_a.user)
    response = _upload(client, held.id, PDF + b"0" * 2048, "big.pdf")
    assert response.status_code == 422 and "larger than" in response.get_data(as_text=True)
    assert _count() == 0 and _files(_uploads) == []


def test_a_huge_body_is_answered_413_by_flask(client, app, catalogue, held, _uploads, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    factories.log_in(client, catalogue.teacher_a.user)
    assert _upload(client, held.id, PDF + b"0" * 10_000, "huge.pdf").status_code == 413
    assert _count() == 0 and _files(_uploads) == []


def _documents(client, catalogue, held):
    """One document on teacher A's credential (school A) and one on teacher B's training (school B)."""
    factories.log_in(client, catalogue.teacher_a.user)
    assert _upload(client, held.id, PDF, "a.pdf").status_code == 302
    training_b = make_training(catalogue.teacher_b, "3", on=date(2026, 9, 1), status="submitted")
    _db.session.commit()
    factories.log_in(client, catalogue.teacher_b.user)
    response = client.post(f"/credentials/training/{training_b.id}/documents",
                           data={"document": (io.BytesIO(PNG), "b.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    by_name = {d.original_name: d for d in _db.session.scalars(sa.select(CredentialDocument))}
    return by_name["a.pdf"], by_name["b.png"]


def test_a_teacher_cannot_read_another_teachers_document_by_guessing_its_url(client, catalogue, held):
    doc_a, doc_b = _documents(client, catalogue, held)
    factories.log_in(client, catalogue.teacher_a2.user)  # same school as teacher A
    assert client.get(f"/credentials/documents/{doc_a.id}").status_code == 404
    factories.log_in(client, catalogue.teacher_a.user)
    assert client.get(f"/credentials/documents/{doc_b.id}").status_code == 404
    assert client.get(f"/credentials/documents/{doc_b.id + 1000}").status_code == 404
    assert client.get(f"/credentials/documents/{doc_a.id}").status_code == 200


@pytest.mark.parametrize("role", ["admin", "head"])
def test_staff_of_school_a_read_school_a_documents_only(client, catalogue, held, org, role):
    doc_a, doc_b = _documents(client, catalogue, held)
    factories.log_in(client, factories.make_user(role, unit=org.school_a))
    assert client.get(f"/credentials/documents/{doc_a.id}").status_code == 200
    assert client.get(f"/credentials/documents/{doc_b.id}").status_code == 404


def test_a_parent_reaches_no_document(client, catalogue, held, org):
    doc_a, _doc_b = _documents(client, catalogue, held)
    factories.log_in(client, factories.make_user("parent", unit=org.school_a))
    assert client.get(f"/credentials/documents/{doc_a.id}").status_code in (403, 404)


def test_uploading_to_someone_elses_record_answers_404_and_writes_nothing(client, catalogue, held, _uploads):
    factories.log_in(client, catalogue.teacher_a2.user)
    assert _upload(client, held.id, PDF, "x.pdf").status_code == 404
    assert _count() == 0 and _files(_uploads) == []
