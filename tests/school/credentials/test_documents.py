"""Evidence documents (RELIABILITY check 17, service level): the type is decided by the content, not the name;
size limited; stored outside static/ under a random name readable only by the app; no file outlives a
rolled-back transaction; stored names cannot walk out of the folder; attaching respects the owner and scope."""
from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core import documents
from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.credentials import services
from app.school.credentials.models import CredentialDocument, RenewalStatus, TrainingStatus
from tests import factories
from tests.school.credentials.conftest import make_credential, make_training

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 32


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path, monkeypatch) -> Path:
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads" / "documents"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def certificate(catalogue):
    return make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(2022, 1, 1))


# --- the checks (app/core/documents.py) --------------------------------------------------------------------


@pytest.mark.parametrize(("data", "name", "kind", "suffix"), [
    (PDF, "certificate.pdf", "application/pdf", ".pdf"),
    (PNG, "scan.png", "image/png", ".png"),
    (JPEG, "photo.jpg", "image/jpeg", ".jpg"),
    (JPEG, "PHOTO.JPEG", "image/jpeg", ".jpg"),
    (PDF, "scan.png", "application/pdf", ".pdf"),  # the content decides the type, and the stored name follows it
])
def test_pdf_png_and_jpeg_are_accepted_by_content(db, upload_folder, data, name, kind, suffix):
    stored = documents.store_document(data, name)
    assert stored.content_type == kind and stored.stored_name.endswith(suffix)
    assert stored.size == len(data) and len(stored.sha256) == 64
    assert (upload_folder / stored.stored_name).read_bytes() == data


@pytest.mark.parametrize(("data", "name"), [
    (HTML, "certificate.pdf"),   # an HTML page renamed .pdf
    (EXE, "photo.png"),          # a program renamed .png
    (PDF, "certificate.txt"),    # a real PDF with a name we do not serve
    (PDF, "certificate.html"),
    (PDF, "certificate"),
    (b"GIF89a" + b"\x00" * 20, "anim.jpg"),
    (b"  %PDF-1.7", "leading-space.pdf"),
])
def test_files_that_are_not_what_they_claim_are_refused(db, upload_folder, data, name):
    with pytest.raises(ValidationFailed) as refused:
        documents.store_document(data, name)
    assert refused.value.field == "document"
    assert _files(upload_folder) == []


def test_an_empty_upload_is_refused(db, upload_folder):
    with pytest.raises(ValidationFailed, match="Choose a file") as refused:
        documents.store_document(b"", "empty.pdf")
    assert refused.value.field == "document"


def test_the_size_limit_comes_from_the_configuration(app, db, upload_folder, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1024)
    exactly = PDF + b"0" * (1024 - len(PDF))
    assert documents.store_document(exactly, "ok.pdf").size == 1024
    with pytest.raises(ValidationFailed, match="larger than") as refused:
        documents.store_document(exactly + b"0", "big.pdf")
    assert refused.value.field == "document" and len(_files(upload_folder)) == 1


def test_without_configuration_the_limit_is_five_megabytes(app, db, upload_folder, monkeypatch):
    monkeypatch.delitem(app.config, "DOCUMENT_MAX_BYTES", raising=False)
    assert documents.max_bytes() == 5 * 1024 * 1024
    with pytest.raises(ValidationFailed, match="larger than"):
        documents.store_document(PDF + b"0" * documents.max_bytes(), "big.pdf")


def test_files_are_stored_outside_static_under_a_random_name_readable_only_by_the_app(app, db, upload_folder):
    first = documents.store_document(PDF, "../../etc/passwd.pdf")
    second = documents.store_document(PDF, "../../etc/passwd.pdf")
    assert first.stored_name != second.stored_name
    assert documents._NAME.fullmatch(first.stored_name) and "passwd" not in first.stored_name
    assert first.original_name == "passwd.pdf"
    path = documents.document_path(first.stored_name)
    assert path is not None and path.parent == upload_folder
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(upload_folder).st_mode) & 0o077 == 0  # the folder is the app's alone too
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert "static" not in path.resolve().parts


