"""Teachers' pages: My certificates, one's own credential, adding training, starting and withdrawing a renewal;
reviewers' queues: verifying training, approving and rejecting renewals; the teacher dashboard."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.school.credentials.models import (
    Credential,
    CredentialDocument,
    Renewal,
    RenewalStatus,
    TrainingRecord,
    TrainingStatus,
)
from tests import factories
from tests.school.credentials.conftest import make_credential, make_training

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _keep() -> None:
    _db.session.commit()


def _ids(html: str, attribute: str) -> set[int]:
    return {int(n) for n in re.findall(rf'{attribute}="(\d+)"', html)}


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _today() -> date:
    from app.school.staff.queries import local_today

    return local_today()


@pytest.fixture
def expiring(catalogue):
    """Teacher A's teaching certificate, last valid day in 28 days."""
    today = _today()
    credential = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(today.year - 5, 1, 1),
                                 expires_on=today + timedelta(days=28), number="T-1")
    _keep()
    return credential


@pytest.fixture
def teacher(client, catalogue):
    factories.log_in(client, catalogue.teacher_a.user)
    return catalogue.teacher_a.user


# --- My certificates ----------------------------------------------------------------------------------------


def test_my_certificates_show_countdown_hours_and_renew_button(client, catalogue, expiring, teacher):
    make_training(catalogue.teacher_a, "312", on=expiring.issued_on + timedelta(days=30))
    make_training(catalogue.teacher_a, "8", on=_today() - timedelta(days=3), status=TrainingStatus.SUBMITTED,
                  topic="Waiting")
    _keep()
    html = client.get("/credentials/mine").get_data(as_text=True)
    assert _ids(html, "data-credential-id") == {expiring.id}
    assert "expires in 28 days" in html and "312 / 360 hours" in html and "Expiring" in html
    assert f"/credentials/mine/{expiring.id}/renew" in html
    assert "Awaiting verification" in html and "Waiting" in html


def test_my_certificates_name_missing_required_credentials(client, catalogue, teacher):
    school_class = factories.make_class(catalogue.school_a)
    factories.make_assignment(school_class, catalogue.teacher_a, subject=catalogue.math, weekly_periods=4)
    _keep()
    html = client.get("/credentials/mine").get_data(as_text=True)
    assert 'data-testid="missing"' in html and "Teaching certificate" in html and "Safeguarding check" in html
    assert "No certificates recorded yet" in html


def test_teacher_dashboard_lists_upcoming_expiries(client, catalogue, expiring, teacher):
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=_today() - timedelta(days=30), number="S-far")
    _keep()
    html = client.get("/").get_data(as_text=True)
    assert 'data-testid="expiries"' in html and "Teaching certificate" in html and "expires in 28 days" in html
    assert "Safeguarding check" not in html


def test_own_credential_page_and_my_profile_card(client, catalogue, expiring, teacher):
    html = client.get(f"/credentials/mine/{expiring.id}").get_data(as_text=True)
    assert "expires in 28 days" in html and "Renew" in html and 'data-testid="reminders"' not in html
    assert client.get(f"/credentials/{expiring.id}").status_code == 403  # the admin page is not theirs
    profile = client.get("/staff/me").get_data(as_text=True)
    assert _ids(profile, "data-credential-id") == {expiring.id}


# --- training -----------------------------------------------------------------------------------------------


def test_teacher_adds_training_with_evidence_once_even_if_pressed_twice(client, catalogue, teacher):
    _keep()
    for _press in range(2):
        response = client.post("/credentials/mine/training/new", data={
            "completed_on": "2026-10-10", "provider": "District institute", "topic": "Assessment", "hours": "12.5",
            "document": (io.BytesIO(PDF), "attendance.pdf")}, content_type="multipart/form-data")
        assert response.status_code == 302
    training = _db.session.scalars(sa.select(TrainingRecord)).one()
    assert training.hours == 12.5 and training.status == TrainingStatus.SUBMITTED
    assert _count(CredentialDocument) == 1
    assert "Assessment" in client.get("/credentials/mine").get_data(as_text=True)


