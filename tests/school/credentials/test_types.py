"""Credential types: field rules reported by field, unique codes, only district administrators configure them,
changes audited with what changed, and a change based on an old view refused."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.school.credentials import services
from app.school.credentials.models import CredentialType
from tests import factories
from tests.school.credentials.conftest import errors_of


def _data(**overrides) -> dict:
    data = {"code": "teach", "name": "Teaching certificate", "validity_years": "5", "grace_days": "0",
            "reminder_offsets": "90, 30, 7", "renewal_hours": "360", "required_for": "teaching",
            "grade_min": "", "grade_max": "", "is_active": True}
    return data | overrides



@pytest.fixture
def district_admin(org):
    return factories.make_user("admin", unit=org.district, password=None)


def test_a_district_admin_creates_a_type_with_clean_values(district_admin, audit_events):
    math = factories.make_subject("MATH", "Maths")
    created = services.save_type(None, data=_data(), subject_ids=[str(math.id)], actor=district_admin)
    assert (created.code, created.validity_years, created.reminder_offsets) == ("TEACH", 5, "90,30,7")
    assert created.renewal_hours == Decimal("360.0") and isinstance(created.renewal_hours, Decimal)
    assert [s.code for s in created.subjects] == ["MATH"]
    event = audit_events("credential_type.created")[-1]
    assert event.subject_id == str(created.id) and event.actor_id == district_admin.id
    assert event.changes["code"] == "TEACH" and event.changes["subjects"] == ["MATH"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"code": "bad code!"}, "code"),
    ({"code": ""}, "code"),
    ({"code": "X" * 21}, "code"),
    ({"name": "  "}, "name"),
    ({"reminder_offsets": "90,x"}, "reminder_offsets"),
    ({"reminder_offsets": ""}, "reminder_offsets"),
    ({"reminder_offsets": "0"}, "reminder_offsets"),
    ({"reminder_offsets": "731"}, "reminder_offsets"),
    ({"reminder_offsets": "-7"}, "reminder_offsets"),
    ({"reminder_offsets": "1,2,3,4,5,6,7"}, "reminder_offsets"),
    ({"validity_years": "0"}, "validity_years"),
    ({"validity_years": "51"}, "validity_years"),
    ({"validity_years": "five"}, "validity_years"),
    ({"grace_days": "366"}, "grace_days"),
    ({"grace_days": "-1"}, "grace_days"),
    ({"renewal_hours": "0"}, "renewal_hours"),
    ({"renewal_hours": "12.25"}, "renewal_hours"),
    ({"renewal_hours": "lots"}, "renewal_hours"),
    ({"required_for": "everyone"}, "required_for"),
    ({"grade_min": "0"}, "grade_min"),
    ({"grade_max": "13"}, "grade_max"),
    ({"grade_min": "9", "grade_max": "7"}, "grade_max"),
    ({"validity_years": "", "renewal_hours": "360"}, "renewal_hours"),
])
def test_bad_fields_are_reported_at_the_field(district_admin, overrides, field):
    with pytest.raises(ValidationFailed) as bad:
        services.save_type(None, data=_data(**overrides), actor=district_admin)
    assert field in errors_of(bad)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(CredentialType)) == 0


def test_every_bad_field_is_reported_at_once(district_admin):
    with pytest.raises(ValidationFailed) as bad:
        services.save_type(None, data=_data(code="?", name="", reminder_offsets="90,x", grade_min="9",
                                            grade_max="7"), actor=district_admin)
    assert {"code", "name", "reminder_offsets", "grade_max"} <= set(errors_of(bad))


def test_offsets_are_cleaned_to_distinct_days_largest_first():
    assert services.clean_offsets("7, 30，90, 30") == ("90,30,7", None)
    assert services.clean_offsets("90,x")[1] is not None


def test_a_type_that_never_expires_and_needs_no_hours_is_accepted(district_admin):
    title = services.save_type(None, data=_data(code="TITLE", name="Professional title", validity_years="",
                                                renewal_hours="", required_for="none"), actor=district_admin)
    assert title.validity_years is None and title.renewal_hours is None and title.subjects == []


def test_a_duplicate_code_is_a_conflict_at_the_code_field_whatever_its_case(district_admin):
    services.save_type(None, data=_data(), actor=district_admin)
    with pytest.raises(Conflict) as taken:
        services.save_type(None, data=_data(code=" Teach ", name="Other"), actor=district_admin)
    assert taken.value.field == "code" and "TEACH" in taken.value.message


def test_a_school_admin_may_not_configure_types(org):
    school_admin = factories.make_user("admin", unit=org.school_a, password=None)
    with pytest.raises(NotAllowed):
        services.save_type(None, data=_data(), actor=school_admin)
    assert services.may_configure(school_admin) is False


@pytest.mark.parametrize("role", ["head", "teacher"])
def test_heads_and_teachers_may_not_configure_types_even_at_district_level(org, role):
    user = factories.make_user(role, unit=org.district, password=None)
    with pytest.raises(NotAllowed):
        services.save_type(None, data=_data(), actor=user)


def test_the_system_may_configure_types(org):
    assert services.save_type(None, data=_data(), actor="system").code == "TEACH"


def test_a_change_is_audited_with_before_and_after(district_admin, audit_events):
    math = factories.make_subject("MATH", "Maths")
    teach = services.save_type(None, data=_data(), subject_ids=[math.id], actor=district_admin)
    services.save_type(teach, data=_data(grace_days="30", renewal_hours="240"), subject_ids=[],
                       actor=district_admin, expected_version=teach.version)
    assert teach.grace_days == 30 and teach.renewal_hours == Decimal("240") and teach.subjects == []
    changes = audit_events("credential_type.updated")[-1].changes
    assert changes == {"grace_days": [0, 30], "renewal_hours": ["360.0", "240.0"], "subjects": [["MATH"], []]}


def test_a_change_keeps_its_own_code(district_admin):
    teach = services.save_type(None, data=_data(), actor=district_admin)
    services.save_type(teach, data=_data(name="Teacher's certificate"), actor=district_admin)
    assert teach.name == "Teacher's certificate"


def test_subjects_are_kept_only_for_a_teaching_type(district_admin):
    math = factories.make_subject("MATH", "Maths")
    safe = services.save_type(None, data=_data(code="SAFE", required_for="all", renewal_hours=""),
                              subject_ids=[math.id], actor=district_admin)
    assert safe.subjects == []


def test_a_change_based_on_an_old_version_is_a_conflict(district_admin):
    teach = services.save_type(None, data=_data(), actor=district_admin)
    stale = teach.version
    services.save_type(teach, data=_data(grace_days="10"), actor=district_admin, expected_version=stale)
    _db.session.flush()
    with pytest.raises(Conflict, match="reload the page"):
        services.save_type(teach, data=_data(grace_days="20"), actor=district_admin, expected_version=stale)
    assert teach.grace_days == 10


def test_a_change_of_validity_does_not_rewrite_existing_credentials(district_admin, org):
    from datetime import date

    from tests.school.credentials.conftest import make_credential

    teach = services.save_type(None, data=_data(), actor=district_admin)
    staff = factories.make_staff(org.school_a)
    credential = make_credential(staff, teach, issued_on=date(2026, 9, 1))
    services.save_type(teach, data=_data(validity_years="3"), actor=district_admin)
    _db.session.refresh(credential)
    assert credential.expires_on == date(2031, 8, 31)
