"""The renewal workflow: the training-hours rule counts only verified hours inside the period; approval makes a
new period without a gap (or from the approval day once expired) and keeps the old one as history; rejection
needs a reason; every step audited, safe to press twice, and told to the right people through the outbox."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.notifications.models import Notification
from app.school.credentials import services
from app.school.credentials.models import Credential, Renewal, RenewalStatus, TrainingStatus
from app.school.credentials.qualification import is_qualified
from tests import factories
from tests.school.credentials.conftest import TODAY, make_credential, make_training

ISSUED, EXPIRES = date(2022, 1, 1), date(2026, 12, 31)  # a 5-year teaching certificate expiring in 24 days


@pytest.fixture(autouse=True)
def _audit_baseline(db):
    """Only this test's audit events count (the PostgreSQL race tests commit theirs)."""
    global _BASELINE
    _BASELINE = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))


_BASELINE = 0


def _events(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                                AuditEvent.seq > _BASELINE)
                                    .order_by(AuditEvent.seq)))


def _credentials(staff) -> list[Credential]:
    return list(_db.session.scalars(sa.select(Credential).where(Credential.staff_id == staff.id)
                                    .order_by(Credential.issued_on)))


def _notifications(key_prefix: str) -> list[Notification]:
    return list(_db.session.scalars(sa.select(Notification).where(Notification.idempotency_key.startswith(key_prefix))
                                    .order_by(Notification.idempotency_key)))


@pytest.fixture
def head_a(org):
    return factories.make_user("head", unit=org.school_a, password=None)


@pytest.fixture
def certificate(catalogue) -> Credential:
    credential = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=ISSUED)
    assert credential.expires_on == EXPIRES
    return credential


def _full_hours(staff) -> None:
    make_training(staff, "360", on=date(2024, 5, 1))


def _start(credential, actor=None, note=None):
    return services.start_renewal(credential, note=note, actor=actor or credential.staff.user)


# --- the rule -----------------------------------------------------------------------------------------------


def test_only_verified_hours_inside_the_period_count(catalogue, certificate):
    teacher = catalogue.teacher_a
    make_training(teacher, "100", on=ISSUED)                      # the first day counts
    make_training(teacher, "100", on=EXPIRES)                     # the last day counts
    make_training(teacher, "112.5", on=date(2024, 3, 1))
    make_training(teacher, "40", on=date(2024, 3, 2), status=TrainingStatus.SUBMITTED)
    make_training(teacher, "40", on=date(2024, 3, 3), status=TrainingStatus.REJECTED)
    make_training(teacher, "40", on=ISSUED - timedelta(days=1))   # before the period
    make_training(teacher, "40", on=EXPIRES + timedelta(days=1))  # after it
    make_training(catalogue.teacher_a2, "40", on=date(2024, 3, 1))  # a colleague's
    progress = services.hours_progress(certificate)
    assert progress.counted == Decimal("312.5") and isinstance(progress.counted, Decimal)
    assert progress.required == Decimal("360") and not progress.is_met and progress.percent == 86
    assert (progress.cycle_starts_on, progress.cycle_ends_on) == (ISSUED, EXPIRES)


def test_the_rule_is_met_at_exactly_the_required_hours(catalogue, certificate):
    make_training(catalogue.teacher_a, "359.9", on=date(2023, 1, 1))
    assert not services.hours_progress(certificate).is_met
    make_training(catalogue.teacher_a, "0.1", on=date(2023, 1, 2))
    progress = services.hours_progress(certificate)
    assert progress.counted == Decimal("360.0") and progress.is_met and progress.percent == 100


def test_fractional_hours_add_up_exactly(catalogue, certificate):
    for _ in range(30):
        make_training(catalogue.teacher_a, "0.1", on=date(2023, 1, 1))
    assert services.hours_progress(certificate).counted == Decimal("3.0")


def test_no_training_counts_zero(catalogue, certificate):
    progress = services.hours_progress(certificate)
    assert progress.counted == Decimal("0") and progress.percent == 0 and not progress.is_met


def test_a_type_without_an_hours_rule_is_always_met(catalogue):
    safe = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2024, 1, 1))
    progress = services.hours_progress(safe)
    assert progress.required is None and progress.is_met and progress.percent == 100


# --- starting ------------------------------------------------------------------------------------------------


