"""Settlement: the final month's pay from the teaching module (prorated to the last working day, or the month's
approved run when it has the person's line), the money items, the labour contract ended through the contracts
module with its non-compete schedule (confidentiality carries on), and the person departed."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import ValidationFailed
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.contracts.models import Contract, Obligation
from app.school.offboarding.models import CaseStatus
from app.school.offboarding.services import checklist, settlement
from app.school.teaching.models import PayLine, Term
from app.school.teaching.services import ledger, payruns
from tests.school.offboarding.conftest import LAST_DAY, TODAY, make_contract, tick_off_all, to_access_revoked
from tests.school.pay.conftest import save_test_scheme

JANUARY = date(2027, 1, 1)
NON_COMPETE = {"notice_days": 30, "non_compete_months": 3, "non_compete_monthly_compensation": "3000.00",
               "currency": "CNY"}


@pytest.fixture
def paid(departure, org):
    """School A's pay scheme (50 a lesson; a homeroom allowance of 620 a month, 20 a day in January) and the term's
    lessons generated: the departing teacher teaches 7(2) on Mondays and 7(3) on Tuesdays and is homeroom
    teacher of 7(2)."""
    save_test_scheme(org.school_a, departure.admin, homeroom_allowance="620")
    generate_lessons(org)


def generate_lessons(org) -> None:
    term = db.session.scalar(sa.select(Term).where(Term.school_id == org.school_a.id))
    ledger.generate_term(term, SYSTEM, from_day=term.starts_on)


def test_the_final_pay_is_the_teaching_modules_prorated_month(departure, today, paid):
    d = departure
    case = to_access_revoked(d)
    tick_off_all(d, case)
    expected = payruns.final_month_pay(d.leaving, LAST_DAY)
    settlement.settle(case, actor=d.admin)
    assert case.final_pay == expected.total
    # two lessons (Monday 4 and Tuesday 5 January) at 50, and 8 of January's 31 days of the 620 allowance
    assert case.final_pay == Decimal("260.00")
    assert Decimal(case.final_pay_detail["allowance_amount"]) == Decimal("160.00")
    assert case.final_pay_detail["source"] == "computed" and case.final_pay_detail["month"] == "2027-01-01"
    assert Decimal(case.final_pay_detail["periods"]) == expected.periods


@pytest.mark.parametrize("locked", [False, True], ids=["approved", "locked"])
def test_the_months_approved_run_is_used_when_it_has_the_persons_line(departure, today, paid, org, locked):
    d = departure
    case = to_access_revoked(d)
    tick_off_all(d, case)
    run = payruns.open_run(org.school_a, JANUARY, d.admin)
    payruns.calculate_run(run, d.admin)
    payruns.approve_run(run, d.head)
    if locked:
        payruns.lock_run(run, d.admin)
    line = db.session.scalar(sa.select(PayLine).where(PayLine.run_id == run.id, PayLine.staff_id == d.leaving.id))
    assert line is not None
    settlement.settle(case, actor=d.admin)
    assert case.final_pay == line.total
    assert (case.final_pay_detail["source"], case.final_pay_detail["run_id"]) == ("run", run.id)


def test_a_run_not_yet_approved_is_not_used(departure, today, paid, org):
    d = departure
    case = to_access_revoked(d)
    tick_off_all(d, case)
    run = payruns.open_run(org.school_a, JANUARY, d.admin)
    payruns.calculate_run(run, d.admin)
    settlement.settle(case, actor=d.admin)
    assert case.final_pay_detail["source"] == "computed"
    assert case.final_pay == payruns.final_month_pay(d.leaving, LAST_DAY).total


def test_without_a_pay_scheme_settling_is_refused(departure, today, org):
    d = departure
    generate_lessons(org)
    case = to_access_revoked(d)
    tick_off_all(d, case)
    with pytest.raises(ValidationFailed) as raised:
        settlement.settle(case, actor=d.admin)
    assert raised.value.field == "final_pay" and "pay scheme" in raised.value.message
    assert case.status == CaseStatus.ACCESS_REVOKED and d.leaving.status == "on_notice"


def test_money_items_are_totalled(departure, today, paid):
    d = departure
    case = to_access_revoked(d)
    extra = checklist.add_item(case, title="Violin on loan returned or paid", owner="finance", is_money=True,
                               actor=d.admin)
    for item in case.items:
        amount = {True: "-150.00"}.get(item.id == extra.id, "320.50" if item.is_money else None)
        checklist.complete_item(item, actor=d.admin, evidence="Settled at the office", amount=amount)
    settlement.settle(case, actor=d.admin)
    assert case.money_items_total == Decimal("170.50")


def test_settling_ends_the_labour_contract_and_schedules_the_non_compete(departure, today, paid):
    d = departure
    contract = make_contract(d.leaving, terms=NON_COMPETE)
    db.session.add(Obligation(contract=contract, kind="confidentiality", status="open",
                              description="Keep the school's confidential information secret."))
    secrecy = make_contract(d.leaving, kind="confidentiality")
    db.session.add(Obligation(contract=secrecy, kind="confidentiality", status="open",
                              description="Keep pupils' records confidential."))
    db.session.flush()
    case = to_access_revoked(d)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)

    db.session.refresh(contract)
    assert (contract.status, contract.ended_on) == ("ended", LAST_DAY)
    assert case.contract_id == contract.id
    schedule = db.session.scalars(sa.select(Obligation).where(
        Obligation.contract_id == contract.id, Obligation.kind == "non_compete_compensation")
        .order_by(Obligation.due_on)).all()
    assert [(o.period_starts_on, o.period_ends_on, o.amount, o.status) for o in schedule] == [
        (date(2027, 1, 9), date(2027, 2, 8), Decimal("3000.00"), "open"),
        (date(2027, 2, 9), date(2027, 3, 8), Decimal("3000.00"), "open"),
        (date(2027, 3, 9), date(2027, 4, 8), Decimal("3000.00"), "open")]
    confidential = db.session.scalars(sa.select(Obligation).where(Obligation.kind == "confidentiality")).all()
    assert len(confidential) == 2 and {o.status for o in confidential} == {"open"}
    assert db.session.get(Contract, secrecy.id).status == "active"  # only the labour contract ends


def test_a_contract_without_non_compete_terms_gets_no_schedule(departure, today, paid):
    d = departure
    contract = make_contract(d.leaving, terms={"notice_days": 30})
    case = to_access_revoked(d)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)
    assert db.session.get(Contract, contract.id).status == "ended"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Obligation).where(
        Obligation.contract_id == contract.id)) == 0


def test_a_dismissal_terminates_the_contract_on_the_last_day(departure, today, paid):
    d = departure
    contract = make_contract(d.leaving, terms=NON_COMPETE, ends_on=date(2028, 8, 31))
    case = to_access_revoked(d, kind="dismissal", last_day=TODAY)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)
    db.session.refresh(contract)
    assert (contract.status, contract.ended_on) == ("terminated", TODAY)
    assert contract.end_reason == "Departure: dismissal"
    first = db.session.scalars(sa.select(Obligation).where(Obligation.contract_id == contract.id,
                                                           Obligation.status == "open")
                               .order_by(Obligation.due_on)).first()
    assert first.period_starts_on == date(2026, 12, 8)
    assert case.final_pay_detail["month"] == "2026-12-01"


def test_leaving_a_fixed_term_contract_early_terminates_it(departure, today, paid):
    d = departure
    contract = make_contract(d.leaving, terms={"notice_days": 30}, ends_on=date(2028, 8, 31))
    case = to_access_revoked(d)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)
    db.session.refresh(contract)
    assert (contract.status, contract.ended_on) == ("terminated", LAST_DAY)


def test_settling_records_the_person_as_departed(departure, today, paid):
    d = departure
    case = to_access_revoked(d)
    tick_off_all(d, case)
    settlement.settle(case, actor=d.admin)
    assert case.status == CaseStatus.SETTLED and case.settled_at is not None
    assert (d.leaving.status, d.leaving.departed_on) == ("departed", LAST_DAY)
    assert case.contract_id is None  # no labour contract on file: nothing to end
    settlement.close(case, actor=d.admin)
    assert case.status == CaseStatus.CLOSED
