"""Properties of engine.calculate on random months (hypothesis), and the vectorised result compared line by line
with a slow, obvious reference written from the rules in engine's docstring. No database."""
from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.school.teaching import engine
from tests.school.pay.conftest import KINDS, month_inputs, scheme_info

D = Decimal
CENT, TENTH = D("0.01"), D("0.1")
MONTHS = (date(2026, 9, 1), date(2026, 10, 1), date(2027, 2, 1), date(2028, 2, 1))
FACTORS = ("1", "1.1", "1.125", "0.9", "1.333", "2.5")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _round(value: Decimal, step: Decimal = CENT) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)


# --- random months -------------------------------------------------------------------------------------------------


@dataclass
class Month:
    month: date
    schemes: list
    lessons: list      # (staff_id, dom, kind, tenths, class_id)
    staff: list        # (staff_id, first_dom, last_dom)
    homeroom: list
    awards: list
    classes: dict

    def inputs(self, lessons=None):
        return month_inputs(self.month, self.schemes, lessons=self.lessons if lessons is None else lessons,
                            staff=self.staff, homeroom=self.homeroom, awards=self.awards, classes=self.classes)


money = st.integers(min_value=0, max_value=20000).map(lambda cents: D(cents) / 100)


@st.composite
def schemes_for(draw, month: date):
    days = calendar.monthrange(month.year, month.month)[1]
    starts = [month - timedelta(days=draw(st.integers(0, 400)))]
    if draw(st.booleans()):
        starts.append(month.replace(day=draw(st.integers(2, days))))
    if len(starts) == 2 and draw(st.booleans()):
        later = month.replace(day=draw(st.integers(2, days)))
        if later not in starts:
            starts.append(later)
    result = []
    for number, start in enumerate(starts, start=1):
        multipliers = tuple(
            (draw(st.sampled_from(["class_size", "grade"])), low, low + draw(st.integers(0, 20)),
             draw(st.sampled_from(FACTORS)))
            for low in draw(st.lists(st.integers(0, 40), max_size=2)))
        result.append(scheme_info(
            number, effective_from=start, load=str(D(draw(st.integers(0, 800))) / 10),
            overtime=str(draw(money)), allowance=str(draw(money)),
            rates={kind: str(draw(money)) for kind in KINDS}, multipliers=multipliers))
    return result


@st.composite
def months(draw, max_staff: int = 4, max_lessons: int = 40):
    month = draw(st.sampled_from(MONTHS))
    days = calendar.monthrange(month.year, month.month)[1]
    schemes = draw(schemes_for(month))
    staff = []
    for staff_id in range(1, draw(st.integers(1, max_staff)) + 1):
        if draw(st.integers(0, 9)) == 0:
            staff.append((staff_id, 1, 0))  # not employed this month (joined after it or left before it)
            continue
        first = draw(st.integers(1, days))
        staff.append((staff_id, first, draw(st.integers(first, days))))
    employed = {s: (f, last) for s, f, last in staff}
    classes = {cid: (draw(st.integers(0, 60)), draw(st.integers(1, 12))) for cid in (1, 2, 3)}
    lessons = []
    for _ in range(draw(st.integers(0, max_lessons))):
        staff_id = draw(st.sampled_from(sorted(employed)))
        first, last = employed[staff_id]
        if first > last:
            first, last = 1, days  # a lesson of someone not employed still counts
        lessons.append((staff_id, draw(st.integers(first, last)), draw(st.sampled_from(KINDS)),
                        draw(st.integers(1, 30)), draw(st.sampled_from([-1, 1, 2, 3, 4]))))  # 4: unknown class
    homeroom = []
    for staff_id in draw(st.lists(st.sampled_from(sorted(employed)), max_size=3)):
        first = draw(st.integers(1, days))
        homeroom.append((staff_id, first, draw(st.integers(first, days))))
    awards = [(draw(st.sampled_from(sorted(employed))), number, f"award {number}", draw(money))
              for number in range(1, draw(st.integers(0, 3)) + 1)]
    return Month(month, schemes, lessons, staff, homeroom, awards, classes)


# --- the reference ------------------------------------------------------------------------------------------------


def _days(m: Month) -> int:
    return calendar.monthrange(m.month.year, m.month.month)[1]


def _scheme_on(m: Month, dom: int):
    """The scheme in effect on that day of the month (the latest started on or before it), or None."""
    day = m.month.replace(day=dom)
    current = None
    for scheme in sorted(m.schemes, key=lambda s: s.effective_from):
        if scheme.effective_from <= day:
            current = scheme
    return current


