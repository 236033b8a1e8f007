"""The credential rule of teaching assignments (issue 4): a teacher lacking a credential the subject or the
homeroom role requires on the first day is refused with a message naming it, unless an override reason is
recorded; holding them (grace days included) needs no override."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.school.classes import services
from app.school.classes.models import Assignment
from app.school.credentials.models import RequiredFor
from tests.school.classes.conftest import SEP1
from tests.school.credentials.conftest import make_credential, make_type

SYSTEM = "system"


@pytest.fixture
def types(year):
    return {
        "teach": make_type("TEACH", "Teaching certificate", validity_years=5, required_for=RequiredFor.TEACHING,
                           renewal_hours=Decimal("360")),
        "safe": make_type("SAFE", "Safeguarding check", validity_years=3, required_for=RequiredFor.ALL),
        "first_aid": make_type("FIRSTAID", "First aid", validity_years=3, required_for=RequiredFor.HOMEROOM),
    }


def _rows() -> list[Assignment]:
    return list(_db.session.scalars(sa.select(Assignment).order_by(Assignment.id)))


def _assign_maths(year, staff=None, **extra):
    return services.assign_teacher(year.class_a, staff or year.teacher_a, role="subject", subject=year.math,
                                   weekly_periods=4, starts_on=SEP1, actor=SYSTEM, **extra)


def _assign_homeroom(year, staff=None, **extra):
    return services.assign_teacher(year.class_a, staff or year.teacher_a, role="homeroom", weekly_periods=1,
                                   starts_on=SEP1, actor=SYSTEM, **extra)


def test_a_teacher_without_the_teaching_certificate_is_refused_with_its_name(year, types):
    make_credential(year.teacher_a, types["safe"], issued_on=date(2025, 1, 1))
    with pytest.raises(ValidationFailed) as refused:
        _assign_maths(year)
    assert refused.value.field == "override_reason"
    assert "Teaching certificate" in refused.value.message and "2026-09-01" in refused.value.message
    assert "Wei" in refused.value.message and "Safeguarding" not in refused.value.message
    assert _rows() == []


def test_every_missing_credential_is_named(year, types):
    with pytest.raises(ValidationFailed) as refused:
        _assign_maths(year)
    assert "Safeguarding check, Teaching certificate" in refused.value.message


def test_an_unqualified_teacher_is_accepted_with_a_recorded_override_reason(year, types):
    assignment = _assign_maths(year, override_reason="Certificate exam passed; registration pending at the bureau")
    assert assignment.qualification_override == "Certificate exam passed; registration pending at the bureau"
    event = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "classes.teacher_assigned")
                                .order_by(AuditEvent.seq.desc())).first()
    assert event.changes["qualification_override"] == assignment.qualification_override


def test_a_qualified_teacher_needs_no_override(year, types):
    make_credential(year.teacher_a, types["teach"], issued_on=date(2025, 1, 1))
    make_credential(year.teacher_a, types["safe"], issued_on=date(2025, 1, 1))
    assert _assign_maths(year, override_reason="not needed").qualification_override is None


def test_a_homeroom_teacher_needs_first_aid(year, types):
    make_credential(year.teacher_a, types["teach"], issued_on=date(2025, 1, 1))
    make_credential(year.teacher_a, types["safe"], issued_on=date(2025, 1, 1))
    with pytest.raises(ValidationFailed, match="First aid") as refused:
        _assign_homeroom(year)
    assert refused.value.field == "override_reason"
    make_credential(year.teacher_a, types["first_aid"], issued_on=date(2025, 1, 1))
    assert _assign_homeroom(year).qualification_override is None


def test_the_credential_must_be_valid_on_the_first_day_not_only_today(year, types):
    make_credential(year.teacher_a, types["safe"], issued_on=date(2025, 1, 1))
    make_credential(year.teacher_a, types["teach"], issued_on=date(2021, 1, 1),
                    expires_on=SEP1 - timedelta(days=1))
    with pytest.raises(ValidationFailed, match="Teaching certificate"):
        _assign_maths(year)


def test_a_credential_in_its_grace_days_still_qualifies(year, types):
    types["teach"].grace_days = 30
    make_credential(year.teacher_a, types["safe"], issued_on=date(2025, 1, 1))
    make_credential(year.teacher_a, types["teach"], issued_on=date(2021, 1, 1), expires_on=SEP1 - timedelta(days=30))
    assert _assign_maths(year).qualification_override is None


def test_a_subject_the_teacher_does_not_list_is_reported_before_credentials(year, types):
    with pytest.raises(ValidationFailed, match="does not list English"):
        services.assign_teacher(year.class_a, year.teacher_a, role="subject", subject=year.english,
                                weekly_periods=4, starts_on=SEP1, actor=SYSTEM)


def test_a_change_of_teacher_checks_the_new_teachers_credentials(year, types):
    for credential_type in types.values():
        make_credential(year.teacher_a, credential_type, issued_on=date(2025, 1, 1))
    current = _assign_maths(year)
    with pytest.raises(ValidationFailed, match="Teaching certificate") as refused:
        services.change_teacher(current, year.teacher_a2, effective_on=date(2026, 11, 16), actor=SYSTEM)
    assert refused.value.field == "override_reason" and current.ends_on is None and len(_rows()) == 1
    new = services.change_teacher(current, year.teacher_a2, effective_on=date(2026, 11, 16), actor=SYSTEM,
                                  override_reason="Covering until the permanent teacher arrives")
    assert new.qualification_override == "Covering until the permanent teacher arrives"


def test_the_grade_range_of_a_type_follows_the_class(year, types):
    make_type("SENIOR", "Senior-school certificate", required_for=RequiredFor.TEACHING, grade_min=10)
    for credential_type in types.values():
        make_credential(year.teacher_a, credential_type, issued_on=date(2025, 1, 1))
    assert year.class_a.grade == 7
    assert _assign_maths(year).qualification_override is None