def test_the_original_name_loses_folders_and_control_characters():
    assert documents.safe_original_name("C:\\Users\\li\\证书.pdf") == "证书.pdf"
    assert documents.safe_original_name("a\r\nb\x00.pdf") == "ab.pdf"
    assert documents.safe_original_name("") == "document"
    assert len(documents.safe_original_name("x" * 300 + ".pdf")) == 200


@pytest.mark.parametrize("name", ["../secret.pdf", "../../config.py", "/etc/passwd", "", None,
                                  "0123456789abcdef0123456789abcdef.exe", "0123456789abcdef0123456789abcdef.pdf/..",
                                  "0123456789ABCDEF0123456789ABCDEF.pdf"])
def test_document_path_refuses_names_that_are_not_ours(db, upload_folder, name):
    assert documents.document_path(name) is None


def test_document_path_finds_a_stored_file_and_discarding_twice_is_safe(db, upload_folder):
    stored = documents.store_document(PNG, "scan.png")
    assert documents.document_path(stored.stored_name) == upload_folder / stored.stored_name
    documents.discard_document(stored.stored_name)
    documents.discard_document(stored.stored_name)
    assert documents.document_path(stored.stored_name) is None and _files(upload_folder) == []


# --- attaching (services.attach_document) -----------------------------------------------------------------------


def test_a_teacher_attaches_a_scan_to_their_credential_and_it_is_audited(catalogue, certificate, upload_folder):
    teacher = catalogue.teacher_a.user
    document = services.attach_document(certificate, data=PDF, filename="certificate.pdf", actor=teacher)
    assert (document.credential_id, document.staff_id, document.uploaded_by_id) == \
        (certificate.id, catalogue.teacher_a.id, teacher.id)
    assert services.documents_of(certificate) == [document]
    assert _files(upload_folder) == [document.stored_name]
    event = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "credential_document.uploaded")
                                .order_by(AuditEvent.seq.desc())).first()
    assert event.changes["sha256"] == document.sha256 and event.changes["credential_id"] == certificate.id


def test_documents_attach_to_training_records_and_renewals(catalogue, certificate):
    teacher = catalogue.teacher_a.user
    training = make_training(catalogue.teacher_a, "12", on=date(2024, 1, 1), status=TrainingStatus.SUBMITTED)
    renewal = services.start_renewal(certificate, note=None, actor=teacher)
    on_training = services.attach_document(training, data=PNG, filename="attendance.png", actor=teacher)
    on_renewal = services.attach_document(renewal, data=JPEG, filename="hours.jpg", actor=teacher)
    assert (on_training.training_id, on_training.credential_id, on_training.renewal_id) == (training.id, None, None)
    assert (on_renewal.renewal_id, on_renewal.staff_id) == (renewal.id, catalogue.teacher_a.id)
    assert services.documents_of(training) == [on_training] and services.documents_of(renewal) == [on_renewal]
    assert services.documents_of(certificate) == []


def test_a_decided_renewal_takes_no_more_evidence(catalogue, certificate, org, upload_folder):
    teacher = catalogue.teacher_a.user
    renewal = services.start_renewal(certificate, note=None, actor=teacher)
    services.reject_renewal(renewal, reason="Evidence unreadable", actor=factories.make_user("head", unit=org.school_a,
                                                                                            password=None))
    assert renewal.status == RenewalStatus.REJECTED
    with pytest.raises(InvalidTransition):
        services.attach_document(renewal, data=PDF, filename="late.pdf", actor=teacher)
    assert _files(upload_folder) == []


@pytest.mark.parametrize("status", [TrainingStatus.VERIFIED, TrainingStatus.REJECTED])
def test_a_decided_training_record_takes_no_more_evidence(catalogue, upload_folder, status):
    training = make_training(catalogue.teacher_a, "12", on=date(2024, 1, 1), status=status)
    with pytest.raises(InvalidTransition):
        services.attach_document(training, data=PDF, filename="late.pdf", actor=catalogue.teacher_a.user)
    assert _files(upload_folder) == []


