"""Obligations that outlive the contract: confidentiality, the non-compete compensation schedule (Decimal)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, InvalidTransition, ValidationFailed
from app.extensions import db
from app.general.contracts import services
from app.general.contracts.models import Obligation
from tests.general.contracts import factories as cf

NON_COMPETE = {"non_compete_months": 12, "non_compete_monthly_compensation": "3000.00"}


def _schedule(contract) -> list[Obligation]:
    stmt = sa.select(Obligation).where(Obligation.contract_id == contract.id,
                                       Obligation.kind == "non_compete_compensation", Obligation.status != "waived")
    return list(db.session.scalars(stmt.order_by(Obligation.due_on)))


def test_a_confidentiality_agreement_creates_an_indefinite_obligation_when_active(org):
    contract = cf.signed(org.school_a, kind="confidentiality", ends_on=None)
    assert contract.obligations == []
    services.countersign(contract, actor=cf.factories.make_user("admin", unit=org.school_a), ip="1.1.1.1",
                         user_agent="")
    [obligation] = contract.obligations
    assert obligation.kind == "confidentiality" and obligation.due_on is None and obligation.status == "open"


def test_the_non_compete_schedule_is_one_obligation_per_month_after_the_last_day_in_decimal(org):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 6, 30), terms=NON_COMPETE)
    rows = _schedule(contract)
    assert len(rows) == 12
    assert rows[0].period_starts_on == date(2027, 7, 1) and rows[0].due_on == date(2027, 7, 31)
    assert rows[-1].period_ends_on == date(2028, 6, 30)
    for before, after in zip(rows, rows[1:], strict=False):
        assert (after.period_starts_on - before.period_ends_on).days == 1  # consecutive, no gap, no overlap
    db.session.expire_all()
    amounts = [row.amount for row in _schedule(contract)]
    assert all(isinstance(amount, Decimal) for amount in amounts)
    assert amounts == [Decimal("3000.00")] * 12 and sum(amounts) == Decimal("36000.00")
    assert {row.currency for row in rows} == {"CNY"}


def test_month_ends_are_clamped(org):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 1, 30),
                         terms={"non_compete_months": 2, "non_compete_monthly_compensation": "1234.56"})
    rows = _schedule(contract)
    assert [(r.period_starts_on, r.period_ends_on) for r in rows] == [
        (date(2027, 1, 31), date(2027, 2, 27)), (date(2027, 2, 28), date(2027, 3, 30))]
    assert rows[0].amount == Decimal("1234.56")


def test_scheduling_again_for_the_same_last_day_changes_nothing(org):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 6, 30), terms=NON_COMPETE)
    first = [row.id for row in _schedule(contract)]
    again = services.schedule_non_compete(contract, date(2027, 6, 30))
    assert [row.id for row in again] == first


def test_leaving_early_moves_the_schedule_and_keeps_the_old_rows_as_waived(org, admin):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 6, 30), terms=NON_COMPETE)
    old = {row.id for row in _schedule(contract)}
    services.terminate_contract(contract, actor=admin, reason="Resigned", on=date(2027, 2, 28))
    rows = _schedule(contract)
    assert len(rows) == 12 and rows[0].period_starts_on == date(2027, 3, 1)
    assert not old & {row.id for row in rows}
    waived = db.session.scalars(sa.select(Obligation).where(Obligation.id.in_(old))).all()
    assert {row.status for row in waived} == {"waived"}


def test_offboarding_can_schedule_an_open_ended_contract_at_its_last_day(org):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=None, terms=NON_COMPETE)
    assert _schedule(contract) == []
    rows = services.schedule_non_compete(contract, date(2028, 12, 31))
    assert len(rows) == 12 and rows[0].period_starts_on == date(2029, 1, 1)


def test_a_paid_month_stops_an_automatic_reschedule(org, admin):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 6, 30), terms=NON_COMPETE)
    services.mark_obligation_done(_schedule(contract)[0], actor=admin, note="Paid by transfer")
    with pytest.raises(Conflict):
        services.schedule_non_compete(contract, date(2027, 3, 31))


def test_obligations_survive_the_end_of_the_contract(org, admin):
    contract = cf.active(org.school_a, kind="confidentiality", ends_on=date(2027, 6, 30))
    services.end_contract(contract, actor=admin)
    assert contract.status == "ended"
    assert [o.status for o in contract.obligations] == ["open"]


def test_marking_done_records_who_and_when_once(org, admin):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2027, 6, 30), terms=NON_COMPETE)
    row = _schedule(contract)[0]
    services.mark_obligation_done(row, actor=admin, note="Paid", expected_version=row.row_version)
    assert row.status == "done" and row.done_by_id == admin.id and row.done_at is not None
    with pytest.raises(InvalidTransition):
        services.mark_obligation_done(row, actor=admin)


def test_waiving_needs_a_reason(org, admin):
    contract = cf.active(org.school_a, kind="confidentiality", ends_on=None)
    with pytest.raises(ValidationFailed):
        services.waive_obligation(contract.obligations[0], actor=admin, reason="")
    services.waive_obligation(contract.obligations[0], actor=admin, reason="Released by agreement")
    assert contract.obligations[0].status == "waived"


def test_another_obligation_can_be_recorded_with_a_decimal_amount(org, admin):
    contract = cf.active(org.school_a)
    obligation = services.add_obligation(contract, actor=admin, description="Repay training costs",
                                         due_on=date(2027, 1, 31), amount="1500.5")
    assert obligation.amount == Decimal("1500.50") and obligation.kind == "other"
    with pytest.raises(InvalidTransition):
        services.add_obligation(cf.make_contract(org.school_a), actor=admin, description="x")
