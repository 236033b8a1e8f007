"""Training records (CPD hours): what a teacher may enter (dates, hours as Decimal with one decimal place),
who verifies or rejects them, and that a second press changes nothing."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.school.credentials import services
from app.school.credentials.models import TrainingRecord, TrainingStatus
from tests import factories
from tests.school.credentials.conftest import TODAY, errors_of


def _count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(TrainingRecord))


def _submit(catalogue, *, actor=None, staff=None, **data):
    staff = staff or catalogue.teacher_a
    values = {"completed_on": TODAY.isoformat(), "provider": "District institute", "topic": "Assessment",
              "hours": "12"} | data
    return services.submit_training(staff, data=values, actor=actor or staff.user, today=TODAY)


@pytest.fixture
def admin_a(org):
    return factories.make_user("admin", unit=org.school_a, password=None)


# --- entering ---------------------------------------------------------------------------------------------


def test_a_teacher_records_their_own_training_and_it_awaits_verification(catalogue, audit_events):
    training = _submit(catalogue)
    assert training.status == TrainingStatus.SUBMITTED and training.created_by_id == catalogue.teacher_a.user_id
    event = audit_events("training.submitted")[-1]
    assert event.actor_id == catalogue.teacher_a.user_id and event.changes["hours"] == "12.0"


def test_a_future_date_is_refused_but_today_is_accepted(catalogue):
    with pytest.raises(ValidationFailed) as bad:
        _submit(catalogue, completed_on=(TODAY + timedelta(days=1)).isoformat())
    assert "completed_on" in errors_of(bad) and _count() == 0
    assert _submit(catalogue, completed_on=TODAY).completed_on == TODAY


@pytest.mark.parametrize("hours", ["0", "0.0", "-1", "1000.1", "7.55", "0.05", "abc", "", None, "NaN", "Infinity",
                                   "1e9", float("nan")])
def test_impossible_hours_are_refused(catalogue, hours):
    with pytest.raises(ValidationFailed) as bad:
        _submit(catalogue, hours=hours)
    assert "hours" in errors_of(bad) and _count() == 0


@pytest.mark.parametrize(("hours", "stored"), [("7.5", "7.5"), ("7,5", "7.5"), (" 12 ", "12.0"), ("1000", "1000.0"),
                                               ("0.1", "0.1"), ("7.50", "7.5"), (Decimal("3.5"), "3.5"), (8, "8.0")])
def test_hours_are_kept_as_decimals_with_one_place(catalogue, hours, stored):
    training = _submit(catalogue, hours=hours)
    _db.session.expire(training)
    assert isinstance(training.hours, Decimal) and training.hours == Decimal(stored)


def test_provider_and_topic_are_required(catalogue):
    with pytest.raises(ValidationFailed) as bad:
        _submit(catalogue, provider=" ", topic="")
    assert {"provider", "topic"} <= set(errors_of(bad))


def test_a_teacher_cannot_record_training_for_a_colleague(catalogue):
    with pytest.raises(NotAllowed):
        _submit(catalogue, staff=catalogue.teacher_a2, actor=catalogue.teacher_a.user)


def test_an_admin_records_training_for_a_teacher_of_their_school_only(catalogue, admin_a):
    assert _submit(catalogue, actor=admin_a).created_by_id == admin_a.id
    with pytest.raises(NotAllowed):
        _submit(catalogue, staff=catalogue.teacher_b, actor=admin_a)


# --- verification ---------------------------------------------------------------------------------------


def test_an_admin_verifies_and_the_reviewer_is_recorded(catalogue, admin_a, audit_events):
    training = _submit(catalogue)
    services.verify_training(training, actor=admin_a, expected_version=training.version)
    assert training.status == TrainingStatus.VERIFIED and training.reviewed_by_id == admin_a.id
    assert training.reviewed_at is not None
    assert audit_events("training.verified")[-1].changes == {"hours": "12.0"}


def test_the_head_of_the_school_verifies(catalogue, org):
    head = factories.make_user("head", unit=org.school_a, password=None)
    assert services.verify_training(_submit(catalogue), actor=head).status == TrainingStatus.VERIFIED


def test_a_head_of_another_school_cannot_verify(catalogue, org):
    head_b = factories.make_user("head", unit=org.school_b, password=None)
    training = _submit(catalogue)
    with pytest.raises(NotAllowed):
        services.verify_training(training, actor=head_b)
    assert training.status == TrainingStatus.SUBMITTED


def test_a_head_of_another_department_cannot_verify(catalogue, org):
    other_department = factories.make_unit("department", "English A", org.school_a)
    head = factories.make_user("head", unit=other_department, password=None)
    with pytest.raises(NotAllowed):
        services.verify_training(_submit(catalogue), actor=head)


def test_a_teacher_cannot_verify_their_own_training(catalogue):
    training = _submit(catalogue)
    with pytest.raises(NotAllowed):
        services.verify_training(training, actor=catalogue.teacher_a.user)
    assert training.status == TrainingStatus.SUBMITTED


def test_an_admin_who_is_also_the_trainee_cannot_verify_their_own_training(catalogue, org, admin_a):
    admin_staff = factories.make_staff(org.school_a, user=admin_a, family_name="Admin", given_name="Ada")
    training = _submit(catalogue, staff=admin_staff, actor=admin_a)
    with pytest.raises(Conflict, match="your own"):
        services.verify_training(training, actor=admin_a)
    with pytest.raises(Conflict, match="your own"):
        services.reject_training(training, reason="No", actor=admin_a)
    assert training.status == TrainingStatus.SUBMITTED


def test_verifying_twice_is_harmless(catalogue, admin_a, audit_events):
    training = _submit(catalogue)
    services.verify_training(training, actor=admin_a)
    services.verify_training(training, actor=admin_a)
    assert training.status == TrainingStatus.VERIFIED and len(audit_events("training.verified")) == 1


def test_rejecting_needs_a_reason_the_teacher_sees(catalogue, admin_a, audit_events):
    training = _submit(catalogue)
    with pytest.raises(ValidationFailed) as bad:
        services.reject_training(training, reason=" ", actor=admin_a)
    assert "reason" in errors_of(bad) and training.status == TrainingStatus.SUBMITTED
    services.reject_training(training, reason="No certificate of attendance", actor=admin_a)
    assert training.status == TrainingStatus.REJECTED and training.rejection_reason == "No certificate of attendance"
    assert audit_events("training.rejected")[-1].changes == {"hours": "12.0", "reason": "No certificate of attendance"}


def test_rejecting_twice_is_harmless(catalogue, admin_a, audit_events):
    training = _submit(catalogue)
    services.reject_training(training, reason="Duplicate", actor=admin_a)
    services.reject_training(training, reason="Duplicate again", actor=admin_a)
    assert training.rejection_reason == "Duplicate" and len(audit_events("training.rejected")) == 1


def test_a_decided_record_cannot_be_decided_the_other_way(catalogue, admin_a):
    verified, rejected = _submit(catalogue), _submit(catalogue)
    services.verify_training(verified, actor=admin_a)
    services.reject_training(rejected, reason="Duplicate", actor=admin_a)
    with pytest.raises(Conflict, match="already decided"):
        services.reject_training(verified, reason="Changed my mind", actor=admin_a)
    with pytest.raises(Conflict, match="already decided"):
        services.verify_training(rejected, actor=admin_a)
    assert (verified.status, rejected.status) == (TrainingStatus.VERIFIED, TrainingStatus.REJECTED)


def test_a_decision_based_on_an_old_version_is_a_conflict(catalogue, admin_a):
    training = _submit(catalogue)
    stale = training.version
    _db.session.execute(sa.update(TrainingRecord).where(TrainingRecord.id == training.id)
                        .values(version=TrainingRecord.version + 1))
    with pytest.raises(Conflict, match="reload the page"):
        services.verify_training(training, actor=admin_a, expected_version=stale)