def _factor(m: Month, scheme, class_id: int) -> Decimal:
    size, grade = m.classes.get(class_id, (None, None))
    result = D("1")
    for basis, low, high, value in scheme.multipliers:
        measure = size if basis == "class_size" else grade
        if measure is not None and low <= measure <= high:
            result *= value
    return result


def _reference_lessons(m: Month) -> dict[int, dict]:
    """Per teacher: periods per (scheme, kind, factor) group — one lesson at a time."""
    groups: dict[int, dict] = {}
    for staff_id, dom, kind, tenths, class_id in m.lessons:
        scheme = _scheme_on(m, dom)
        if scheme is None:
            raise engine.MissingScheme(1, m.month.replace(day=dom))
        key = (scheme.id, kind, _factor(m, scheme, class_id))
        mine = groups.setdefault(staff_id, {})
        mine[key] = mine.get(key, D("0")) + D(tenths) / 10
    return groups


def _reference_allowances(m: Month) -> dict[int, Decimal]:
    """Per homeroom teacher: the allowance of each day employed as homeroom teacher, divided by the month's days."""
    employed = {s: (f, last) for s, f, last in m.staff}
    result = {}
    for staff_id in {h[0] for h in m.homeroom}:
        first, last = employed[staff_id]
        covered = {d for s, f, t in m.homeroom if s == staff_id for d in range(f, t + 1) if first <= d <= last}
        if covered:  # homeroom teacher only outside the employment: nothing to pay, no line
            allowances = [_scheme_on(m, d).homeroom_allowance for d in covered if _scheme_on(m, d) is not None]
            result[staff_id] = _round(sum(allowances, D("0")) / _days(m))
    return result


def reference(m: Month) -> dict[int, dict]:
    """The rules of the engine's docstring, the slow and obvious way: a loop per lesson, per day, per award."""
    days = _days(m)
    employed = {s: (f, last) for s, f, last in m.staff}
    groups = _reference_lessons(m)
    allowances = _reference_allowances(m)
    bonuses: dict[int, Decimal] = {}
    for staff_id, _id, _name, amount in m.awards:
        bonuses[staff_id] = bonuses.get(staff_id, D("0")) + amount
    result = {}
    for staff_id in set(groups) | set(allowances) | set(bonuses):
        first, last = employed[staff_id]
        lesson_amount, periods = D("0"), D("0")
        for (scheme_id, kind, value), group_periods in groups.get(staff_id, {}).items():
            scheme = next(s for s in m.schemes if s.id == scheme_id)
            lesson_amount += _round(group_periods * scheme.rates[kind] * value)
            periods += group_periods
        in_effect = [_scheme_on(m, d) for d in range(first, last + 1) if _scheme_on(m, d) is not None]
        over, overtime = D("0"), D("0.00")
        if in_effect:
            load = _round(sum((s.standard_monthly_periods for s in in_effect), D("0")) / days, TENTH)
            over = max(periods - load, D("0"))
            overtime = _round(over * in_effect[-1].overtime_rate)
        allowance, bonus = allowances.get(staff_id, D("0.00")), _round(bonuses.get(staff_id, D("0")))
        result[staff_id] = {"periods": periods, "lesson_amount": _round(lesson_amount), "overtime_periods": over,
                            "overtime_amount": overtime, "allowance_amount": allowance, "bonus_amount": bonus,
                            "total": _round(lesson_amount) + overtime + allowance + bonus,
                            "proration": _round(D(max(last - first + 1, 0)) / days, D("0.0001")),
                            "scheme_id": in_effect[-1].id if in_effect else None}
    return result


def _as_dict(lines) -> dict[int, dict]:
    return {line.staff_id: {"periods": line.periods, "lesson_amount": line.lesson_amount,
                            "overtime_periods": line.overtime_periods, "overtime_amount": line.overtime_amount,
                            "allowance_amount": line.allowance_amount, "bonus_amount": line.bonus_amount,
                            "total": line.total, "proration": line.proration, "scheme_id": line.scheme_id}
            for line in lines}


# --- properties ------------------------------------------------------------------------------------------------------


