"""The credentials pages in the browser's place: types, the list, recording, the credential page, correcting and
revoking; errors at the field with nothing written; a second press of a button changes nothing."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.credentials.models import Credential, CredentialDocument, CredentialType
from tests import factories
from tests.school.credentials.conftest import make_credential

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _keep() -> None:
    """Commit the setup (inside the test's outer transaction) so a view's rollback discards only its own work."""
    _db.session.commit()


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _today() -> date:
    from app.school.staff.queries import local_today

    return local_today()


@pytest.fixture
def admin(login_as, org):
    return login_as("admin", unit=org.school_a)


@pytest.fixture
def district_admin(login_as, org):
    return login_as("admin", unit=org.district)


# --- credential types -------------------------------------------------------------------------------------


def test_types_page_lists_the_catalogue_and_only_district_admins_may_edit(client, catalogue, admin):
    html = client.get("/credentials/types/").get_data(as_text=True)
    assert _ids(html, "data-type-id") == {catalogue.teach.id, catalogue.safe.id, catalogue.first_aid.id,
                                          catalogue.title.id}
    assert "360 training hours" in html and "New credential type" not in html
    assert client.get("/credentials/types/new").status_code == 403
    assert client.get(f"/credentials/types/{catalogue.teach.id}/edit").status_code == 403


def test_empty_type_list_says_what_to_do(client, org, district_admin):
    html = client.get("/credentials/types/").get_data(as_text=True)
    assert "No credential types yet" in html and "Add the first credential type" in html


def test_district_admin_creates_and_edits_a_type(client, org, district_admin):
    maths = factories.make_subject("MATH", "Maths")
    _keep()
    response = client.post("/credentials/types/new", data={
        "code": "TEACH", "name": "Teaching certificate", "validity_years": "5", "grace_days": "0",
        "reminder_offsets": "90, 30, 7", "renewal_hours": "360", "required_for": "teaching",
        "subjects": [str(maths.id)], "grade_min": "", "grade_max": "", "is_active": "y"})
    assert response.status_code == 302
    created = _db.session.scalar(sa.select(CredentialType).where(CredentialType.code == "TEACH"))
    assert created.reminder_offsets == "90,30,7" and [s.code for s in created.subjects] == ["MATH"]
    response = client.post(f"/credentials/types/{created.id}/edit", data={
        "code": "TEACH", "name": "Teacher's certificate", "validity_years": "5", "grace_days": "30",
        "reminder_offsets": "60,7", "renewal_hours": "360", "required_for": "teaching", "grade_min": "",
        "grade_max": "", "is_active": "y", "version": str(created.version)})
    assert response.status_code == 302
    _db.session.refresh(created)
    assert created.name == "Teacher's certificate" and created.grace_days == 30 and created.subjects == []


def test_type_form_shows_errors_at_the_field_and_writes_nothing(client, catalogue, district_admin):
    _keep()
    before = _count(CredentialType)
    response = client.post("/credentials/types/new", data={
        "code": "TEACH", "name": "Again", "validity_years": "", "reminder_offsets": "soon", "renewal_hours": "12",
        "required_for": "all"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "is-invalid" in html and "separated by commas" in html
    assert _count(CredentialType) == before
    response = client.post("/credentials/types/new", data={
        "code": "TEACH", "name": "Again", "validity_years": "3", "reminder_offsets": "30", "required_for": "all"})
    assert response.status_code == 422 and "already used" in response.get_data(as_text=True)
    assert _count(CredentialType) == before


# --- the list ---------------------------------------------------------------------------------------------


def _holdings(catalogue, today):
    """Teacher A: a teaching certificate expiring in 28 days; teacher A2: an expired safeguarding check;
    teacher B (school B): a valid one."""
    expiring = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=today - timedelta(days=5 * 365 - 28),
                               expires_on=today + timedelta(days=28), number="T-1")
    expired = make_credential(catalogue.teacher_a2, catalogue.safe, issued_on=date(2022, 1, 1),
                              expires_on=today - timedelta(days=10), number="S-1")
    other = make_credential(catalogue.teacher_b, catalogue.safe, issued_on=today - timedelta(days=100), number="S-2")
    _keep()
    return expiring, expired, other


def test_list_shows_the_scope_with_status_and_countdown(client, catalogue, admin):
    expiring, expired, other = _holdings(catalogue, _today())
    html = client.get("/credentials/").get_data(as_text=True)
    assert _ids(html, "data-credential-id") == {expiring.id, expired.id}
    assert "expires in 28 days" in html and "expired 10 days ago" in html
    assert "Yang" not in html


@pytest.mark.parametrize(("status", "expected"), [("expiring", "expiring"), ("expired", "expired"),
                                                  ("valid", None), ("all", "both")])
def test_list_filters_by_status(client, catalogue, admin, status, expected):
    expiring, expired, _other = _holdings(catalogue, _today())
    wanted = {"expiring": {expiring.id}, "expired": {expired.id}, None: set(), "both": {expiring.id, expired.id}}
    html = client.get(f"/credentials/?status={status}").get_data(as_text=True)
    assert _ids(html, "data-credential-id") == wanted[expected]


def test_list_filters_by_type_school_and_search(client, catalogue, admin):
    expiring, expired, _other = _holdings(catalogue, _today())
    assert _ids(client.get(f"/credentials/?type={catalogue.safe.id}").get_data(as_text=True),
                "data-credential-id") == {expired.id}
    assert _ids(client.get("/credentials/?q=emily").get_data(as_text=True), "data-credential-id") == {expired.id}
    number = catalogue.teacher_a.employee_number.lower()
    assert _ids(client.get(f"/credentials/?q={number}").get_data(as_text=True), "data-credential-id") == {expiring.id}
    assert _ids(client.get(f"/credentials/?school={catalogue.school_b.id}").get_data(as_text=True),
                "data-credential-id") == set()


def test_list_paginates(client, catalogue, admin):
    for n in range(30):
        make_credential(catalogue.teacher_a, catalogue.title, issued_on=date(2020, 1, 1) + timedelta(days=n),
                        number=f"P-{n}")
    _keep()
    first = client.get("/credentials/").get_data(as_text=True)
    assert len(_ids(first, "data-credential-id")) == 25 and "30 in all" in first
    assert len(_ids(client.get("/credentials/?page=2").get_data(as_text=True), "data-credential-id")) == 5


def test_empty_list_says_what_to_do(client, catalogue, admin):
    html = client.get("/credentials/").get_data(as_text=True)
    assert "No credential has been recorded" in html and "Record the first one" in html


# --- recording ----------------------------------------------------------------------------------------------


def test_admin_records_a_credential_from_the_list_with_computed_expiry(client, catalogue, admin):
    _keep()
    data = {"school": catalogue.school_a.id, "employee_number": catalogue.teacher_a.employee_number,
            "type": catalogue.teach.id, "number": "2021-440", "issuer": "Bureau", "issued_on": "2021-09-01"}
    response = client.post("/credentials/new", data=data)
    assert response.status_code == 302
    credential = _db.session.scalar(sa.select(Credential).where(Credential.number == "2021-440"))
    assert credential.expires_on == date(2026, 8, 31) and response.location.endswith(f"/credentials/{credential.id}")
    assert client.post("/credentials/new", data=data).status_code == 302  # a second press records nothing new
    assert _count(Credential) == 1


def test_recording_for_an_unknown_number_or_bad_dates_shows_field_errors(client, catalogue, admin):
    _keep()
    response = client.post("/credentials/new", data={
        "school": catalogue.school_a.id, "employee_number": "NOPE", "type": catalogue.teach.id,
        "issued_on": "2021-09-01"})
    assert response.status_code == 422 and "Nobody at School A has this employee number" in response.get_data(
        as_text=True)
    response = client.post(f"/credentials/staff/{catalogue.teacher_a.id}/new", data={
        "type": catalogue.title.id, "issued_on": "2021-09-01", "expires_on": "2030-01-01"})
    assert response.status_code == 422 and "does not expire" in response.get_data(as_text=True)
    response = client.post(f"/credentials/staff/{catalogue.teacher_a.id}/new", data={
        "type": catalogue.safe.id, "issued_on": "2021-09-01", "expires_on": "2020-01-01"})
    assert response.status_code == 422 and "cannot be before the date of issue" in response.get_data(as_text=True)
    assert _count(Credential) == 0


def test_recording_for_another_schools_staff_is_refused(client, catalogue, admin):
    _keep()
    assert client.get(f"/credentials/staff/{catalogue.teacher_b.id}/new").status_code == 403
    response = client.post("/credentials/new", data={
        "school": catalogue.school_b.id, "employee_number": catalogue.teacher_b.employee_number,
        "type": catalogue.safe.id, "issued_on": "2025-01-01"})
    assert response.status_code in (403, 422) and _count(Credential) == 0  # school B is not even a choice


def test_recording_from_the_profile_with_a_scan(client, catalogue, admin, app, tmp_path):
    _keep()
    response = client.post(f"/credentials/staff/{catalogue.teacher_a.id}/new", data={
        "type": catalogue.safe.id, "issued_on": "2025-01-01", "document": (io.BytesIO(PDF), "scan.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    credential = _db.session.scalar(sa.select(Credential))
    assert [d.original_name for d in _db.session.scalars(sa.select(CredentialDocument))] == ["scan.pdf"]
    assert credential.expires_on == date(2027, 12, 31)


def test_profile_card_lists_the_persons_credentials(client, catalogue, admin):
    expiring, _expired, _other = _holdings(catalogue, _today())
    html = client.get(f"/staff/{catalogue.teacher_a.id}").get_data(as_text=True)
    assert 'data-testid="profile-credentials"' in html and _ids(html, "data-credential-id") == {expiring.id}
    assert f"/credentials/staff/{catalogue.teacher_a.id}/new" in html


# --- the credential page, correcting, revoking --------------------------------------------------------------


def test_credential_page_shows_status_countdown_history_and_reminders(client, catalogue, admin):
    from app.school.credentials.models import CredentialReminder

    expiring, _expired, _other = _holdings(catalogue, _today())
    older = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(2016, 11, 4), number="T-0")
    older.superseded_by_id = expiring.id
    _db.session.add(CredentialReminder(credential_id=expiring.id, offset_days=30, expires_on=expiring.expires_on,
                                       sent_on=_today() - timedelta(days=2), recipients=2))
    _keep()
    html = client.get(f"/credentials/{expiring.id}").get_data(as_text=True)
    assert "Expiring" in html and "expires in 28 days" in html
    assert f"/credentials/{older.id}" in html  # the earlier period is listed
    assert "30 days before expiry" in html and 'data-testid="reminders"' in html
    assert "0 / 360 hours" in html


def test_correct_and_revoke_with_errors_at_the_field(client, catalogue, admin):
    expiring, _expired, _other = _holdings(catalogue, _today())
    url = f"/credentials/{expiring.id}"
    response = client.post(url + "/edit", data={"number": "T-1b", "issued_on": "2021-01-01", "expires_on": "2020-01-01",
                                                "version": expiring.version})
    assert response.status_code == 422 and "cannot be before the date of issue" in response.get_data(as_text=True)
    response = client.post(url + "/edit", data={"number": "T-1b", "issued_on": expiring.issued_on.isoformat(),
                                                "expires_on": expiring.expires_on.isoformat(),
                                                "version": expiring.version})
    assert response.status_code == 302
    _db.session.refresh(expiring)
    version = expiring.version
    response = client.post(url + "/revoke", data={"reason": "", "version": version})
    assert response.status_code == 422
    for _press in range(2):  # a second press changes nothing
        response = client.post(url + "/revoke", data={"reason": "Forged", "version": version})
        assert response.status_code == 302
    _db.session.refresh(expiring)
    assert expiring.number == "T-1b" and expiring.revoked_reason == "Forged"
    actions = _db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.subject_id == str(expiring.id),
                                                                     AuditEvent.action.like("credential.%"))).all()
    assert actions.count("credential.revoked") == 1
    assert "Revoked" in client.get(url).get_data(as_text=True)


def test_a_stale_correction_is_refused_with_a_message(client, catalogue, admin):
    expiring, _expired, _other = _holdings(catalogue, _today())
    response = client.post(f"/credentials/{expiring.id}/edit", data={
        "number": "X", "issued_on": expiring.issued_on.isoformat(), "version": expiring.version - 1})
    assert response.status_code == 422 and "Someone else changed this record" in response.get_data(as_text=True)


def test_heads_read_but_do_not_manage(client, catalogue, login_as, org):
    expiring, _expired, _other = _holdings(catalogue, _today())
    login_as("head", unit=org.school_a)
    html = client.get(f"/credentials/{expiring.id}").get_data(as_text=True)
    assert "Correct" not in html and "Revoke" not in html
    assert client.get(f"/credentials/{expiring.id}/edit").status_code == 403
    assert client.get("/credentials/new").status_code == 403


def test_text_typed_by_people_renders_escaped(client, catalogue, admin):
    credential = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2025, 1, 1),
                                 number="<script>alert(1)</script>")
    credential.note = "{{7*7}} O'Hara ねこ"
    _keep()
    for url in ("/credentials/", f"/credentials/{credential.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    html = client.get(f"/credentials/{credential.id}").get_data(as_text=True)
    assert "{{7*7}}" in html and "49" not in html.split("{{7*7}}")[0][-20:] and "ねこ" in html
