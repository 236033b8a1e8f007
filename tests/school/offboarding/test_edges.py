"""The departure flow at its edges: a plan confirmed late, an assignment entered for later, settling on time and
without a money item, an account suspended for another reason, the signed link opened by someone logged in."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, ValidationFailed
from app.extensions import db
from app.school.classes.models import Assignment
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
)


@pytest.fixture
def fixed_pay(monkeypatch):
    monkeypatch.setattr(settlement, "final_pay", lambda case: (Decimal("100.00"), {"source": "computed"}))


def _days_later(monkeypatch, days: int) -> date:
    later = TODAY + timedelta(days=days)
    for target in ("app.school.offboarding.services.cases.local_today",
                   "app.school.offboarding.services.plan.local_today"):
        monkeypatch.setattr(target, lambda: later)
    return later


def test_a_dismissal_planned_the_day_after_takes_effect_from_tomorrow(departure, today, monkeypatch):
    d = departure
    case = open_case(d, kind="dismissal", last_day=TODAY)
    cases.approve(case, actor=d.head)
    cases.start_handover(case, actor=d.admin)
    now = _days_later(monkeypatch, 1)  # the last working day has passed
    assert plan.effective_day(case) == now + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        plan.set_effective_on(case, effective_on=now, actor=d.admin)
    plan.set_effective_on(case, effective_on=now + timedelta(days=1), actor=d.admin)
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    assert case.status == CaseStatus.REASSIGNED and case.effective_on == now + timedelta(days=1)


def test_an_assignment_entered_for_next_term_is_handed_over_whole(departure, today):
    d = departure
    later = factories.make_assignment(d.class_b, d.leaving, weekly_periods=2, starts_on=date(2027, 2, 20))
    case = to_handover(d)
    assert later.id in {a.id for a in plan.unplanned(case)}  # on the risk list
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    db.session.refresh(later)
    assert later.staff_id == d.colleague.id and later.starts_on == date(2027, 2, 20)
    assert not db.session.scalars(sa.select(Assignment).where(Assignment.staff_id == d.leaving.id,
                                                               Assignment.ends_on.is_(None))).all()


def test_settling_waits_for_the_last_working_day(departure, today, monkeypatch, fixed_pay):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    tick_off_all(d, case)
    from tests.school.offboarding.conftest import mark_outbox

    mark_outbox(case)
    access.tick()
    access.revoke_early(case, actor=d.admin, note="Garden leave")
    assert case.status == CaseStatus.ACCESS_REVOKED
    monkeypatch.setattr("app.school.offboarding.services.settlement.local_today",
                        lambda: case.last_working_day - timedelta(days=1))
    with pytest.raises(InvalidTransition, match="employed until"):
        settlement.settle(case, actor=d.admin)
    assert d.leaving.status == "on_notice"
    monkeypatch.setattr("app.school.offboarding.services.settlement.local_today", lambda: case.last_working_day)
    settlement.settle(case, actor=d.admin)
    assert case.status == CaseStatus.SETTLED


def test_a_checklist_without_a_money_item_settles(departure, today, fixed_pay):
    d = departure
    case = to_access_revoked(d)
    money = next(i for i in case.items if i.is_money)
    db.session.delete(money)
    db.session.flush()
    db.session.refresh(case)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)
    assert case.money_items_total == 0 and case.status == CaseStatus.SETTLED


def test_withdrawing_gives_back_only_an_account_the_case_disabled(departure, today):
    d = departure
    d.leaving_user.is_active_account = False  # suspended for another reason first
    case = open_case(d, kind="dismissal", last_day=TODAY)
    cases.approve(case, actor=d.head)
    assert case.access_revoked_at is not None and not case.disabled_account
    cases.withdraw(case, actor=d.admin, reason="Dismissal overturned")
    assert not d.leaving_user.is_active_account


def test_a_dismissal_withdrawn_gives_its_account_back(departure, today):
    d = departure
    case = open_case(d, kind="dismissal", last_day=TODAY)
    cases.approve(case, actor=d.head)
    assert not d.leaving_user.is_active_account and case.disabled_account
    cases.withdraw(case, actor=d.admin, reason="Dismissal overturned")
    assert d.leaving_user.is_active_account and d.leaving.status == "active"


def test_the_last_day_cannot_move_once_access_has_ended(departure, today):
    d = departure
    case = open_case(d, kind="dismissal", last_day=TODAY)
    cases.approve(case, actor=d.head)
    with pytest.raises(InvalidTransition, match="access has already ended"):
        cases.change_last_day(case, last_working_day=TODAY + timedelta(days=30), actor=d.admin)


def test_the_departing_teacher_cannot_tick_a_money_item(departure, today):
    d = departure
    case = to_handover(d)
    checklist.add_item(case, title="Refund of the deposit", owner="finance", is_money=True, actor=d.admin)
    with pytest.raises(ValidationFailed, match="money item"):
        checklist.add_item(case, title="Loan repaid", owner="teacher", is_money=True, actor=d.admin)
    assert not any(checklist.may_tick(d.leaving_user, i) for i in case.items if i.is_money)


def test_the_signed_link_opens_for_a_visitor_who_is_logged_in(app, client, departure, today):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    db.session.commit()
    notice = db.session.scalars(sa.select(notices.ParentNotice).where(
        notices.ParentNotice.guardian_id == d.twin_guardian.id)).one()
    token = notices.token_for(notice.id, notice.guardian_id)
    factories.log_in(client, d.admin)
    response = client.get(f"/departures/notice/{token}")
    assert response.status_code == 200 and "Twin A" in response.get_data(as_text=True)
    assert client.post(f"/departures/notice/{token}/acknowledge").status_code == 302
    db.session.refresh(notice)
    assert notice.acknowledged_via == "link"