def test_a_teacher_starts_a_renewal_and_the_reviewers_are_told(catalogue, certificate, head_a, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    factories.make_user("head", unit=org.school_b, password=None)  # not in scope: not told
    renewal = _start(certificate, note="Hours attached")
    assert renewal.status == RenewalStatus.SUBMITTED and renewal.note == "Hours attached"
    assert renewal.hours_required == Decimal("360") and renewal.submitted_by_id == catalogue.teacher_a.user_id
    assert services.open_renewal(certificate) is renewal
    event = _events("renewal.submitted")[-1]
    assert event.changes == {"credential": certificate.id, "type": "TEACH", "hours": "0.0", "required": "360.0"}
    told = _notifications(f"renewal:{renewal.id}:submitted:")
    assert sorted(n.recipient_user_id for n in told) == sorted([admin_a.id, head_a.id])
    assert {n.channel for n in told} == {"inbox"}
    assert all("Li Wei" in n.body_text or "Wei Li" in n.body_text for n in told)
    assert all(f"/renewals/{renewal.id}" in n.body_text or str(renewal.id) in n.body_text for n in told)


def test_a_second_start_returns_the_open_renewal(catalogue, certificate):
    first = _start(certificate)
    assert _start(certificate, note="again") is first
    assert len(_events("renewal.submitted")) == 1
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Renewal)) == 1


def test_an_admin_may_start_a_renewal_for_a_teacher_of_their_school(catalogue, certificate, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    assert _start(certificate, actor=admin_a).submitted_by_id == admin_a.id


@pytest.mark.parametrize("who", ["colleague", "head", "admin_b"])
def test_others_may_not_start_a_renewal(catalogue, certificate, org, who):
    actor = {"colleague": lambda: catalogue.teacher_a2.user,
             "head": lambda: factories.make_user("head", unit=org.school_a, password=None),
             "admin_b": lambda: factories.make_user("admin", unit=org.school_b, password=None)}[who]()
    with pytest.raises(NotAllowed):
        _start(certificate, actor=actor)


def test_a_credential_that_never_expires_needs_no_renewal(catalogue):
    title = make_credential(catalogue.teacher_a, catalogue.title, issued_on=date(2020, 1, 1))
    with pytest.raises(InvalidTransition, match="does not expire"):
        _start(title)


def test_a_revoked_or_renewed_credential_cannot_be_renewed(catalogue, certificate, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    services.revoke_credential(certificate, reason="Withdrawn by the bureau", actor=admin_a)
    with pytest.raises(InvalidTransition):
        _start(certificate)
    old = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2020, 1, 1))
    new = make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2023, 1, 1))
    old.superseded_by_id = new.id
    _db.session.flush()
    with pytest.raises(InvalidTransition):
        _start(old)


def test_the_database_refuses_a_second_open_renewal(catalogue, certificate):
    _db.session.add(Renewal(credential=certificate, status=RenewalStatus.SUBMITTED))
    _db.session.flush()
    with pytest.raises(sa.exc.IntegrityError):
        with _db.session.begin_nested():
            _db.session.add(Renewal(credential=certificate, status=RenewalStatus.SUBMITTED))
            _db.session.flush()
    # closed requests do not count: any number of them may sit beside the open one
    _db.session.add_all([Renewal(credential=certificate, status=RenewalStatus.WITHDRAWN),
                         Renewal(credential=certificate, status=RenewalStatus.REJECTED)])
    _db.session.flush()


# --- approving -------------------------------------------------------------------------------------------------


