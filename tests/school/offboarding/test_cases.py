"""Every guard of the departure's transitions: who may move the case, from which state, and what stops it
(open checklist items and blockers, a reassignment not yet confirmed); each refusal says why. Every step is
filed in the audit log under the case."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.audit.queries import events_for_subject
from app.general.notifications.models import Notification
from app.school.offboarding.models import CaseStatus
from app.school.offboarding.services import access, cases, checklist, notices, plan, settlement
from tests import factories
from tests.school.offboarding.conftest import (
    TODAY,
    choose_all,
    open_case,
    tick_off_all,
    to_access_revoked,
    to_handover,
    to_reassigned,
)


@pytest.fixture
def fixed_pay(monkeypatch):
    monkeypatch.setattr(settlement, "final_pay", lambda case: (Decimal("100.00"), {"source": "computed"}))


# --- approval -----------------------------------------------------------------------------------------------


def test_the_head_approves_a_submitted_case_and_access_is_scheduled(departure, today):
    case = open_case(departure, actor=departure.leaving_user)
    cases.approve(case, actor=departure.head, note="Thank you for your years here")
    assert case.status == CaseStatus.APPROVED
    assert case.decided_by_id == departure.head.id and case.decision_note == "Thank you for your years here"
    assert case.revoke_access_at == cases.end_of_day(date(2027, 1, 8))
    assert departure.leaving_user.is_active_account  # a resignation keeps access until the last day


def test_approve_twice_is_refused_with_a_clear_message(departure, today):
    case = open_case(departure)
    cases.approve(case, actor=departure.head)
    with pytest.raises(InvalidTransition) as raised:
        cases.approve(case, actor=departure.head)
    assert raised.value.message == ("This departure is approved, so it cannot be approved now (it must be "
                                    "submitted).")


def test_an_admin_cannot_approve(departure, today):
    case = open_case(departure)
    with pytest.raises(NotAllowed):
        cases.approve(case, actor=departure.admin)
    assert case.status == CaseStatus.SUBMITTED


def test_a_head_of_another_school_cannot_approve_or_reject(departure, today, org):
    case = open_case(departure)
    head_b = factories.make_user("head", unit=org.school_b)
    with pytest.raises(NotAllowed):
        cases.approve(case, actor=head_b)
    with pytest.raises(NotAllowed):
        cases.reject(case, actor=head_b, note="No")
    assert case.status == CaseStatus.SUBMITTED


def test_a_head_never_decides_their_own_departure(departure, today, org):
    head_user = factories.make_user("head", unit=org.school_a)
    head_staff = factories.make_staff(org.school_a, user=head_user, family_name="Head", given_name="Self")
    case = cases.submit(head_staff, kind="resignation", last_working_day=date(2027, 1, 8), actor=departure.admin)
    with pytest.raises(NotAllowed, match="Someone else"):
        cases.approve(case, actor=head_user)
    with pytest.raises(NotAllowed, match="Someone else"):
        cases.reject(case, actor=head_user, note="No")
    cases.approve(case, actor=departure.head)
    assert case.status == CaseStatus.APPROVED


def test_approve_on_a_stale_version_is_a_conflict(departure, today):
    case = open_case(departure)
    version = case.version
    cases.change_last_day(case, last_working_day=date(2027, 1, 20), actor=departure.admin)
    with pytest.raises(Conflict, match="Someone else acted on this departure"):
        cases.approve(case, actor=departure.head, expected_version=version)
    assert case.status == CaseStatus.SUBMITTED


def test_reject_needs_a_reason_and_a_submitted_case(departure, today):
    case = open_case(departure)
    with pytest.raises(ValidationFailed):
        cases.reject(case, actor=departure.head, note="  ")
    cases.approve(case, actor=departure.head)
    with pytest.raises(InvalidTransition):
        cases.reject(case, actor=departure.head, note="Too late")


def test_the_heads_are_asked_to_decide_without_the_private_reason(departure, today):
    case = open_case(departure, actor=departure.leaving_user, private_reason="Conflict with a colleague")
    rows = db.session.scalars(sa.select(Notification).where(
        Notification.idempotency_key.like(f"departure:{case.id}:decision_needed:%"))).all()
    assert rows and {r.recipient_user_id for r in rows} == {departure.head.id}
    assert all("Conflict with a colleague" not in r.body_text + r.subject + str(r.context) for r in rows)


# --- handover and planning ------------------------------------------------------------------------------------


def test_handover_starts_only_when_approved(departure, today):
    case = open_case(departure)
    with pytest.raises(InvalidTransition, match="must be approved"):
        cases.start_handover(case, actor=departure.admin)
    assert case.items == []
    cases.approve(case, actor=departure.head)
    cases.start_handover(case, actor=departure.admin)
    assert case.status == CaseStatus.HANDOVER and len(case.items) == 8
    with pytest.raises(InvalidTransition):
        cases.start_handover(case, actor=departure.admin)


def test_a_head_cannot_start_the_handover(departure, today):
    case = open_case(departure)
    cases.approve(case, actor=departure.head)
    with pytest.raises(NotAllowed):
        cases.start_handover(case, actor=departure.head)


def test_choose_and_confirm_only_in_handover(departure, today):
    case = open_case(departure)
    cases.approve(case, actor=departure.head)
    with pytest.raises(InvalidTransition, match="must be handover"):
        plan.choose(case, departure.maths_a, departure.colleague, actor=departure.admin)
    with pytest.raises(InvalidTransition):
        plan.confirm(case, actor=departure.admin)
    with pytest.raises(InvalidTransition):
        plan.set_effective_on(case, effective_on=date(2027, 1, 4), actor=departure.admin)
    assert case.plan == []


def test_nothing_can_be_chosen_or_confirmed_again_after_the_reassignment(departure, today):
    case = to_reassigned(departure)
    with pytest.raises(InvalidTransition):
        plan.choose(case, departure.maths_a, departure.other, actor=departure.admin)
    with pytest.raises(InvalidTransition):
        plan.confirm(case, actor=departure.admin)


def test_parents_cannot_be_notified_before_the_reassignment(departure, today):
    case = to_handover(departure)
    choose_all(departure, case)
    with pytest.raises(InvalidTransition, match="confirm the reassignment first"):
        notices.write_notices(case, actor=departure.admin)
    with pytest.raises(InvalidTransition, match="confirm the reassignment first"):
        access.mark_parents_notified(case, actor=departure.admin)
    assert case.status == CaseStatus.HANDOVER
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.template == "offboarding/messages/parent_notice")) == 0


def test_withdraw_is_refused_once_the_classes_are_reassigned(departure, today):
    case = to_reassigned(departure)
    with pytest.raises(InvalidTransition, match="cannot be withdrawn"):
        cases.withdraw(case, actor=departure.admin, reason="Changed their mind")
    assert case.status == CaseStatus.REASSIGNED
    assert departure.leaving.status == "on_notice"


def test_the_teacher_withdraws_alone_only_before_the_heads_decision(departure, today):
    case = open_case(departure, actor=departure.leaving_user)
    cases.withdraw(case, actor=departure.leaving_user, reason="Staying")
    assert case.status == CaseStatus.WITHDRAWN and departure.leaving.status == "active"
    told = db.session.scalars(sa.select(Notification.recipient_user_id).where(
        Notification.idempotency_key.like(f"departure:{case.id}:withdrawn:%"))).all()
    assert set(told) == {departure.head.id, departure.admin.id}


def test_after_approval_only_the_school_withdraws_a_resignation(departure, today):
    case = to_handover(departure, actor=departure.leaving_user)
    with pytest.raises(InvalidTransition, match="ask the school office"):
        cases.withdraw(case, actor=departure.leaving_user, reason="Staying")
    assert case.status == CaseStatus.HANDOVER
    cases.withdraw(case, actor=departure.admin, reason="Agreed with the head: she stays")
    assert case.status == CaseStatus.WITHDRAWN and departure.leaving.status == "active"


def test_the_teacher_cannot_withdraw_a_dismissal(departure, today):
    case = open_case(departure, kind="dismissal", last_day=TODAY)
    with pytest.raises(NotAllowed):
        cases.withdraw(case, actor=departure.leaving_user)
    assert case.status == CaseStatus.SUBMITTED


def test_the_last_day_cannot_change_after_the_reassignment(departure, today):
    case = to_reassigned(departure)
    with pytest.raises(InvalidTransition):
        cases.change_last_day(case, last_working_day=date(2027, 1, 20), actor=departure.admin)


# --- settling and closing -------------------------------------------------------------------------------------


def test_settle_is_refused_before_access_is_revoked(departure, today, fixed_pay):
    case = to_reassigned(departure)
    tick_off_all(departure, case)
    with pytest.raises(InvalidTransition, match="must be access revoked"):
        settlement.settle(case, actor=departure.admin)
    assert case.status == CaseStatus.REASSIGNED and departure.leaving.status == "on_notice"


def test_settle_is_refused_with_an_open_item_and_names_it(departure, today, fixed_pay):
    case = to_access_revoked(departure)
    tick_off_all(departure, case)
    exit_interview = next(i for i in case.items if i.title == "Exit interview held")
    checklist.reopen_item(exit_interview, actor=departure.admin, reason="Not held after all")
    with pytest.raises(InvalidTransition) as raised:
        settlement.settle(case, actor=departure.admin)
    assert "Exit interview held" in raised.value.message
    assert "Keys, badge" not in raised.value.message  # only what is open is named
    assert case.status == CaseStatus.ACCESS_REVOKED and case.final_pay is None


def test_settle_is_refused_with_an_open_blocker_and_names_it(departure, today, fixed_pay):
    case = to_access_revoked(departure)
    tick_off_all(departure, case)
    blocker = checklist.raise_blocker(departure.leaving, kind="asset", description="Projector not returned",
                                      actor=departure.head)
    with pytest.raises(InvalidTransition) as raised:
        settlement.settle(case, actor=departure.admin)
    assert "Projector not returned" in raised.value.message
    assert "unreturned asset" in raised.value.message
    checklist.resolve_blocker(blocker, actor=departure.admin, resolution="Returned on Monday")
    settlement.settle(case, actor=departure.admin)
    assert case.status == CaseStatus.SETTLED


def test_a_blocker_raised_after_settling_holds_the_close(departure, today, fixed_pay):
    case = to_access_revoked(departure)
    tick_off_all(departure, case)
    settlement.settle(case, actor=departure.admin)
    blocker = checklist.raise_blocker(departure.leaving, kind="complaint", description="Parent complaint about marks",
                                      actor=departure.head)
    with pytest.raises(InvalidTransition, match="Parent complaint about marks"):
        settlement.close(case, actor=departure.admin)
    assert case.status == CaseStatus.SETTLED
    checklist.resolve_blocker(blocker, actor=departure.head, resolution="Marks reviewed with the parent")
    settlement.close(case, actor=departure.admin)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None


def test_close_only_when_settled(departure, today, fixed_pay):
    case = to_access_revoked(departure)
    tick_off_all(departure, case)
    with pytest.raises(InvalidTransition, match="must be settled"):
        settlement.close(case, actor=departure.admin)


def test_a_head_cannot_settle_or_close(departure, today, fixed_pay):
    case = to_access_revoked(departure)
    tick_off_all(departure, case)
    with pytest.raises(NotAllowed):
        settlement.settle(case, actor=departure.head)
    settlement.settle(case, actor=departure.admin)
    with pytest.raises(NotAllowed):
        settlement.close(case, actor=departure.head)


def test_every_step_is_on_the_cases_timeline(departure, today, fixed_pay):
    case = to_access_revoked(departure, actor=departure.leaving_user)
    tick_off_all(departure, case)
    settlement.settle(case, actor=departure.admin)
    settlement.close(case, actor=departure.admin)
    actions = [e.action for e in events_for_subject("DepartureCase", case.id)]
    steps = [a for a in actions if a in {
        "offboarding.submitted", "offboarding.approved", "offboarding.handover_started", "offboarding.reassigned",
        "offboarding.parents_notified", "offboarding.access_revoked", "offboarding.settled", "offboarding.closed"}]
    assert steps == ["offboarding.submitted", "offboarding.approved", "offboarding.handover_started",
                     "offboarding.reassigned", "offboarding.parents_notified", "offboarding.access_revoked",
                     "offboarding.settled", "offboarding.closed"]
    for expected in ("offboarding.plan_chosen", "offboarding.parents_notices_written", "offboarding.access_ended",
                     "offboarding.item_done"):
        assert expected in actions
    submitted = next(e for e in events_for_subject("DepartureCase", case.id) if e.action == "offboarding.submitted")
    assert submitted.actor_id == departure.leaving_user.id