@SETTINGS
@given(months())
def test_total_is_the_sum_of_its_parts(m):
    for line in engine.calculate(m.inputs()):
        assert line.total == line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount
        assert sum((D(r["amount"]) for r in line.detail["lessons"]), D("0")) == line.lesson_amount
        assert sum((D(r["periods"]) for r in line.detail["lessons"]), D("0")) == line.periods
        for part in (line.lesson_amount, line.overtime_amount, line.allowance_amount, line.bonus_amount,
                     line.total):
            assert isinstance(part, Decimal) and part == part.quantize(CENT)
        assert line.overtime_periods >= 0 and line.overtime_amount >= 0


@SETTINGS
@given(months(), st.data())
def test_adding_a_lesson_never_lowers_anyones_pay(m, data):
    before = {line.staff_id: line.total for line in engine.calculate(m.inputs())}
    staff_id, first, last = data.draw(st.sampled_from(m.staff))
    if first > last:
        first, last = 1, 28
    extra = (staff_id, data.draw(st.integers(first, last)), data.draw(st.sampled_from(KINDS)),
             data.draw(st.integers(1, 30)), data.draw(st.sampled_from([-1, 1, 2, 3])))
    after = {line.staff_id: line.total for line in engine.calculate(m.inputs(m.lessons + [extra]))}
    for teacher, total in before.items():
        assert after[teacher] >= total, (teacher, total, after[teacher])
    assert after[staff_id] >= before.get(staff_id, D("0"))
    for teacher in set(after) - set(before) - {staff_id}:
        raise AssertionError(f"a line appeared for {teacher}, who got no lesson")


@SETTINGS
@given(months(), st.randoms(use_true_random=False))
def test_permuting_lesson_rows_changes_nothing(m, rnd):
    shuffled = list(m.lessons)
    rnd.shuffle(shuffled)
    first = engine.calculate(m.inputs())
    second = engine.calculate(m.inputs(shuffled))
    assert _as_dict(first) == _as_dict(second)
    for a, b in zip(first, second, strict=True):
        assert sorted(a.detail["lessons"], key=str) == sorted(b.detail["lessons"], key=str)


@SETTINGS
@given(months())
def test_pandas_result_equals_the_slow_reference(m):
    assert _as_dict(engine.calculate(m.inputs())) == reference(m)


@pytest.mark.parametrize("seed", range(8))
def test_pandas_equals_reference_on_bigger_seeded_months(seed):
    """Larger months than hypothesis draws: 30 teachers, up to 600 lessons, schemes changing mid-month."""
    rnd = random.Random(seed)
    month = MONTHS[seed % len(MONTHS)]
    days = calendar.monthrange(month.year, month.month)[1]
    schemes = [scheme_info(1, effective_from=month - timedelta(days=rnd.randint(0, 90)),
                           load=str(D(rnd.randint(0, 900)) / 10), overtime=str(D(rnd.randint(0, 9999)) / 100),
                           allowance=str(D(rnd.randint(0, 99999)) / 100),
                           rates={k: str(D(rnd.randint(0, 9999)) / 100) for k in KINDS},
                           multipliers=(("class_size", 40, 60, "1.125"), ("grade", 9, 9, "1.1"))),
               scheme_info(2, effective_from=month.replace(day=rnd.randint(2, days)),
                           load=str(D(rnd.randint(0, 900)) / 10), overtime=str(D(rnd.randint(0, 9999)) / 100),
                           allowance=str(D(rnd.randint(0, 99999)) / 100),
                           rates={k: str(D(rnd.randint(0, 9999)) / 100) for k in KINDS},
                           multipliers=(("class_size", 0, 35, "0.9"),))]
    staff = []
    for staff_id in range(1, 31):
        first = rnd.choice([1, 1, 1, rnd.randint(1, days)])
        staff.append((staff_id, first, rnd.choice([days, days, rnd.randint(first, days)])))
    classes = {cid: (rnd.randint(20, 60), rnd.randint(7, 9)) for cid in range(1, 9)}
    lessons = []
    for _ in range(rnd.randint(100, 600)):
        staff_id, first, last = rnd.choice(staff)
        lessons.append((staff_id, rnd.randint(first, last), rnd.choice(KINDS), rnd.choice([10, 10, 10, 5, 15, 1]),
                        rnd.choice([-1, *classes])))
    homeroom = [(s, 1, days) for s, _f, _l in rnd.sample(staff, 8)]
    awards = [(rnd.choice(staff)[0], n, f"award {n}", D(rnd.randint(1, 50000)) / 100) for n in range(1, 10)]
    m = Month(month, schemes, lessons, staff, homeroom, awards, classes)
    assert _as_dict(engine.calculate(m.inputs())) == reference(m)