def test_approval_makes_a_new_period_continuing_without_a_gap(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.approve_renewal(renewal, actor=head_a, on=TODAY, expected_version=renewal.version)
    old, new = _credentials(catalogue.teacher_a)
    assert old.id == certificate.id and old.superseded_by_id == new.id and old.expires_on == EXPIRES
    assert (new.issued_on, new.expires_on) == (date(2027, 1, 1), date(2031, 12, 31))
    assert (new.type_id, new.number, new.issuer) == (old.type_id, old.number, old.issuer)
    assert new.is_open and not old.is_open
    assert renewal.status == RenewalStatus.APPROVED and renewal.new_credential_id == new.id
    assert renewal.decided_by_id == head_a.id and renewal.hours_counted == Decimal("360.0")
    event = _events("renewal.approved")[-1]
    assert event.actor_id == head_a.id and event.subject_id == str(renewal.id)
    assert event.changes == {"credential": old.id, "new_credential": new.id, "issued_on": "2027-01-01",
                             "expires_on": "2031-12-31", "hours": "360.0"}


def test_the_holder_stays_qualified_across_the_change_of_period(catalogue, certificate, head_a):
    make_credential(catalogue.teacher_a, catalogue.safe, issued_on=date(2026, 1, 1))
    _full_hours(catalogue.teacher_a)
    services.approve_renewal(_start(certificate), actor=head_a, on=TODAY)
    for day in (EXPIRES, EXPIRES + timedelta(days=1), date(2028, 12, 31)):  # SAFE's own last day
        assert is_qualified(catalogue.teacher_a, catalogue.math, 7, day), day


def test_approval_after_expiry_starts_the_new_period_on_the_approval_day(catalogue, head_a):
    expired = make_credential(catalogue.teacher_a, catalogue.teach, issued_on=date(2021, 9, 1))
    assert expired.expires_on == date(2026, 8, 31)
    make_training(catalogue.teacher_a, "360", on=date(2025, 1, 1))
    services.approve_renewal(_start(expired), actor=head_a, on=TODAY)
    new = _credentials(catalogue.teacher_a)[-1]
    assert (new.issued_on, new.expires_on) == (TODAY, date(2031, 12, 6))


def test_approval_on_the_day_after_expiry_still_continues(catalogue, certificate, head_a):
    assert services.new_period_start(certificate, EXPIRES) == EXPIRES + timedelta(days=1)
    assert services.new_period_start(certificate, EXPIRES + timedelta(days=1)) == EXPIRES + timedelta(days=1)
    assert services.new_period_start(certificate, EXPIRES + timedelta(days=2)) == EXPIRES + timedelta(days=2)


def test_the_new_expiry_follows_the_type_as_it_is_at_approval(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    catalogue.teach.validity_years = 3
    _db.session.flush()
    services.approve_renewal(renewal, actor=head_a, on=TODAY)
    assert _credentials(catalogue.teacher_a)[-1].expires_on == date(2029, 12, 31)


def test_approval_is_refused_while_the_rule_is_not_met_and_says_the_count(catalogue, certificate, head_a):
    make_training(catalogue.teacher_a, "312", on=date(2024, 5, 1))
    make_training(catalogue.teacher_a, "48", on=date(2024, 5, 2), status=TrainingStatus.SUBMITTED)
    renewal = _start(certificate)
    with pytest.raises(ValidationFailed, match="312.0 of 360.0 verified"):
        services.approve_renewal(renewal, actor=head_a, on=TODAY)
    assert renewal.status == RenewalStatus.SUBMITTED and len(_credentials(catalogue.teacher_a)) == 1
    assert certificate.superseded_by_id is None and not _events("renewal.approved")


def test_approving_twice_is_harmless(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.approve_renewal(renewal, actor=head_a, on=TODAY)
    services.approve_renewal(renewal, actor=head_a, on=TODAY + timedelta(days=1))
    assert len(_credentials(catalogue.teacher_a)) == 2 and len(_events("renewal.approved")) == 1


def test_the_holder_is_told_of_the_approval_in_the_portal_and_by_email(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.approve_renewal(renewal, actor=head_a, on=TODAY)
    told = _notifications(f"renewal:{renewal.id}:approved")
    assert {(n.channel, n.recipient_user_id) for n in told} == {("inbox", catalogue.teacher_a.user_id),
                                                                 ("email", catalogue.teacher_a.user_id)}
    assert all("is approved" in n.body_text and "2031" in n.body_text and "/credentials/mine" in n.body_text
               for n in told)
    assert renewal.new_credential.expires_on == date(2031, 12, 31)
    assert certificate.superseded_by is renewal.new_credential


def test_a_teacher_cannot_approve(catalogue, certificate):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    for actor in (catalogue.teacher_a.user, catalogue.teacher_a2.user):
        with pytest.raises(NotAllowed):
            services.approve_renewal(renewal, actor=actor, on=TODAY)
    assert renewal.status == RenewalStatus.SUBMITTED


def test_a_head_of_another_school_cannot_approve(catalogue, certificate, org):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    with pytest.raises(NotAllowed):
        services.approve_renewal(renewal, actor=factories.make_user("head", unit=org.school_b, password=None),
                                 on=TODAY)


def test_nobody_approves_their_own_renewal(catalogue, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    own_staff = factories.make_staff(org.school_a, user=admin_a, family_name="Admin", given_name="Ada")
    own = make_credential(own_staff, catalogue.safe, issued_on=date(2024, 1, 1))
    renewal = _start(own, actor=admin_a)
    with pytest.raises(Conflict, match="your own"):
        services.approve_renewal(renewal, actor=admin_a, on=TODAY)


def test_a_credential_revoked_during_review_is_not_renewed(catalogue, certificate, head_a, org):
    admin_a = factories.make_user("admin", unit=org.school_a, password=None)
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.revoke_credential(certificate, reason="Failed background check", actor=admin_a)
    with pytest.raises(InvalidTransition):
        services.approve_renewal(renewal, actor=head_a, on=TODAY)
    assert len(_credentials(catalogue.teacher_a)) == 1 and renewal.status == RenewalStatus.SUBMITTED
    services.reject_renewal(renewal, reason="The certificate was revoked", actor=head_a)  # still closable


def test_an_approval_based_on_an_old_version_is_a_conflict(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    stale = renewal.version
    _db.session.execute(sa.update(Renewal).where(Renewal.id == renewal.id).values(version=Renewal.version + 1))
    with pytest.raises(Conflict, match="reload the page"):
        services.approve_renewal(renewal, actor=head_a, on=TODAY, expected_version=stale)
    assert len(_credentials(catalogue.teacher_a)) == 1


# --- rejecting and withdrawing ------------------------------------------------------------------------------


def test_rejecting_needs_a_reason_and_keeps_the_dates(catalogue, certificate, head_a):
    make_training(catalogue.teacher_a, "100", on=date(2024, 5, 1))
    renewal = _start(certificate)
    with pytest.raises(ValidationFailed) as bad:
        services.reject_renewal(renewal, reason="", actor=head_a)
    assert bad.value.field == "reason" and renewal.status == RenewalStatus.SUBMITTED
    services.reject_renewal(renewal, reason="Evidence unreadable", actor=head_a)
    assert renewal.status == RenewalStatus.REJECTED and renewal.decision_reason == "Evidence unreadable"
    assert renewal.hours_counted == Decimal("100.0") and renewal.decided_by_id == head_a.id
    assert certificate.expires_on == EXPIRES and certificate.is_open and len(_credentials(catalogue.teacher_a)) == 1
    assert _events("renewal.rejected")[-1].changes == {"reason": "Evidence unreadable"}
    told = _notifications(f"renewal:{renewal.id}:rejected")
    assert len(told) == 2 and all("Evidence unreadable" in n.body_text for n in told)


def test_rejecting_twice_is_harmless_and_a_new_request_may_follow(catalogue, certificate, head_a):
    renewal = _start(certificate)
    services.reject_renewal(renewal, reason="Evidence unreadable", actor=head_a)
    services.reject_renewal(renewal, reason="Again", actor=head_a)
    assert renewal.decision_reason == "Evidence unreadable" and len(_events("renewal.rejected")) == 1
    again = _start(certificate)
    assert again.id != renewal.id and again.status == RenewalStatus.SUBMITTED


def test_a_decided_renewal_cannot_be_decided_the_other_way(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.approve_renewal(renewal, actor=head_a, on=TODAY)
    with pytest.raises(InvalidTransition):
        services.reject_renewal(renewal, reason="Changed my mind", actor=head_a)
    with pytest.raises(InvalidTransition):
        services.withdraw_renewal(renewal, actor=catalogue.teacher_a.user)


def test_deciding_a_withdrawn_renewal_is_an_invalid_transition(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    services.withdraw_renewal(renewal, actor=catalogue.teacher_a.user)
    services.withdraw_renewal(renewal, actor=catalogue.teacher_a.user)  # a second press changes nothing
    assert renewal.status == RenewalStatus.WITHDRAWN and len(_events("renewal.withdrawn")) == 1
    with pytest.raises(InvalidTransition):
        services.approve_renewal(renewal, actor=head_a, on=TODAY)
    with pytest.raises(InvalidTransition):
        services.reject_renewal(renewal, reason="Too late", actor=head_a)
    assert len(_credentials(catalogue.teacher_a)) == 1 and services.open_renewal(certificate) is None


def test_a_colleague_cannot_withdraw_a_renewal(catalogue, certificate):
    renewal = _start(certificate)
    with pytest.raises(NotAllowed):
        services.withdraw_renewal(renewal, actor=catalogue.teacher_a2.user)
    assert renewal.status == RenewalStatus.SUBMITTED


def test_a_start_that_loses_a_race_returns_the_winners_request(catalogue, certificate, monkeypatch):
    from app.school.credentials.services import renewals

    winner = Renewal(credential=certificate, status=RenewalStatus.SUBMITTED)
    _db.session.add(winner)
    _db.session.flush()
    real, calls = renewals.open_renewal, []

    def not_seen_yet(credential):  # the winner committed after this request looked
        calls.append(credential.id)
        return None if len(calls) == 1 else real(credential)

    monkeypatch.setattr(renewals, "open_renewal", not_seen_yet)
    assert _start(certificate) is winner
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Renewal)) == 1
    assert not _events("renewal.submitted")


def test_the_refusal_shows_fractional_hours(catalogue, certificate, head_a):
    make_training(catalogue.teacher_a, "312.5", on=date(2024, 5, 1))
    with pytest.raises(ValidationFailed, match="312.5 of 360.0 verified"):
        services.approve_renewal(_start(certificate), actor=head_a, on=TODAY)


def test_a_credential_corrected_to_never_expire_during_review_is_not_renewed(catalogue, certificate, head_a):
    _full_hours(catalogue.teacher_a)
    renewal = _start(certificate)
    certificate.expires_on = None  # e.g. its type became non-expiring and an admin corrected the dates
    _db.session.flush()
    with pytest.raises(InvalidTransition, match="does not expire"):
        services.approve_renewal(renewal, actor=head_a, on=TODAY)
    assert len(_credentials(catalogue.teacher_a)) == 1
