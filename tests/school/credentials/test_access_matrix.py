"""The horizontal matrix of RELIABILITY check 11 for credentials, documents, training records and renewals:
2 schools × (admin, head, 2 teachers, parent). Every credentials route that takes an object, requested (GET and
POST) for another's object by every non-owner, answers 403 or 404 and changes nothing; lists and queues hold only
the user's own rows (the rows are asserted, not only the status); documents answer 404 to anyone not allowed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from app.core import documents as files
from app.extensions import db as _db
from app.school.credentials.models import (
    Credential,
    CredentialDocument,
    CredentialType,
    Renewal,
    RenewalStatus,
    TrainingRecord,
)
from tests import factories
from tests.school.credentials.conftest import make_credential, make_training, make_type

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class Side:
    """Everything of one school: teacher 0 owns the records; teacher 1 is a colleague."""

    school: object
    admin: object
    head: object
    teachers: list
    parent: object
    staff: list
    credential: Credential
    training: TrainingRecord
    renewal: Renewal
    documents: list[CredentialDocument]


def _document(staff, **owner) -> CredentialDocument:
    stored = files.store_document(PDF, "evidence.pdf")
    document = CredentialDocument(staff_id=staff.id, stored_name=stored.stored_name, original_name="evidence.pdf",
                                  content_type=stored.content_type, size=stored.size, sha256=stored.sha256, **owner)
    _db.session.add(document)
    _db.session.flush()
    return document


def _side(unit, teach: CredentialType, tag: str) -> Side:
    admin = factories.make_user("admin", unit=unit, password=None)
    head = factories.make_user("head", unit=unit, password=None)
    users = [factories.make_user("teacher", unit=unit, password=None) for _n in range(2)]
    staff = [factories.make_staff(unit, user=user, family_name=f"Holder{tag}", given_name=str(n))
             for n, user in enumerate(users)]
    parent = factories.make_user("parent", unit=unit, password=None)
    credential = make_credential(staff[0], teach, issued_on=date(2022, 1, 1), number=f"N-{tag}")
    training = make_training(staff[0], "10", on=date(2026, 9, 1), status="submitted", topic=f"Topic{tag}")
    renewal = Renewal(credential=credential, status=RenewalStatus.SUBMITTED)
    _db.session.add(renewal)
    _db.session.flush()
    documents = [_document(staff[0], credential_id=credential.id), _document(staff[0], training_id=training.id),
                 _document(staff[0], renewal_id=renewal.id)]
    return Side(unit, admin, head, users, parent, staff, credential, training, renewal, documents)


@pytest.fixture
def sides(app, org, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    teach = make_type("TEACH", "Teaching certificate", validity_years=5, required_for="teaching")
    pair = _side(org.school_a, teach, "A"), _side(org.school_b, teach, "B")
    _db.session.commit()
    return pair


def _object_urls(app, target: Side, document: CredentialDocument) -> list[tuple[str, str]]:
    """(method, url) of every credentials route that takes an object, pointed at `target`'s objects."""
    values = {"credential_id": target.credential.id, "training_id": target.training.id,
              "renewal_id": target.renewal.id, "document_id": document.id, "staff_id": target.staff[0].id,
              "type_id": target.credential.type_id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("credentials.") or not rule.arguments or not rule.arguments <= set(values):
            continue  # no object (e.g. an export's format)
        url = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]
        urls += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return urls


def _snapshot() -> dict:
    _db.session.expire_all()
    return {model.__name__: [tuple(row) for row in _db.session.execute(sa.select(model.__table__))]
            for model in (Credential, TrainingRecord, Renewal, CredentialDocument, CredentialType)}


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
def test_every_object_route_refuses_every_non_owner_of_the_other_school(app, client, sides, direction):
    own, other = sides if direction == "a_to_b" else sides[::-1]
    urls = [url for document in other.documents for url in _object_urls(app, other, document)]
    assert len(set(urls)) >= 25
    before = _snapshot()
    for user in (own.admin, own.head, *own.teachers, own.parent):
        factories.log_in(client, user)
        for method, url in sorted(set(urls)):
            response = client.open(url, method=method, data={"reason": "x", "note": "x", "version": "1"})
            assert response.status_code in (403, 404), (user.role, method, url, response.status_code)
    assert _snapshot() == before


def test_a_colleague_in_the_same_school_reaches_none_of_a_teachers_records(app, client, sides):
    own = sides[0]
    urls = {url for document in own.documents for url in _object_urls(app, own, document)}
    before = _snapshot()
    factories.log_in(client, own.teachers[1])
    for method, url in sorted(urls):
        response = client.open(url, method=method, data={"reason": "x", "note": "x", "version": "1"})
        assert response.status_code in (403, 404), (method, url, response.status_code)
    assert _snapshot() == before


def test_owners_and_reviewers_in_scope_do_read_the_documents(client, sides):
    """The positive control: the 404s above are the policy's, not missing files."""
    for side in sides:
        for user in (side.teachers[0], side.admin, side.head):
            factories.log_in(client, user)
            for document in side.documents:
                assert client.get(f"/credentials/documents/{document.id}").status_code == 200, user.role


@pytest.mark.parametrize("role", ["admin", "head"])
def test_lists_and_queues_hold_only_own_rows(client, sides, role):
    for own, other in (sides, sides[::-1]):
        factories.log_in(client, getattr(own, role))
        for query in ("", "?status=all", f"?q=Holder{'B' if own is sides[0] else 'A'}", f"?school={other.school.id}",
                      "?status=pending_renewal"):
            html = client.get(f"/credentials/{query}").get_data(as_text=True)
            expected = set() if "q=" in query or "school=" in query else {own.credential.id}
            assert _ids(html, "data-credential-id") == expected, query
            assert other.credential.number not in html
        assert _ids(client.get("/credentials/training/").get_data(as_text=True),
                    "data-training-id") == {own.training.id}
        for status in ("submitted", "all"):
            html = client.get(f"/credentials/renewals/?status={status}").get_data(as_text=True)
            assert _ids(html, "data-renewal-id") == {own.renewal.id}


def test_each_teacher_sees_only_their_own_certificates_training_and_dashboard(client, sides):
    for own, other in (sides, sides[::-1]):
        for n, user in enumerate(own.teachers):
            factories.log_in(client, user)
            html = client.get("/credentials/mine").get_data(as_text=True)
            assert _ids(html, "data-credential-id") == ({own.credential.id} if n == 0 else set())
            assert _ids(html, "data-training-id") == ({own.training.id} if n == 0 else set())
            assert other.credential.number not in html and f"Topic{'B' if own is sides[0] else 'A'}" not in html
            profile = client.get("/staff/me").get_data(as_text=True)
            assert _ids(profile, "data-credential-id") == ({own.credential.id} if n == 0 else set())


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_roles_reach_no_list_or_queue(client, sides, role):
    own = sides[0]
    factories.log_in(client, own.teachers[0] if role == "teacher" else own.parent)
    for url in ("/credentials/", "/credentials/training/", "/credentials/renewals/", "/credentials/types/",
                f"/credentials/{own.credential.id}", f"/credentials/renewals/{own.renewal.id}"):
        assert client.get(url).status_code == 403, url


def test_the_profile_card_of_another_schools_teacher_is_out_of_reach(client, sides):
    own, other = sides
    factories.log_in(client, own.head)
    assert client.get(f"/staff/{other.staff[0].id}").status_code in (403, 404)
    html = client.get(f"/staff/{own.staff[0].id}").get_data(as_text=True)
    assert _ids(html, "data-credential-id") == {own.credential.id}
