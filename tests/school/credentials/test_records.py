"""Credentials (certification periods): recording with the expiry computed from the type, date rules, inactive
types and departed staff refused, scope, corrections audited and refused on history, revocation."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.school.credentials import services
from app.school.credentials.models import Credential
from app.school.credentials.qualification import is_qualified
from tests import factories
from tests.school.credentials.conftest import TODAY, errors_of, make_credential

SEP1 = date(2026, 9, 1)



def _count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Credential))


@pytest.fixture
def admin_a(org):
    return factories.make_user("admin", unit=org.school_a, password=None)


def _record(catalogue, actor, *, staff=None, credential_type=None, **data):
    return services.record_credential(staff or catalogue.teacher_a, credential_type or catalogue.teach,
                                      data={"number": "T-2026-001", "issuer": "Education Bureau"} | data, actor=actor)


# --- recording ------------------------------------------------------------------------------------------------


def test_a_blank_expiry_is_computed_from_the_types_validity(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on="2026-09-01", expires_on="")
    assert credential.expires_on == date(2031, 8, 31)
    assert _record(catalogue, admin_a, credential_type=catalogue.safe, issued_on=SEP1).expires_on == date(2029, 8, 31)


def test_recording_is_audited(catalogue, admin_a, audit_events):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    event = audit_events("credential.recorded")[-1]
    assert event.subject_id == str(credential.id) and event.actor_id == admin_a.id
    assert event.changes["type"] == "TEACH" and event.changes["expires_on"] == "2031-08-31"
    assert event.changes["staff"] == catalogue.teacher_a.employee_number


def test_an_explicit_expiry_is_kept(catalogue, admin_a):
    assert _record(catalogue, admin_a, issued_on=SEP1, expires_on="2030-06-30").expires_on == date(2030, 6, 30)


def test_an_expiry_before_the_issue_date_is_refused(catalogue, admin_a):
    with pytest.raises(ValidationFailed) as bad:
        _record(catalogue, admin_a, issued_on="2026-09-01", expires_on="2026-08-31")
    assert "expires_on" in errors_of(bad) and _count() == 0


def test_a_one_day_credential_is_accepted(catalogue, admin_a):
    assert _record(catalogue, admin_a, issued_on=SEP1, expires_on=SEP1).expires_on == SEP1


def test_a_type_that_never_expires_refuses_an_expiry_date(catalogue, admin_a):
    with pytest.raises(ValidationFailed) as bad:
        _record(catalogue, admin_a, credential_type=catalogue.title, issued_on=SEP1, expires_on="2031-08-31")
    assert "does not expire" in errors_of(bad)["expires_on"]
    title = _record(catalogue, admin_a, credential_type=catalogue.title, issued_on=SEP1)
    assert title.expires_on is None


@pytest.mark.parametrize(("data", "field"), [
    ({"issued_on": ""}, "issued_on"),
    ({"issued_on": "2026-13-01"}, "issued_on"),
    ({"issued_on": "1900-01-01"}, "issued_on"),
    ({"issued_on": "2026-09-01", "expires_on": "soon"}, "expires_on"),
    ({"issued_on": "2026-09-01", "number": "N" * 61}, "number"),
    ({"issued_on": "2026-09-01", "issuer": "bad\x00issuer"}, "issuer"),
])
def test_bad_fields_are_reported_at_the_field(catalogue, admin_a, data, field):
    with pytest.raises(ValidationFailed) as bad:
        _record(catalogue, admin_a, **data)
    assert field in errors_of(bad) and _count() == 0


def test_an_inactive_type_is_refused(catalogue, admin_a):
    catalogue.safe.is_active = False
    with pytest.raises(ValidationFailed) as bad:
        _record(catalogue, admin_a, credential_type=catalogue.safe, issued_on=SEP1)
    assert bad.value.field == "type" and _count() == 0


def test_a_departed_staff_member_is_refused(catalogue, admin_a):
    catalogue.teacher_a.status = "departed"
    with pytest.raises(ValidationFailed, match="has left") as bad:
        _record(catalogue, admin_a, issued_on=SEP1)
    assert bad.value.field == "staff" and _count() == 0


def test_an_admin_of_school_b_cannot_record_for_a_teacher_of_school_a(catalogue, org):
    admin_b = factories.make_user("admin", unit=org.school_b, password=None)
    with pytest.raises(NotAllowed):
        _record(catalogue, admin_b, issued_on=SEP1)
    assert _count() == 0


@pytest.mark.parametrize("role", ["head", "teacher"])
def test_only_admins_record_credentials(catalogue, org, role):
    user = factories.make_user(role, unit=org.school_a, password=None)
    with pytest.raises(NotAllowed):
        _record(catalogue, user, issued_on=SEP1)


def test_a_teacher_cannot_record_a_credential_for_themself(catalogue):
    with pytest.raises(NotAllowed):
        _record(catalogue, catalogue.teacher_a.user, issued_on=SEP1)


def test_a_district_admin_records_for_any_school(catalogue, org):
    district_admin = factories.make_user("admin", unit=org.district, password=None)
    assert _record(catalogue, district_admin, staff=catalogue.teacher_b, issued_on=SEP1).staff_id \
        == catalogue.teacher_b.id


# --- corrections --------------------------------------------------------------------------------------------


def test_a_correction_is_audited_with_what_changed(catalogue, admin_a, audit_events):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    services.correct_credential(credential, data={"number": "T-2026-002", "issuer": "Education Bureau",
                                                  "issued_on": "2026-09-01", "expires_on": ""},
                                actor=admin_a, expected_version=credential.version)
    assert credential.number == "T-2026-002"
    assert audit_events("credential.corrected")[-1].changes == {"number": ["T-2026-001", "T-2026-002"]}


def test_a_correction_of_the_issue_date_recomputes_a_blank_expiry(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    services.correct_credential(credential, data={"issued_on": "2026-10-01"}, actor=admin_a)
    assert credential.expires_on == date(2031, 9, 30)


def test_a_correction_with_bad_dates_changes_nothing(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    with pytest.raises(ValidationFailed):
        services.correct_credential(credential, data={"issued_on": "2026-09-01", "expires_on": "2026-01-01"},
                                    actor=admin_a)
    assert credential.expires_on == date(2031, 8, 31)


def test_a_correction_based_on_an_old_version_is_a_conflict(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    stale = credential.version
    services.correct_credential(credential, data={"issued_on": SEP1, "number": "A"}, actor=admin_a,
                                expected_version=stale)
    _db.session.flush()
    with pytest.raises(Conflict, match="reload the page"):
        services.correct_credential(credential, data={"issued_on": SEP1, "number": "B"}, actor=admin_a,
                                    expected_version=stale)
    assert credential.number == "A"


def test_a_revoked_credential_cannot_be_corrected(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    services.revoke_credential(credential, reason="Certificate withdrawn by the bureau", actor=admin_a)
    with pytest.raises(Conflict, match="history"):
        services.correct_credential(credential, data={"issued_on": SEP1, "number": "X"}, actor=admin_a)


def test_a_renewed_credential_cannot_be_corrected(catalogue, admin_a):
    old = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(2021, 9, 1))
    new = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(2026, 9, 1))
    old.superseded_by_id = new.id
    _db.session.flush()
    with pytest.raises(Conflict, match="history"):
        services.correct_credential(old, data={"issued_on": "2021-09-01", "number": "X"}, actor=admin_a)


def test_an_admin_of_another_school_cannot_correct(catalogue, org, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    admin_b = factories.make_user("admin", unit=org.school_b, password=None)
    with pytest.raises(NotAllowed):
        services.correct_credential(credential, data={"issued_on": SEP1}, actor=admin_b)


# --- revocation ---------------------------------------------------------------------------------------------


def test_revoking_needs_a_reason(catalogue, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    with pytest.raises(ValidationFailed) as bad:
        services.revoke_credential(credential, reason="  ", actor=admin_a)
    assert "reason" in errors_of(bad) and credential.revoked_at is None


def test_revoking_twice_is_harmless(catalogue, admin_a, audit_events):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    services.revoke_credential(credential, reason="Failed background check", actor=admin_a)
    first = credential.revoked_at
    services.revoke_credential(credential, reason="Pressed again", actor=admin_a)
    assert credential.revoked_at == first and credential.revoked_reason == "Failed background check"
    events = audit_events("credential.revoked")
    assert len(events) == 1 and events[0].changes == {"reason": "Failed background check"}


def test_a_revoked_credential_no_longer_qualifies(catalogue, admin_a):
    _record(catalogue, admin_a, credential_type=catalogue.safe, issued_on=SEP1)
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)
    services.revoke_credential(credential, reason="Failed background check", actor=admin_a)
    answer = is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)
    assert not answer and [t.code for t in answer.missing] == ["TEACH"]


def test_an_admin_of_another_school_cannot_revoke(catalogue, org, admin_a):
    credential = _record(catalogue, admin_a, issued_on=SEP1)
    admin_b = factories.make_user("admin", unit=org.school_b, password=None)
    with pytest.raises(NotAllowed):
        services.revoke_credential(credential, reason="Because", actor=admin_b)
    assert credential.revoked_at is None
