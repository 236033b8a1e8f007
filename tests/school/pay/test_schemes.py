"""Pay schemes (dated, a used one never changes, a change applies from a day) and bonus awards (amount fixed on
approval, points × point value, monthly cap, no self-approval, paid in the next open month)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.school.teaching.models import AwardStatus, PayLine
from app.school.teaching.services import ledger, payruns, schemes
from tests import factories
from tests.school.pay.conftest import OCTOBER, locked_run, save_test_scheme

D = Decimal
NOVEMBER = date(2026, 11, 1)
# Wang's November: before the 16th Mon 2 9, Wed 4 11, Fri 6 13 (6); from the 16th Mon 16 23 30, Wed 18 25,
# Fri 20 27 (7)


@pytest.fixture
def ready(pay_school):
    ledger.generate_term(pay_school.term, pay_school.admin, from_day=pay_school.term.starts_on)
    pay_school.scheme = save_test_scheme(pay_school.school, pay_school.admin)
    return pay_school


def _compute(ps, month):
    return {line.staff_id: line for line in payruns.compute([ps.school.id], month)}


def _lines(run):
    return {line.staff_id: line for line in db.session.scalars(sa.select(PayLine).where(PayLine.run_id == run.id))}


# --- schemes ------------------------------------------------------------------------------------------------------


def test_a_scheme_saved_with_its_rates(ready):
    scheme = ready.scheme
    assert scheme.effective_from == date(2026, 9, 1)
    assert scheme.rate_for("regular") == D("50.00") and scheme.rate_for("cover") == D("60.00")
    assert scheme.standard_monthly_periods == D("10.0") and scheme.point_value == D("5.00")


@pytest.mark.parametrize(("field", "value"), [
    ("rate_regular", "12.345"),     # sub-cent money
    ("rate_regular", "-1"),
    ("overtime_rate", "abc"),
    ("standard_monthly_periods", "10.25"),
    ("effective_from", ""),
])
def test_a_scheme_with_bad_figures_is_refused(pay_school, field, value):
    with pytest.raises(ValidationFailed) as raised:
        save_test_scheme(pay_school.school, pay_school.admin, **{field: value})
    assert field in raised.value.errors


def test_two_schemes_cannot_start_on_the_same_day(ready):
    with pytest.raises(ValidationFailed) as raised:
        save_test_scheme(ready.school, ready.admin, name="Another")
    assert "effective_from" in raised.value.errors


def test_scheme_change_mid_month_prices_lessons_by_their_day(ready):
    ps = ready
    new = save_test_scheme(ps.school, ps.admin, name="Raise", effective_from="2026-11-16", rate_regular="70",
                           overtime_rate="40")
    line = _compute(ps, NOVEMBER)[ps.wang.id]
    by_scheme = {row["scheme"]: (D(row["periods"]), D(row["amount"])) for row in line.detail["lessons"]}
    assert by_scheme == {ps.scheme.id: (D("6.0"), D("300.00")), new.id: (D("7.0"), D("490.00"))}
    assert line.detail["schemes"] == sorted([ps.scheme.id, new.id])
    assert line.scheme_id == new.id
    assert line.overtime_periods == D("3.0") and line.overtime_amount == D("120.00")  # 13 − 10, at the new 40
    assert line.total == D("910.00")


def test_old_locked_runs_keep_their_figures_after_a_new_scheme(ready):
    ps = ready
    october = locked_run(ps, OCTOBER)
    before = {s: (line.total, line.scheme_id, line.detail) for s, line in _lines(october).items()}
    save_test_scheme(ps.school, ps.admin, name="Raise", effective_from="2026-11-01", rate_regular="70",
                     homeroom_allowance="900")
    db.session.expire_all()
    assert {s: (line.total, line.scheme_id, line.detail) for s, line in _lines(october).items()} == before
    assert _compute(ps, OCTOBER)[ps.wang.id].total == D("500.00")  # October still priced by the old scheme
    assert _compute(ps, NOVEMBER)[ps.wang.id].lesson_amount == D("910.00")  # 13 × 70


@pytest.mark.parametrize("day", ["2026-10-01", "2026-10-20", "2026-09-15"])
def test_a_scheme_dated_inside_a_locked_month_is_refused(ready, day):
    ps = ready
    locked_run(ps, OCTOBER)
    with pytest.raises(ValidationFailed) as raised:
        save_test_scheme(ps.school, ps.admin, name="Backdated", effective_from=day, rate_regular="70")
    assert "effective_from" in raised.value.errors


def test_a_scheme_dated_inside_an_approved_month_is_refused(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    with pytest.raises(ValidationFailed):
        save_test_scheme(ps.school, ps.admin, name="Backdated", effective_from="2026-10-20")


def test_a_used_scheme_cannot_be_edited(ready):
    ps = ready
    locked_run(ps, OCTOBER)
    with pytest.raises(NotAllowed):
        schemes.save_scheme(ps.school, {**_data(ps.scheme), "rate_regular": "99"}, ps.admin, scheme=ps.scheme)
    db.session.expire_all()
    assert ps.scheme.rate_for("regular") == D("50.00")


def test_an_unused_scheme_can_be_corrected(ready):
    ps = ready
    draft = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(draft, ps.admin)  # calculated, not approved: the scheme is not used yet
    schemes.save_scheme(ps.school, {**_data(ps.scheme), "rate_regular": "52"}, ps.admin, scheme=ps.scheme)
    assert ps.scheme.rate_for("regular") == D("52.00")
    payruns.calculate_run(draft, ps.admin)
    assert _lines(draft)[ps.wang.id].lesson_amount == D("520.00")


def _data(scheme) -> dict:
    data = {"name": scheme.name, "effective_from": scheme.effective_from.isoformat(),
            "standard_monthly_periods": str(scheme.standard_monthly_periods),
            "overtime_rate": str(scheme.overtime_rate), "homeroom_allowance": str(scheme.homeroom_allowance),
            "point_value": str(scheme.point_value)}
    data.update({f"rate_{rate.kind}": str(rate.rate) for rate in scheme.rates})
    return data


def test_multipliers_by_class_size_and_grade_from_the_database(pay_school):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    for _ in range(3):
        factories.make_student(ps.school, school_class=ps.class_2, starts_on=date(2026, 9, 1))
    save_test_scheme(ps.school, ps.admin, standard_monthly_periods="100",
                     multipliers=[{"basis": "class_size", "low": "1", "high": "5", "factor": "1.125"},
                                  {"basis": "grade", "low": "9", "high": "9", "factor": "2"}])
    line = _compute(ps, OCTOBER)[ps.wang.id]
    assert [(row["factor"], row["amount"]) for row in line.detail["lessons"]] == [("1.125", "562.50")]


def test_a_multiplier_with_a_bad_factor_is_refused(pay_school):
    with pytest.raises(ValidationFailed):
        save_test_scheme(pay_school.school, pay_school.admin,
                         multipliers=[{"basis": "grade", "low": "1", "high": "3", "factor": "1.1255"}])


# --- bonuses --------------------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(ready):
    ps = ready
    ps.open_class = schemes.save_bonus_type(ps.school, {"code": "OPEN", "name": "Open class", "amount": "200",
                                                        "monthly_cap": "300"}, ps.admin)
    ps.paper = schemes.save_bonus_type(ps.school, {"code": "PAPER", "name": "Published paper", "points": "10.5"},
                                       ps.admin)
    return ps


def _propose(ps, bonus_type, staff=None, day=date(2026, 10, 10), description="Open class on fractions"):
    return schemes.propose_award(staff or ps.wang, bonus_type, day, description, "https://example.test/evidence",
                                 ps.admin)


def test_approval_fixes_the_amount(catalogue):
    ps = catalogue
    award = _propose(ps, ps.open_class)
    assert award.status == AwardStatus.PROPOSED and award.amount is None
    schemes.approve_award(award, "", ps.head)
    assert (award.status, award.amount, award.pay_month) == (AwardStatus.APPROVED, D("200.00"), OCTOBER)
    schemes.save_bonus_type(ps.school, {"code": "OPEN", "name": "Open class", "amount": "250", "monthly_cap": "300"},
                            ps.admin, bonus_type=ps.open_class)
    db.session.expire_all()
    assert award.amount == D("200.00")
    line = _compute(ps, OCTOBER)[ps.wang.id]
    assert line.bonus_amount == D("200.00")
    assert line.detail["bonuses"] == [{"award": award.id, "name": "Open class", "amount": "200.00"}]
    assert line.total == D("700.00")


def test_points_are_valued_by_the_schemes_point_value(catalogue):
    ps = catalogue
    award = _propose(ps, ps.paper, description="Paper on geometry")
    schemes.approve_award(award, "Well done", ps.head)
    assert award.amount == D("52.50")  # 10.5 points × 5.00
    save_test_scheme(ps.school, ps.admin, name="Dearer points", effective_from="2026-12-01", point_value="8")
    db.session.expire_all()
    assert award.amount == D("52.50")  # fixed on approval


def test_the_monthly_cap_trims_then_refuses(catalogue):
    ps = catalogue
    first = _propose(ps, ps.open_class, description="First")
    second = _propose(ps, ps.open_class, description="Second", day=date(2026, 10, 20))
    third = _propose(ps, ps.open_class, description="Third", day=date(2026, 10, 27))
    schemes.approve_award(first, "", ps.head)
    schemes.approve_award(second, "", ps.head)
    assert second.amount == D("100.00")  # 300 cap − 200 already approved
    assert "300" in second.decision_note
    with pytest.raises(NotAllowed):
        schemes.approve_award(third, "", ps.head)
    assert third.status == AwardStatus.PROPOSED
    assert _compute(ps, OCTOBER)[ps.wang.id].bonus_amount == D("300.00")


def test_the_cap_is_per_teacher(catalogue):
    ps = catalogue
    schemes.approve_award(_propose(ps, ps.open_class, description="A"), "", ps.head)
    schemes.approve_award(_propose(ps, ps.open_class, description="B", day=date(2026, 10, 11)), "", ps.head)
    other = schemes.approve_award(_propose(ps, ps.open_class, staff=ps.zhao, description="C"), "", ps.head)
    assert other.amount == D("200.00")


def test_a_head_cannot_approve_their_own_bonus(catalogue):
    ps = catalogue
    head_as_teacher = factories.make_staff(ps.school, family_name="Head", given_name="Teacher", user=ps.head,
                                           subjects=[ps.math])
    award = _propose(ps, ps.open_class, staff=head_as_teacher)
    with pytest.raises(NotAllowed):
        schemes.approve_award(award, "", ps.head)
    assert award.status == AwardStatus.PROPOSED
    other_head = factories.make_user("head", unit=ps.school)
    assert schemes.approve_award(award, "", other_head).status == AwardStatus.APPROVED


def test_only_a_head_decides(catalogue):
    ps = catalogue
    award = _propose(ps, ps.open_class)
    with pytest.raises(NotAllowed):
        schemes.approve_award(award, "", ps.admin)
    with pytest.raises(NotAllowed):
        schemes.propose_award(ps.wang, ps.open_class, date(2026, 10, 10), "Self", "evidence", ps.wang.user)


def test_a_bonus_of_a_locked_month_is_paid_in_the_next_open_month(catalogue):
    ps = catalogue
    locked_run(ps, OCTOBER)
    award = _propose(ps, ps.open_class)
    schemes.approve_award(award, "", ps.head)
    assert award.pay_month == NOVEMBER
    november = _compute(ps, NOVEMBER)[ps.wang.id]
    assert november.bonus_amount == D("200.00")
    run = payruns.open_run(ps.school, NOVEMBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    assert _lines(run)[ps.wang.id].bonus_amount == D("200.00")


def test_a_bonus_of_an_approved_month_also_waits_for_the_next(catalogue):
    ps = catalogue
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    award = schemes.approve_award(_propose(ps, ps.open_class), "", ps.head)
    assert award.pay_month == NOVEMBER


def test_proposing_twice_returns_the_first(catalogue):
    ps = catalogue
    assert _propose(ps, ps.open_class).id == _propose(ps, ps.open_class).id


def test_approve_twice_changes_nothing_and_a_decided_award_cannot_be_rejected(catalogue):
    ps = catalogue
    award = _propose(ps, ps.open_class)
    schemes.approve_award(award, "", ps.head)
    decided_at = award.decided_at
    assert schemes.approve_award(award, "", ps.head).decided_at == decided_at
    with pytest.raises(InvalidTransition):
        schemes.reject_award(award, "Changed my mind", ps.head)


def test_a_rejected_award_is_never_paid(catalogue):
    ps = catalogue
    award = _propose(ps, ps.open_class)
    schemes.reject_award(award, "No evidence of the class", ps.head)
    assert award.status == AwardStatus.REJECTED and award.amount is None
    assert _compute(ps, OCTOBER)[ps.wang.id].bonus_amount == D("0.00")
    with pytest.raises(InvalidTransition):
        schemes.approve_award(award, "", ps.head)


def test_a_bonus_type_needs_an_amount_or_points_not_both(ready):
    ps = ready
    with pytest.raises(ValidationFailed):
        schemes.save_bonus_type(ps.school, {"code": "X", "name": "X", "amount": "10", "points": "2"}, ps.admin)
    with pytest.raises(ValidationFailed):
        schemes.save_bonus_type(ps.school, {"code": "Y", "name": "Y"}, ps.admin)


def test_a_bonus_approved_after_the_run_was_calculated_is_not_lost(catalogue):
    """The stale run cannot be approved; recalculated, it pays the bonus (found by this test, fixed in 14e9ea7)."""
    ps = catalogue
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    award = schemes.approve_award(_propose(ps, ps.open_class), "", ps.head)
    assert award.pay_month == OCTOBER
    with pytest.raises(InvalidTransition):
        payruns.approve_run(run, ps.head)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    payruns.lock_run(run, ps.admin)
    assert _lines(run)[ps.wang.id].bonus_amount == D("200.00")


def test_a_bonus_approved_after_the_run_was_approved_goes_to_the_next_month(catalogue):
    ps = catalogue
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    award = schemes.approve_award(_propose(ps, ps.open_class), "", ps.head)
    payruns.lock_run(run, ps.admin)  # not stale: the bonus waits for November
    assert award.pay_month == NOVEMBER
    assert _compute(ps, NOVEMBER)[ps.wang.id].bonus_amount == D("200.00")


@pytest.mark.parametrize(("points", "point_value", "amount"), [
    ("10.25", "0.10", "1.03"),  # 1.025 → half-up 1.03 (half-even would give 1.02)
    ("0.5", "0.05", "0.03"),    # 0.025 → 0.03 (half-even: 0.02)
    ("3", "33.33", "99.99"),
])
def test_points_are_valued_with_half_up_rounding(pay_school, points, point_value, amount):
    ps = pay_school
    save_test_scheme(ps.school, ps.admin, point_value=point_value)
    paper = schemes.save_bonus_type(ps.school, {"code": "PAPER", "name": "Published paper", "points": points},
                                    ps.admin)
    award = schemes.propose_award(ps.wang, paper, date(2026, 10, 10), "Paper", "doi:10/xyz", ps.admin)
    schemes.approve_award(award, "", ps.head)
    assert award.amount == D(amount)
