"""The credentials pages in the browser's place: types, the list, recording, the credential page, correcting and
revoking; errors at the field with nothing written; a second press of a button changes nothing."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.credentials.models import Credential, CredentialDocument, CredentialType
from tests import factories
from tests.school.credentials.conftest import make_credential, make_type

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
