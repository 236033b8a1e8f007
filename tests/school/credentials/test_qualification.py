"""`is_qualified(staff, subject, grade, on_date)`: which types a teaching role requires (subject-listed, any
subject, grade ranges, homeroom, everyone) and which credentials count on a day (grace days yes; revoked,
not yet issued, expired, inactive types no); `qualified_staff` gives the same answers in bulk."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.core.models import utcnow
from app.extensions import db as _db
from app.school.credentials.models import RequiredFor
from app.school.credentials.qualification import applies, is_qualified, qualified_staff, required_types
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential, make_type


def _codes(answer) -> list[str]:
    return [t.code for t in answer.missing]


def _hold_all(staff, catalogue, *types, issued_on=date(2025, 1, 1)):
    for credential_type in types or (catalogue.teach, catalogue.safe, catalogue.first_aid):
        make_credential(staff, credential_type, issued_on=issued_on)


# --- what is required -----------------------------------------------------------------------------------------


def test_teaching_needs_the_teaching_certificate_and_the_check_everyone_needs(catalogue):
    answer = is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)
    assert not answer and _codes(answer) == ["SAFE", "TEACH"]
    assert answer.missing_names == "Safeguarding check, Teaching certificate"


def test_homeroom_needs_first_aid_and_the_check_everyone_needs_but_no_teaching_certificate(catalogue):
    assert _codes(is_qualified(catalogue.teacher_a, None, 7, TODAY)) == ["FIRSTAID", "SAFE"]


def test_a_teacher_holding_every_required_credential_is_qualified(catalogue):
    _hold_all(catalogue.teacher_a, catalogue)
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)
    assert is_qualified(catalogue.teacher_a, None, 7, TODAY)
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY).missing == ()


def test_a_subject_listed_type_applies_only_to_its_subjects(catalogue):
    english = factories.make_subject("ENG", "English")
    lab = make_type("MATHCERT", "Maths specialist", required_for=RequiredFor.TEACHING, subjects=[catalogue.math])
    assert applies(lab, catalogue.math, 7) and not applies(lab, english, 7) and not applies(lab, None, 7)
    _hold_all(catalogue.teacher_a, catalogue)
    assert _codes(is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)) == ["MATHCERT"]
    assert is_qualified(catalogue.teacher_a, english, 7, TODAY)


def test_an_any_subject_type_applies_to_every_subject_but_not_homeroom(catalogue):
    english = factories.make_subject("ENG", "English")
    assert applies(catalogue.teach, catalogue.math, 7) and applies(catalogue.teach, english, 12)
    assert not applies(catalogue.teach, None, 7)


def test_a_grade_range_limits_where_a_type_applies(catalogue):
    senior = make_type("SENIOR", "Senior-school certificate", required_for=RequiredFor.TEACHING,
                       grade_min=10, grade_max=12)
    junior_homeroom = make_type("JUNIORHR", "Junior homeroom training", required_for=RequiredFor.HOMEROOM,
                                grade_min=1, grade_max=6)
    assert [applies(senior, catalogue.math, g) for g in (9, 10, 12)] == [False, True, True]
    assert [applies(junior_homeroom, None, g) for g in (6, 7)] == [True, False]
    assert applies(senior, catalogue.math, None)  # no grade given: every type of the subject
    _hold_all(catalogue.teacher_a, catalogue)
    assert is_qualified(catalogue.teacher_a, catalogue.math, 9, TODAY)
    assert _codes(is_qualified(catalogue.teacher_a, catalogue.math, 10, TODAY)) == ["SENIOR"]
    assert _codes(is_qualified(catalogue.teacher_a, None, 6, TODAY)) == ["JUNIORHR"]


def test_a_type_required_of_all_applies_to_every_role_and_grade(catalogue):
    assert all(applies(catalogue.safe, subject, grade) for subject in (catalogue.math, None) for grade in (1, 12))


def test_types_never_required_or_inactive_are_not_asked_for(catalogue):
    assert not applies(catalogue.title, catalogue.math, 7)
    catalogue.first_aid.is_active = False
    _db.session.flush()
    assert [t.code for t in required_types(None, 7)] == ["SAFE"]


def test_nothing_required_means_qualified(org):
    staff = factories.make_staff(org.school_a)
    assert is_qualified(staff, None, 7, TODAY)


# --- which credentials count on a day ---------------------------------------------------------------------------


def test_a_credential_counts_from_its_issue_day_to_its_last_day(catalogue):
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2024, 1, 1))  # last day 2026-12-31
    issued, last = date(2024, 1, 1), date(2026, 12, 31)
    assert not is_qualified(catalogue.teacher_a, catalogue.math, 7, issued - timedelta(days=1))
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, max(issued, date(2025, 1, 1)))
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, last)
    assert _codes(is_qualified(catalogue.teacher_a, catalogue.math, 7, last + timedelta(days=1))) == ["SAFE"]


def test_a_credential_not_yet_issued_does_not_count(catalogue):
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=TODAY + timedelta(days=1))
    assert _codes(is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)) == ["SAFE"]
    assert is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY + timedelta(days=1))


@pytest.mark.parametrize(("days_past", "qualified"), [(0, True), (30, True), (31, False)])
def test_grace_days_count(catalogue, days_past, qualified):
    catalogue.safe.grace_days = 30
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2023, 1, 1),
                    expires_on=TODAY - timedelta(days=days_past))
    assert bool(is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)) is qualified


def test_a_revoked_credential_does_not_count(catalogue):
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    safe = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2025, 1, 1))
    safe.revoked_at, safe.revoked_reason = utcnow(), "Failed background check"
    _db.session.flush()
    assert _codes(is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)) == ["SAFE"]


def test_a_renewed_period_still_counts_up_to_its_last_day(catalogue):
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    old = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2024, 1, 1))
    new = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2027, 1, 1))
    old.superseded_by_id = new.id
    _db.session.flush()
    for day in (TODAY, date(2026, 12, 31), date(2027, 1, 1), date(2029, 12, 31)):
        assert is_qualified(catalogue.teacher_a, catalogue.math, 7, day), day


def test_a_never_expiring_credential_counts_for_ever(catalogue):
    forever = make_type("LICENCE", "Teaching licence", validity_years=None, required_for=RequiredFor.TEACHING)
    _hold_all(catalogue.teacher_a, catalogue)
    make_credential(catalogue.teacher_a, forever, issued_on=date(2000, 1, 1))
    assert "LICENCE" not in _codes(is_qualified(catalogue.teacher_a, catalogue.math, 7, date(2090, 1, 1)))


def test_a_colleagues_credential_does_not_count(catalogue):
    _hold_all(catalogue.teacher_a2, catalogue)
    assert not is_qualified(catalogue.teacher_a, catalogue.math, 7, TODAY)


# --- in bulk ------------------------------------------------------------------------------------------------------


def test_qualified_staff_gives_the_same_answers_as_is_qualified_one_by_one(catalogue, org):
    catalogue.safe.grace_days = 10
    senior = make_type("SENIOR", "Senior-school certificate", required_for=RequiredFor.TEACHING, grade_min=10)
    people = [catalogue.teacher_a, catalogue.teacher_a2, catalogue.teacher_b,
              factories.make_staff(org.school_a, family_name="Nobody")]
    _hold_all(catalogue.teacher_a, catalogue)
    make_credential(catalogue.teacher_a2, catalogue.teach, issued_on=date(2025, 1, 1))
    make_credential(catalogue.teacher_a2, catalogue.safe, issued_on=date(2023, 1, 1),
                    expires_on=TODAY - timedelta(days=5))
    make_credential(catalogue.teacher_a2, senior, issued_on=date(2026, 12, 1))
    revoked = make_credential(catalogue.teacher_b, catalogue.safe, issued_on=date(2025, 1, 1))
    revoked.revoked_at = utcnow()
    make_credential(catalogue.teacher_b, catalogue.teach, issued_on=TODAY + timedelta(days=3))
    make_credential(catalogue.teacher_b, catalogue.first_aid, issued_on=date(2025, 1, 1))
    _db.session.flush()
    for subject in (catalogue.math, None):
        for grade in (7, 11, None):
            for day in (TODAY - timedelta(days=10), TODAY, TODAY + timedelta(days=6), TODAY + timedelta(days=3)):
                bulk = qualified_staff(people, subject, grade, day)
                assert set(bulk) == {p.id for p in people}
                for person in people:
                    single = is_qualified(person, subject, grade, day)
                    assert _codes(bulk[person.id]) == _codes(single), (person, subject, grade, day)


def test_qualified_staff_of_nobody_is_empty(catalogue):
    assert qualified_staff([], catalogue.math, 7, TODAY) == {}


def test_a_credentials_own_counts_on_agrees_with_is_qualified(catalogue):
    catalogue.safe.grace_days = 3
    _hold_all(catalogue.teacher_a, catalogue, catalogue.teach)
    safe = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2024, 1, 1))
    for offset in range(-2, 6):
        day = safe.expires_on + timedelta(days=offset)
        assert safe.counts_on(day) == bool(is_qualified(catalogue.teacher_a, catalogue.math, 7, day)), day
    assert not safe.counts_on(date(2023, 12, 31)) and safe.counts_on(date(2024, 1, 1))
