"""The pay calculation: pure, vectorised with pandas, exact in money.

Input frames (see `MonthInputs`); output: one `LineResult` per teacher, each explaining itself. The rules:

- every lesson taught (not cancelled) is paid `periods × rate(kind) × factor` under the scheme in effect on the
  lesson's day; `factor` is the product of the scheme's multipliers matching the lesson's class (size, grade);
- amounts are summed per (scheme, kind, factor) group and each group is rounded half-up to the cent once, so the
  statement's rows add up to the line exactly;
- overtime: periods above the standard load are paid the overtime premium on top. The load is the standard
  monthly periods spread over the month's days, counted for the days the teacher was employed (a teacher who
  joins on the 16th of a 30-day month has half the load); the premium is the one of the scheme in effect on the
  teacher's last employed day of the month;
- the homeroom allowance is paid per day as homeroom teacher (allowance ÷ days in month, each day under its own
  scheme);
- approved bonus awards of the month are added as approved (their cap was applied on approval).

Arithmetic runs on integers (periods in tenths, money in cents, factors in thousandths) until the final Decimal
per group: no float ever touches money.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class SchemeInfo:
    id: int
    school_id: int
    name: str
    effective_from: date
    standard_monthly_periods: Decimal
    overtime_rate: Decimal
    homeroom_allowance: Decimal
    rates: dict[str, Decimal]
    multipliers: tuple[tuple[str, int, int, Decimal], ...] = ()  # (basis, low, high, factor)

    def factor(self, size: int | None, grade: int | None) -> Decimal:
        result = Decimal("1")
        for basis, low, high, value in self.multipliers:
            measure = size if basis == "class_size" else grade
            if measure is not None and low <= measure <= high:
                result *= value
        return result


@dataclass
class MonthInputs:
    """Everything one month's calculation reads.

    lessons: columns staff_id, school_id, dom (day of month, 1..31), kind, tenths (periods × 10), class_id (or -1);
             one row per lesson, or rows already summed over days priced by the same scheme (any `dom` of the
             segment then stands for all of them) — the sums are the same.
    staff: columns staff_id, school_id, first_dom, last_dom (the days of the month the teacher was employed;
           first_dom > last_dom when not employed at all that month).
    homeroom: columns staff_id, first_dom, last_dom (one row per homeroom assignment clipped to the month).
    awards: columns staff_id, award_id, name, amount (Decimal).
    classes: {class_id: (size, grade)}.
    """

    month: date
    schemes: list[SchemeInfo]
    lessons: pd.DataFrame
    staff: pd.DataFrame
    homeroom: pd.DataFrame
    awards: pd.DataFrame
    classes: dict[int, tuple[int | None, int | None]]


@dataclass
class LineResult:
    staff_id: int
    school_id: int
    scheme_id: int | None
    periods: Decimal
    lesson_amount: Decimal
    overtime_periods: Decimal
    overtime_amount: Decimal
    allowance_amount: Decimal
    bonus_amount: Decimal
    total: Decimal
    proration: Decimal
    detail: dict = field(default_factory=dict)


class MissingScheme(Exception):
    """A lesson falls on a day no pay scheme of its school covers."""

    def __init__(self, school_id: int, day: date):
        super().__init__(f"no pay scheme of school {school_id} in effect on {day}")
        self.school_id, self.day = school_id, day


def month_days(month: date) -> int:
    first = month.replace(day=1)
    return ((first + timedelta(days=32)).replace(day=1) - first).days


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _scheme_by_day(schemes: list[SchemeInfo], month: date) -> pd.DataFrame:
    """(school_id, dom) → scheme_id for every day of the month a scheme covers."""
    rows = []
    days = month_days(month)
    by_school: dict[int, list[SchemeInfo]] = {}
    for scheme in schemes:
        by_school.setdefault(scheme.school_id, []).append(scheme)
    for school_id, items in by_school.items():
        items.sort(key=lambda s: s.effective_from)
        for dom in range(1, days + 1):
            day = month.replace(day=dom)
            current = None
            for scheme in items:
                if scheme.effective_from <= day:
                    current = scheme
            if current is not None:
                rows.append((school_id, dom, current.id))
    return pd.DataFrame(rows, columns=["school_id", "dom", "scheme_id"])


def calculate(inputs: MonthInputs) -> list[LineResult]:
    """One line per teacher who taught, was homeroom teacher, or has a bonus this month."""
    return _Month(inputs).calculate()


class _Month:
    """One month's calculation, step by step (each step adds to the lines)."""

    def __init__(self, inputs: MonthInputs):
        self.inputs = inputs
        self.month = inputs.month.replace(day=1)
        self.days = month_days(self.month)
        self.schemes = {s.id: s for s in inputs.schemes}
        self.scheme_days = _scheme_by_day(inputs.schemes, self.month)
        # staff_id → (school_id, first_dom, last_dom): plain tuples, read once per line (not pandas .loc per row)
        self.staff = {int(i): (int(school), int(a), int(b)) for i, school, a, b in
                      inputs.staff[["staff_id", "school_id", "first_dom", "last_dom"]].itertuples(index=False)}
        self.results: dict[int, LineResult] = {}
        # per school and day of month: the scheme in effect (None before the first one)
        self.scheme_at: dict[int, list[int | None]] = {}
        for school_id, dom, scheme_id in self.scheme_days.itertuples(index=False):
            self.scheme_at.setdefault(int(school_id), [None] * (self.days + 1))[int(dom)] = int(scheme_id)

    def calculate(self) -> list[LineResult]:
        self._lessons()
        self._homeroom()
        self._bonuses()
        self._overtime()
        for line in self.results.values():
            line.lesson_amount = _money(line.lesson_amount)
            line.bonus_amount = _money(line.bonus_amount)
            line.total = line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount
            line.detail["total"] = str(line.total)
        return [self.results[k] for k in sorted(self.results)]

    def _at(self, school_id: int) -> list[int | None]:
        return self.scheme_at.get(school_id, [None] * (self.days + 1))

    def _line(self, staff_id: int) -> LineResult:
        line = self.results.get(staff_id)
        if line is None:
            school_id, first_dom, last_dom = self.staff[staff_id]
            employed = max(last_dom - first_dom + 1, 0)  # 0: not employed this month (lessons still count)
            proration = (Decimal(employed) / Decimal(self.days)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            zero, none = Decimal("0.00"), Decimal("0.0")
            dates = {"from": self.month.replace(day=first_dom).isoformat(),
                     "to": self.month.replace(day=last_dom).isoformat()} if employed else {"from": None, "to": None}
            line = LineResult(staff_id, school_id, None, none, zero, none, zero, zero, zero, zero, proration,
                              {"lessons": [], "by_kind": {}, "bonuses": [],
                               "employment": {**dates, "days": employed, "month_days": self.days,
                                              "proration": str(proration)}})
            self.results[staff_id] = line
        return line

    def _groups(self) -> tuple[pd.DataFrame, list[Decimal]]:
        """Periods (in tenths) per teacher, scheme, kind and factor: the only pass over the lesson rows."""
        lessons = self.inputs.lessons
        if not len(lessons):
            return pd.DataFrame(columns=["staff_id", "scheme_id", "kind", "factor_code", "tenths"]), []
        frame = lessons.merge(self.scheme_days, on=["school_id", "dom"], how="left")
        if frame["scheme_id"].isna().any():
            first = frame[frame["scheme_id"].isna()].iloc[0]
            raise MissingScheme(int(first["school_id"]), self.month.replace(day=int(first["dom"])))
        frame["scheme_id"] = frame["scheme_id"].astype("int64")
        # the factor of each (scheme, class) pair, coded as an integer for a fast group-by
        pairs = frame[["scheme_id", "class_id"]].drop_duplicates()
        factors: list[Decimal] = []
        code_of: dict[Decimal, int] = {}
        known: dict[tuple, int] = {}
        codes = []
        for scheme_id, class_id in zip(pairs["scheme_id"].tolist(), pairs["class_id"].tolist(), strict=True):
            size, grade = self.inputs.classes.get(class_id, (None, None))
            key = (scheme_id, size, grade)
            if key not in known:
                value = self.schemes[scheme_id].factor(size, grade)
                if value not in code_of:
                    code_of[value] = len(factors)
                    factors.append(value)
                known[key] = code_of[value]
            codes.append(known[key])
        pairs = pairs.assign(factor_code=np.array(codes, dtype="int64"))
        frame = frame.merge(pairs, on=["scheme_id", "class_id"], how="left")
        groups = (frame.groupby(["staff_id", "scheme_id", "kind", "factor_code"], observed=True, sort=True)["tenths"]
                  .sum().reset_index())
        return groups, factors

    def _lessons(self) -> None:
        """Lesson amounts, one rounded amount per group."""
        groups, factors = self._groups()
        columns = [groups[name].tolist() for name in ("staff_id", "scheme_id", "kind", "factor_code", "tenths")]
        for staff_id, scheme_id, kind, factor_code, tenths in zip(*columns, strict=True):
            line = self._line(staff_id)
            scheme = self.schemes[scheme_id]
            kind = str(kind)
            periods = Decimal(tenths) * TENTH
            rate = scheme.rates.get(kind, Decimal("0"))
            factor = factors[factor_code]
            amount = _money(periods * rate * factor)
            line.detail["lessons"].append({"kind": kind, "scheme": scheme.id, "periods": str(periods),
                                           "rate": str(rate), "factor": str(factor), "amount": str(amount)})
            line.detail["by_kind"][kind] = str(Decimal(line.detail["by_kind"].get(kind, "0")) + periods)
            line.periods += periods
            line.lesson_amount += amount

    def _homeroom(self) -> None:
        """The allowance per day as homeroom teacher (while employed), each day under its own scheme."""
        covered: dict[int, set[int]] = {}
        frame = self.inputs.homeroom
        for staff_id, first_dom, last_dom in zip(frame["staff_id"].tolist(), frame["first_dom"].tolist(),
                                                 frame["last_dom"].tolist(), strict=True):
            if staff_id not in self.staff:
                continue
            _school, employed_from, employed_to = self.staff[staff_id]
            covered.setdefault(staff_id, set()).update(range(max(first_dom, employed_from),
                                                             min(last_dom, employed_to) + 1))
        for staff_id, days in covered.items():
            if not days:
                continue
            line = self._line(staff_id)
            at = self._at(line.school_id)
            total = sum((self.schemes[at[d]].homeroom_allowance for d in days if at[d] is not None), Decimal("0"))
            amount = _money(total / Decimal(self.days))
            line.allowance_amount = amount
            line.detail["allowance"] = {"days": len(days), "month_days": self.days, "amount": str(amount)}

    def _bonuses(self) -> None:
        """Approved bonus awards of the month, as approved (the cap was applied then)."""
        for award in self.inputs.awards.itertuples(index=False):
            if int(award.staff_id) not in self.staff:
                continue
            line = self._line(int(award.staff_id))
            amount = Decimal(award.amount)
            line.bonus_amount += amount
            line.detail["bonuses"].append({"award": int(award.award_id), "name": str(award.name),
                                           "amount": str(amount)})

    def _overtime(self) -> None:
        """Periods above the load (the standard spread over the days employed) earn the premium."""
        for line in self.results.values():
            _school, first_dom, last_dom = self.staff[line.staff_id]
            at = self._at(line.school_id)
            in_effect = [at[d] for d in range(first_dom, last_dom + 1) if at[d] is not None]
            line.detail["schemes"] = sorted(set(in_effect))
            if not in_effect:
                continue
            line.scheme_id = in_effect[-1]
            load = (sum((self.schemes[i].standard_monthly_periods for i in in_effect), Decimal("0"))
                    / Decimal(self.days)).quantize(TENTH, rounding=ROUND_HALF_UP)
            over = max(line.periods - load, Decimal("0.0"))
            rate = self.schemes[line.scheme_id].overtime_rate
            line.overtime_periods = over
            line.overtime_amount = _money(over * rate)
            line.detail["overtime"] = {"load": str(load), "periods": str(over), "rate": str(rate),
                                       "amount": str(line.overtime_amount), "scheme": line.scheme_id}
