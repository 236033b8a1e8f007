"""engine.calculate on hand-built months: exact Decimal money, rounding per group, overtime boundaries,
proration, schemes changing mid-month, allowance and bonuses. No database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.school.teaching import engine
from tests.school.pay.conftest import line_of, month_inputs, scheme_info

D = Decimal
SEPT = date(2026, 9, 1)   # 30 days
OCT = date(2026, 10, 1)   # 31 days
FEB = date(2027, 2, 1)    # 28 days


def _calc(month=SEPT, schemes=None, **kwargs):
    return engine.calculate(month_inputs(month, schemes or [scheme_info()], **kwargs))


def _assert_money(value):
    assert isinstance(value, Decimal), f"{value!r} is not a Decimal"
    assert value == value.quantize(D("0.01")) and value.as_tuple().exponent == -2, value


def _assert_explains_itself(line):
    for part in (line.lesson_amount, line.overtime_amount, line.allowance_amount, line.bonus_amount, line.total):
        _assert_money(part)
    assert line.total == line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount
    assert sum((D(row["amount"]) for row in line.detail["lessons"]), D("0")) == line.lesson_amount
    assert sum((D(row["periods"]) for row in line.detail["lessons"]), D("0")) == line.periods
    assert sum((D(b["amount"]) for b in line.detail["bonuses"]), D("0")) == line.bonus_amount
    assert D(line.detail["total"]) == line.total


# --- exact rate arithmetic ---------------------------------------------------------------------------------------


def test_three_periods_at_33_33_is_99_99_exactly():
    lines = _calc(schemes=[scheme_info(rates={"regular": "33.33"}, load="100")],
                  lessons=[(1, 2, "regular", 10), (1, 3, "regular", 10), (1, 4, "regular", 10)],
                  staff=[(1, 1, 30)])
    line = line_of(lines, 1)
    assert line.periods == D("3.0")
    assert line.lesson_amount == D("99.99")
    assert line.total == D("99.99")
    _assert_explains_itself(line)


def test_tenth_period_steps_are_rounded_once_per_group_not_per_lesson():
    # 3 × 0.1 period at 33.33: per group 0.3 × 33.33 = 9.999 → 10.00 (per lesson it would be 3 × 3.33 = 9.99)
    lines = _calc(schemes=[scheme_info(rates={"regular": "33.33"}, load="100")],
                  lessons=[(1, 2, "regular", 1), (1, 3, "regular", 1), (1, 4, "regular", 1)], staff=[(1, 1, 30)])
    line = line_of(lines, 1)
    assert line.periods == D("0.3")
    assert line.lesson_amount == D("10.00")
    assert len(line.detail["lessons"]) == 1
    _assert_explains_itself(line)


def test_rounding_is_half_up_not_half_even():
    # 0.5 × 33.33 = 16.665 → 16.67 (half-even would give 16.66); 1 × 1.00 × 1.125 = 1.125 → 1.13 (not 1.12)
    lines = _calc(schemes=[scheme_info(rates={"regular": "33.33", "extra": "1.00"}, load="100",
                                       multipliers=(("grade", 7, 7, "1.125"),))],
                  lessons=[(1, 2, "regular", 5), (1, 3, "extra", 10, 70)], staff=[(1, 1, 30)],
                  classes={70: (30, 7)})
    line = line_of(lines, 1)
    amounts = {row["kind"]: D(row["amount"]) for row in line.detail["lessons"]}
    assert amounts == {"regular": D("16.67"), "extra": D("1.13")}
    assert line.lesson_amount == D("17.80")
    _assert_explains_itself(line)


def test_factor_1_125_applies_to_the_matching_class_only_and_groups_by_factor():
    scheme = scheme_info(rates={"regular": "45.50"}, load="100", multipliers=(("class_size", 40, 60, "1.125"),))
    lines = _calc(schemes=[scheme], classes={1: (45, 7), 2: (30, 7)},
                  lessons=[(1, 2, "regular", 10, 1), (1, 3, "regular", 10, 1), (1, 4, "regular", 10, 2)],
                  staff=[(1, 1, 30)])
    line = line_of(lines, 1)
    rows = sorted((D(r["factor"]), D(r["periods"]), D(r["amount"])) for r in line.detail["lessons"])
    # 2 × 45.50 × 1.125 = 102.375 → 102.38 ; 1 × 45.50 = 45.50
    assert rows == [(D("1"), D("1.0"), D("45.50")), (D("1.125"), D("2.0"), D("102.38"))]
    assert line.lesson_amount == D("147.88")
    _assert_explains_itself(line)


def test_matching_multipliers_multiply():
    scheme = scheme_info(rates={"regular": "40"}, load="100",
                         multipliers=(("class_size", 40, 99, "1.1"), ("grade", 9, 9, "1.125")))
    lines = _calc(schemes=[scheme], classes={1: (45, 9)}, lessons=[(1, 2, "regular", 10, 1)], staff=[(1, 1, 30)])
    row = line_of(lines, 1).detail["lessons"][0]
    assert D(row["factor"]) == D("1.2375")
    assert D(row["amount"]) == D("49.50")  # 40 × 1.2375


def test_every_kind_has_its_own_rate_and_detail_row():
    rates = {"regular": "50", "cover": "60", "extra": "55", "open_class": "100", "invigilation": "20",
             "homeroom": "40"}
    lines = _calc(schemes=[scheme_info(rates=rates, load="100")], staff=[(1, 1, 30)],
                  lessons=[(1, dom, kind, 15) for dom, kind in enumerate(rates, start=1)])
    line = line_of(lines, 1)
    amounts = {row["kind"]: D(row["amount"]) for row in line.detail["lessons"]}
    assert amounts == {kind: (D("1.5") * D(rate)).quantize(D("0.01")) for kind, rate in rates.items()}
    assert line.detail["by_kind"] == {kind: "1.5" for kind in rates}
    _assert_explains_itself(line)


def test_money_is_never_float():
    lines = _calc(schemes=[scheme_info(rates={"regular": "33.33"}, load="1")], staff=[(1, 1, 30), (2, 1, 30)],
                  lessons=[(1, 2, "regular", 7), (1, 3, "regular", 13)], homeroom=[(2, 1, 30)],
                  awards=[(2, 9, "Open class", D("120.50"))])
    for line in lines:
        for name in ("periods", "lesson_amount", "overtime_periods", "overtime_amount", "allowance_amount",
                     "bonus_amount", "total", "proration"):
            assert isinstance(getattr(line, name), Decimal), name
        _assert_explains_itself(line)


# --- overtime boundaries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tenths", "over", "amount"), [
    (99, "0.0", "0.00"),     # just under the load
    (100, "0.0", "0.00"),    # exactly the load: no overtime
    (101, "0.1", "3.00"),    # load + 0.1 → 0.1 × 30
    (125, "2.5", "75.00"),
])
def test_overtime_threshold(tenths, over, amount):
    lines = _calc(schemes=[scheme_info(load="10", overtime="30", rates={"regular": "50"})],
                  lessons=[(1, 2, "regular", tenths)], staff=[(1, 1, 30)])
    line = line_of(lines, 1)
    assert line.overtime_periods == D(over)
    assert line.overtime_amount == D(amount)
    assert D(line.detail["overtime"]["load"]) == D("10.0")
    _assert_explains_itself(line)


def test_overtime_premium_is_exact_on_odd_rates():
    # 0.3 over at 33.35 = 10.005 → 10.01
    lines = _calc(schemes=[scheme_info(load="10", overtime="33.35")], lessons=[(1, 2, "regular", 103)],
                  staff=[(1, 1, 30)])
    assert line_of(lines, 1).overtime_amount == D("10.01")


def test_joining_on_the_16th_halves_the_load():
    # September has 30 days: employed 16..30 = 15 days → load 10 × 15/30 = 5
    lines = _calc(schemes=[scheme_info(load="10", overtime="30")], staff=[(1, 16, 30)],
                  lessons=[(1, 17, "regular", 50), (1, 18, "regular", 10)])
    line = line_of(lines, 1)
    assert line.proration == D("0.5000")
    assert D(line.detail["overtime"]["load"]) == D("5.0")
    assert line.overtime_periods == D("1.0")
    assert line.overtime_amount == D("30.00")
    assert line.detail["employment"]["days"] == 15


def test_at_the_prorated_load_there_is_no_overtime():
    lines = _calc(schemes=[scheme_info(load="10")], staff=[(1, 16, 30)], lessons=[(1, 17, "regular", 50)])
    assert line_of(lines, 1).overtime_periods == D("0.0")
    lines = _calc(schemes=[scheme_info(load="10")], staff=[(1, 16, 30)], lessons=[(1, 17, "regular", 51)])
    assert line_of(lines, 1).overtime_periods == D("0.1")


def test_leaving_mid_month_prorates_load_and_allowance():
    # leaves on 10 September: 10 of 30 days → load 10 × 10/30 = 3.33 → 3.3; allowance 600 × 10/30 = 200
    lines = _calc(schemes=[scheme_info(load="10", overtime="30", allowance="600")], staff=[(1, 1, 10)],
                  lessons=[(1, 2, "regular", 40)], homeroom=[(1, 1, 30)])
    line = line_of(lines, 1)
    assert D(line.detail["overtime"]["load"]) == D("3.3")
    assert line.overtime_periods == D("0.7")
    assert line.overtime_amount == D("21.00")
    assert line.allowance_amount == D("200.00")
    assert line.proration == D("0.3333")
    _assert_explains_itself(line)


def test_homeroom_allowance_per_day_in_a_31_day_month():
    # 600 × 10 / 31 = 193.548… → 193.55
    lines = _calc(month=OCT, schemes=[scheme_info(allowance="600")], staff=[(1, 1, 31)], homeroom=[(1, 22, 31)])
    line = line_of(lines, 1)
    assert line.allowance_amount == D("193.55")
    assert line.detail["allowance"]["days"] == 10
    assert line.lesson_amount == D("0.00") and line.overtime_amount == D("0.00")
    _assert_explains_itself(line)


def test_full_month_homeroom_is_the_whole_allowance_whatever_the_month_length():
    for month, days in ((SEPT, 30), (OCT, 31), (FEB, 28)):
        lines = _calc(month=month, schemes=[scheme_info(allowance="733.33")], staff=[(1, 1, days)],
                      homeroom=[(1, 1, days)])
        assert line_of(lines, 1).allowance_amount == D("733.33"), month


def test_two_homeroom_assignments_overlapping_count_each_day_once():
    lines = _calc(schemes=[scheme_info(allowance="300")], staff=[(1, 1, 30)], homeroom=[(1, 1, 20), (1, 11, 30)])
    assert line_of(lines, 1).allowance_amount == D("300.00")


# --- schemes changing mid-month ------------------------------------------------------------------------------------


def test_scheme_change_mid_month_prices_each_lesson_by_its_day():
    old = scheme_info(1, effective_from=date(2026, 1, 1), load="10", overtime="30", allowance="600",
                      rates={"regular": "50"})
    new = scheme_info(2, effective_from=date(2026, 9, 16), load="20", overtime="40", allowance="900",
                      rates={"regular": "60"})
    lines = _calc(schemes=[new, old], staff=[(1, 1, 30)],
                  lessons=[(1, 10, "regular", 10), (1, 15, "regular", 10), (1, 16, "regular", 10),
                           (1, 20, "regular", 10)],
                  homeroom=[(1, 1, 30)])
    line = line_of(lines, 1)
    by_scheme = {row["scheme"]: (D(row["periods"]), D(row["amount"])) for row in line.detail["lessons"]}
    assert by_scheme == {1: (D("2.0"), D("100.00")), 2: (D("2.0"), D("120.00"))}
    assert line.lesson_amount == D("220.00")
    assert line.detail["schemes"] == [1, 2]
    assert line.scheme_id == 2  # the one in effect on the last day
    # load: (15 days × 10 + 15 days × 20) / 30 = 15; allowance: (15 × 600 + 15 × 900) / 30 = 750
    assert D(line.detail["overtime"]["load"]) == D("15.0")
    assert line.overtime_amount == D("0.00")
    assert line.allowance_amount == D("750.00")
    _assert_explains_itself(line)


def test_overtime_premium_is_the_one_of_the_last_employed_day():
    old = scheme_info(1, effective_from=date(2026, 1, 1), load="10", overtime="30")
    new = scheme_info(2, effective_from=date(2026, 9, 16), load="10", overtime="40")
    leaver = _calc(schemes=[old, new], staff=[(1, 1, 15)], lessons=[(1, 2, "regular", 60)])
    stayer = _calc(schemes=[old, new], staff=[(1, 1, 30)], lessons=[(1, 2, "regular", 110)])
    assert line_of(leaver, 1).detail["overtime"]["rate"] == "30" and line_of(leaver, 1).scheme_id == 1
    assert line_of(leaver, 1).overtime_amount == D("30.00")  # load 5, 1 over × 30
    assert line_of(stayer, 1).overtime_amount == D("40.00")  # load 10, 1 over × 40


def test_a_lesson_before_any_scheme_is_refused():
    with pytest.raises(engine.MissingScheme) as raised:
        _calc(schemes=[scheme_info(effective_from=date(2026, 9, 10))], staff=[(1, 1, 30)],
              lessons=[(1, 3, "regular", 10)])
    assert raised.value.day == date(2026, 9, 3)


def test_a_school_without_any_scheme_is_refused_with_missing_scheme():
    with pytest.raises(engine.MissingScheme):
        engine.calculate(month_inputs(SEPT, [], staff=[(1, 1, 30)], lessons=[(1, 3, "regular", 10)]))


# --- bonuses and who gets a line ----------------------------------------------------------------------------------


def test_bonuses_are_added_as_approved():
    lines = _calc(staff=[(1, 1, 30)], awards=[(1, 7, "Open class", D("150.00")), (1, 8, "Paper", D("99.99"))])
    line = line_of(lines, 1)
    assert line.bonus_amount == D("249.99")
    assert [b["award"] for b in line.detail["bonuses"]] == [7, 8]
    assert line.total == D("249.99")
    _assert_explains_itself(line)


def test_one_line_per_teacher_with_something_to_pay_sorted_by_id():
    lines = _calc(staff=[(3, 1, 30), (1, 1, 30), (2, 1, 30), (4, 1, 30)],
                  lessons=[(3, 2, "regular", 10)], homeroom=[(1, 1, 30)], awards=[(2, 1, "Paper", D("10"))])
    assert [line.staff_id for line in lines] == [1, 2, 3]


def test_no_lessons_no_lines():
    assert _calc(staff=[(1, 1, 30)]) == []


def test_someone_not_employed_this_month_gets_no_allowance_and_no_load():
    # (1, 0): joined after the month or left before it; their bonus and any lesson recorded still count
    lines = _calc(staff=[(1, 1, 0)], homeroom=[(1, 1, 30)], awards=[(1, 3, "Late bonus", D("80.00"))],
                  lessons=[(1, 5, "regular", 10)])
    line = line_of(lines, 1)
    assert line.allowance_amount == D("0.00") and line.overtime_amount == D("0.00")
    assert line.proration == D("0.0000") and line.detail["employment"]["days"] == 0
    assert line.total == D("50.00") + D("80.00")