def test_training_form_errors_at_the_field_write_nothing(client, catalogue, teacher):
    _keep()
    response = client.post("/credentials/mine/training/new", data={
        "completed_on": (_today() + timedelta(days=3)).isoformat(), "provider": "X", "topic": "Y", "hours": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "cannot be in the future" in html and "more than 0" in html
    response = client.post("/credentials/mine/training/new", data={
        "completed_on": "2026-10-10", "provider": "X", "topic": "Y", "hours": "3",
        "document": (io.BytesIO(b"<html>hi</html>"), "evil.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Upload a PDF, PNG or JPEG" in response.get_data(as_text=True)
    assert _count(TrainingRecord) == 0 and _count(CredentialDocument) == 0


def test_reviewer_verifies_and_rejects_training_in_scope(client, catalogue, login_as, org):
    mine = make_training(catalogue.teacher_a, "6", on=date(2026, 9, 1), status=TrainingStatus.SUBMITTED)
    other = make_training(catalogue.teacher_a2, "4", on=date(2026, 9, 2), status=TrainingStatus.SUBMITTED)
    foreign = make_training(catalogue.teacher_b, "5", on=date(2026, 9, 3), status=TrainingStatus.SUBMITTED)
    _keep()
    login_as("head", unit=org.school_a)
    _keep()  # the reviewer survives a view\'s rollback
    html = client.get("/credentials/training/").get_data(as_text=True)
    assert _ids(html, "data-training-id") == {mine.id, other.id}
    for _press in range(2):
        assert client.post(f"/credentials/training/{mine.id}/verify",
                           data={"version": mine.version}).status_code == 302
    response = client.post(f"/credentials/training/{other.id}/reject", data={"reason": "", "version": other.version})
    assert response.status_code == 422
    assert client.post(f"/credentials/training/{other.id}/reject",
                       data={"reason": "No certificate", "version": other.version}).status_code == 302
    assert client.post(f"/credentials/training/{foreign.id}/verify", data={"version": 1}).status_code == 403
    _db.session.expire_all()
    assert (mine.status, other.status, foreign.status) == ("verified", "rejected", "submitted")
    assert other.rejection_reason == "No certificate"
    assert _ids(client.get("/credentials/training/").get_data(as_text=True), "data-training-id") == set()


# --- renewals -----------------------------------------------------------------------------------------------


def test_teacher_starts_a_renewal_with_evidence_once_and_may_withdraw(client, catalogue, expiring, teacher):
    page = client.get(f"/credentials/mine/{expiring.id}/renew").get_data(as_text=True)
    assert "0 / 360 hours" in page
    for _press in range(2):
        response = client.post(f"/credentials/mine/{expiring.id}/renew", data={
            "note": "Please renew", "document": (io.BytesIO(PDF), "evidence.pdf")}, content_type="multipart/form-data")
        assert response.status_code == 302
    renewal = _db.session.scalars(sa.select(Renewal)).one()
    assert renewal.status == RenewalStatus.SUBMITTED and _count(CredentialDocument) == 1
    html = client.get(f"/credentials/mine/{expiring.id}").get_data(as_text=True)
    assert "Renewal under review" in html and "evidence.pdf" in html
    for _press in range(2):
        assert client.post(f"/credentials/renewals/{renewal.id}/withdraw").status_code == 302
    _db.session.refresh(renewal)
    assert renewal.status == RenewalStatus.WITHDRAWN


def test_a_credential_that_never_expires_cannot_be_renewed(client, catalogue, teacher):
    title = make_credential(catalogue.teacher_a, catalogue.title, issued_on=date(2020, 1, 1))
    _keep()
    response = client.post(f"/credentials/mine/{title.id}/renew", data={"note": ""})
    assert response.status_code == 422 and "needs no renewal" in response.get_data(as_text=True)
    assert _count(Renewal) == 0


def _renewal(catalogue, expiring, hours: str) -> Renewal:
    make_training(catalogue.teacher_a, hours, on=expiring.issued_on + timedelta(days=10))
    renewal = Renewal(credential=expiring, status=RenewalStatus.SUBMITTED, hours_required=360)
    _db.session.add(renewal)
    _keep()
    return renewal


def test_head_approves_a_renewal_showing_the_new_expiry(client, catalogue, expiring, login_as, org):
    renewal = _renewal(catalogue, expiring, "360")
    login_as("head", unit=org.school_a)
    _keep()  # the reviewer survives a view\'s rollback
    queue = client.get("/credentials/renewals/").get_data(as_text=True)
    assert _ids(queue, "data-renewal-id") == {renewal.id}
    page = client.get(f"/credentials/renewals/{renewal.id}").get_data(as_text=True)
    new_end = date(expiring.expires_on.year + 5, expiring.expires_on.month, expiring.expires_on.day)
    assert "360 / 360 hours" in page and 'data-testid="new-expiry"' in page
    for _press in range(2):
        response = client.post(f"/credentials/renewals/{renewal.id}/approve", data={"version": renewal.version})
        assert response.status_code == 302
    _db.session.expire_all()
    assert renewal.status == RenewalStatus.APPROVED and renewal.new_credential.expires_on == new_end
    assert _count(Credential) == 2 and expiring.superseded_by_id == renewal.new_credential_id
    assert _ids(client.get("/credentials/renewals/").get_data(as_text=True), "data-renewal-id") == set()


def test_approval_is_refused_while_the_hours_rule_is_not_met(client, catalogue, expiring, login_as, org):
    renewal = _renewal(catalogue, expiring, "100")
    login_as("admin", unit=org.school_a)
    _keep()  # the reviewer survives a view\'s rollback
    response = client.post(f"/credentials/renewals/{renewal.id}/approve", data={"version": renewal.version},
                           follow_redirects=True)
    assert "The rule is not met: 100.0 of 360.0" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert renewal.status == RenewalStatus.SUBMITTED and _count(Credential) == 1


def test_rejecting_needs_a_reason_at_the_field(client, catalogue, expiring, login_as, org):
    renewal = _renewal(catalogue, expiring, "10")
    login_as("admin", unit=org.school_a)
    _keep()  # the reviewer survives a view\'s rollback
    response = client.post(f"/credentials/renewals/{renewal.id}/reject", data={"reason": "",
                                                                               "version": renewal.version})
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    for _press in range(2):
        response = client.post(f"/credentials/renewals/{renewal.id}/reject",
                               data={"reason": "Not enough hours", "version": renewal.version})
        assert response.status_code == 302
    _db.session.expire_all()
    assert renewal.status == RenewalStatus.REJECTED and renewal.decision_reason == "Not enough hours"


def test_renewals_of_another_school_are_out_of_reach(client, catalogue, login_as, org):
    foreign = make_credential(catalogue.teacher_b, catalogue.teach, issued_on=date(2022, 1, 1))
    renewal = Renewal(credential=foreign, status=RenewalStatus.SUBMITTED)
    _db.session.add(renewal)
    _keep()
    login_as("head", unit=org.school_a)
    _keep()  # the reviewer survives a view\'s rollback
    assert _ids(client.get("/credentials/renewals/?status=all").get_data(as_text=True), "data-renewal-id") == set()
    assert client.get(f"/credentials/renewals/{renewal.id}").status_code == 403
    assert client.post(f"/credentials/renewals/{renewal.id}/approve", data={"version": 1}).status_code == 403


def test_a_renewed_period_still_counts_until_its_successor_starts(client, catalogue, expiring, teacher):
    school_class = factories.make_class(catalogue.school_a)
    factories.make_assignment(school_class, catalogue.teacher_a, subject=catalogue.math, weekly_periods=4)
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=_today() - timedelta(days=10), number="S-1")
    successor = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=expiring.expires_on + timedelta(days=1),
                                number="T-2")
    expiring.superseded_by_id = successor.id
    _keep()
    html = client.get("/credentials/mine").get_data(as_text=True)
    assert 'data-testid="missing"' not in html and _ids(html, "data-credential-id") >= {successor.id}