@pytest.mark.parametrize("who", ["colleague", "head", "admin_b"])
def test_others_may_not_attach_and_no_file_is_written(catalogue, certificate, org, upload_folder, who):
    actor = {"colleague": lambda: catalogue.teacher_a2.user,
             "head": lambda: factories.make_user("head", unit=org.school_a, password=None),
             "admin_b": lambda: factories.make_user("admin", unit=org.school_b, password=None)}[who]()
    with pytest.raises(NotAllowed):
        services.attach_document(certificate, data=PDF, filename="x.pdf", actor=actor)
    assert _files(upload_folder) == []


def test_an_admin_of_the_school_attaches_for_a_teacher(catalogue, certificate, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    assert services.attach_document(certificate, data=PDF, filename="x.pdf", actor=admin_a).uploaded_by_id \
        == admin_a.id


def test_a_refused_file_leaves_no_row_and_no_file(catalogue, certificate, upload_folder):
    with pytest.raises(ValidationFailed):
        services.attach_document(certificate, data=HTML, filename="certificate.pdf", actor=catalogue.teacher_a.user)
    assert services.documents_of(certificate) == [] and _files(upload_folder) == []


def test_a_rolled_back_transaction_leaves_no_file_behind(catalogue, certificate, upload_folder):
    document = services.attach_document(certificate, data=PDF, filename="certificate.pdf",
                                        actor=catalogue.teacher_a.user)
    assert _files(upload_folder) == [document.stored_name]
    _db.session.rollback()
    assert _files(upload_folder) == []


def test_a_session_closed_without_commit_leaves_no_file_behind(catalogue, certificate, upload_folder):
    services.attach_document(certificate, data=PDF, filename="certificate.pdf", actor=catalogue.teacher_a.user)
    _db.session.close()
    assert _files(upload_folder) == []


def test_a_committed_document_keeps_its_file_even_after_a_later_rollback(catalogue, certificate, upload_folder):
    document = services.attach_document(certificate, data=PDF, filename="certificate.pdf",
                                        actor=catalogue.teacher_a.user)
    _db.session.commit()
    assert _files(upload_folder) == [document.stored_name]
    services.attach_document(certificate, data=PNG, filename="second.png", actor=catalogue.teacher_a.user)
    _db.session.rollback()
    assert _files(upload_folder) == [document.stored_name]


def test_a_rolled_back_savepoint_does_not_delete_the_file_of_the_committing_transaction(catalogue, certificate,
                                                                                        upload_folder):
    document = services.attach_document(certificate, data=PDF, filename="certificate.pdf",
                                        actor=catalogue.teacher_a.user)
    with pytest.raises(RuntimeError):
        with _db.session.begin_nested():
            raise RuntimeError("a guarded step failed and was rolled back to its savepoint")
    with _db.session.begin_nested():
        pass  # a released savepoint is not the commit either
    assert _files(upload_folder) == [document.stored_name]
    _db.session.commit()
    assert _files(upload_folder) == [document.stored_name]
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(CredentialDocument)) == 1


def test_the_database_refuses_a_document_with_two_owners_or_an_unknown_type(catalogue, certificate):
    training = make_training(catalogue.teacher_a, "12", on=date(2024, 1, 1))
    for fields in ({"credential_id": certificate.id, "training_id": training.id},
                   {},
                   {"credential_id": certificate.id, "content_type": "text/html"}):
        values = {"content_type": "application/pdf"} | fields
        with pytest.raises(sa.exc.IntegrityError):
            with _db.session.begin_nested():
                _db.session.add(CredentialDocument(staff_id=catalogue.teacher_a.id, stored_name=os.urandom(8).hex(),
                                                   original_name="x.pdf", size=1, sha256="0" * 64, **values))
