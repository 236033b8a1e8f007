"""Pay schemes (dated; a scheme a locked run used never changes: a change is a new scheme from a later date), the
bonus catalogue, and bonus awards (proposed with evidence, decided by a head, the amount fixed on approval within
the type's monthly cap)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition, NotAllowed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.general.org.models import OrgUnit
from app.school.classes.services.common import lock_row
from app.school.staff.models import StaffMember
from app.school.teaching.calendar import first_of_month, next_month
from app.school.teaching.models import (
    PAID_KINDS,
    AwardStatus,
    BonusAward,
    BonusType,
    MultiplierBasis,
    PayMultiplier,
    PayRate,
    PayRun,
    PayRunStatus,
    PayScheme,
)
from app.school.teaching.services.common import (
    actor_id,
    check_reach,
    clean_date,
    clean_decimal,
    clean_money,
    clean_optional_text,
    clean_text,
    guarded_flush,
    lock,
    money,
    raise_if,
)


def _rate_message() -> str:
    return _("Enter an amount such as 45 or 45.50 (0 or more).")


def scheme_in_effect(school_id: int, day: date) -> PayScheme | None:
    return db.session.scalar(sa.select(PayScheme).where(PayScheme.school_id == school_id,
                                                        PayScheme.effective_from <= day)
                             .order_by(PayScheme.effective_from.desc()).limit(1))


def scheme_is_used(scheme: PayScheme) -> bool:
    """True when an approved or locked run covers a month on or after the scheme's start (its figures are paid)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(PayRun).where(
        PayRun.school_id == scheme.school_id, PayRun.month >= first_of_month(scheme.effective_from),
        PayRun.status.in_([PayRunStatus.APPROVED, PayRunStatus.LOCKED]))) > 0


def _clean_scheme(data: dict) -> tuple[dict, dict[str, str | None]]:
    errors: dict[str, str | None] = {}
    clean: dict[str, Any] = {}
    clean["name"], errors["name"] = clean_text(data.get("name"), missing=_("Give the scheme a name."))
    clean["effective_from"], errors["effective_from"] = clean_date(
        data.get("effective_from"), missing=_("Enter the day the scheme applies from."))
    clean["standard_monthly_periods"], errors["standard_monthly_periods"] = clean_decimal(
        data.get("standard_monthly_periods"), low=Decimal("0"), high=Decimal("400"), places=1,
        message=_("Enter the standard load in periods per month, such as 64."))
    for name in ("overtime_rate", "homeroom_allowance", "point_value"):
        clean[name], errors[name] = clean_money(data.get(name, "0"), message=_rate_message())
    rates = {}
    for kind in PAID_KINDS:
        rates[kind.value], errors[f"rate_{kind.value}"] = clean_money(data.get(f"rate_{kind.value}", "0"),
                                                                     message=_rate_message())
    clean["rates"] = rates
    multipliers = []
    for number, item in enumerate(data.get("multipliers") or []):
        if not any(str(item.get(k) or "").strip() for k in ("low", "high", "factor")):
            continue
        problem = None
        basis = item.get("basis")
        try:
            low, high = int(item.get("low")), int(item.get("high"))
            factor = Decimal(str(item.get("factor")).strip())
        except (TypeError, ValueError, ArithmeticError):
            low = high = 0
            factor = Decimal("0")
            problem = _("Enter whole numbers for the range and a factor such as 1.1.")
        if problem is None and (basis not in {b.value for b in MultiplierBasis} or low > high or low < 0
                                or not Decimal("0") < factor <= Decimal("5") or factor != factor.quantize(
                                    Decimal("0.001"))):
            problem = _("A multiplier needs a basis, a range from low to high, and a factor above 0 and at most 5 "
                        "(three decimals at most).")
        errors[f"multipliers-{number}"] = problem
        multipliers.append((basis, low, high, factor))
    clean["multipliers"] = multipliers
    return clean, errors


def save_scheme(school: OrgUnit, data: dict, actor: Any, scheme: PayScheme | None = None,
                expected_version: int | None = None) -> PayScheme:
    """A new scheme (from `effective_from` on), or a correction of one no approved or locked run has used.

    `data`: name, effective_from, standard_monthly_periods, overtime_rate, homeroom_allowance, point_value,
    rate_<kind> for each paid kind, multipliers (a list of {basis, low, high, factor}).
    """
    probe = scheme or PayScheme(school_id=school.id)
    if scheme is None:
        probe.school = school
    check_reach(actor, "pay.manage", probe)
    if school.kind != "school":
        raise_if({"school_id": _("Pay schemes belong to a school.")})
    clean, errors = _clean_scheme(data)
    raise_if(errors)
    if scheme is not None:
        lock(PayScheme, scheme, expected_version)
        if scheme_is_used(scheme):
            raise NotAllowed(_("An approved or locked pay run has used this scheme, so it can no longer change. "
                               "Add a new scheme from the day the change applies."))
    clash = db.session.scalar(sa.select(PayScheme).where(PayScheme.school_id == school.id,
                                                         PayScheme.effective_from == clean["effective_from"],
                                                         PayScheme.id != (scheme.id if scheme else 0)))
    if clash is not None and scheme is None and _same_scheme(clash, clean):
        return clash  # the same new scheme submitted twice
    if clash is not None:
        raise_if({"effective_from": _("The scheme \u201c%(name)s\u201d already starts on that day; choose another "
                                      "day or change that scheme.", name=clash.name)})
    locked_after = db.session.scalar(sa.select(sa.func.max(PayRun.month)).where(
        PayRun.school_id == school.id, PayRun.status.in_([PayRunStatus.APPROVED, PayRunStatus.LOCKED])))
    if locked_after is not None and first_of_month(clean["effective_from"]) <= locked_after:
        raise_if({"effective_from": _("The pay up to %(month)s is approved or locked: a new scheme can apply from "
                                      "%(next)s on.", month=locked_after.strftime("%Y-%m"),
                                      next=next_month(locked_after).isoformat())})
    target = scheme or PayScheme(school_id=school.id, created_by_id=actor_id(actor))
    before = _snapshot(target) if scheme else None
    for name in ("name", "effective_from", "standard_monthly_periods", "overtime_rate", "homeroom_allowance",
                 "point_value"):
        setattr(target, name, clean[name])
    target.rates = [PayRate(kind=kind, rate=rate) for kind, rate in clean["rates"].items()]
    target.multipliers = [PayMultiplier(basis=b, low=lo, high=hi, factor=f) for b, lo, hi, f in clean["multipliers"]]
    if scheme is None:
        db.session.add(target)
    guarded_flush({"pay_schemes": Conflict(_("A scheme starting on that day was added at the same time. Reload "
                                             "the page."))})
    record("pay.scheme_saved", subject=target, actor=actor, changes={"before": before, "after": _snapshot(target)})
    return target


def _same_scheme(stored: PayScheme, clean: dict) -> bool:
    """True when `clean` (a form's cleaned values) describes exactly the stored scheme."""
    return (stored.name, stored.standard_monthly_periods, stored.overtime_rate, stored.homeroom_allowance,
            stored.point_value) == (clean["name"], clean["standard_monthly_periods"], clean["overtime_rate"],
                                    clean["homeroom_allowance"], clean["point_value"]) \
        and {r.kind: r.rate for r in stored.rates} == clean["rates"] \
        and [(m.basis, m.low, m.high, m.factor) for m in stored.multipliers] == list(clean["multipliers"])


def _snapshot(scheme: PayScheme) -> dict:
    return {"name": scheme.name, "effective_from": scheme.effective_from.isoformat() if scheme.effective_from else None,
            "standard_monthly_periods": str(scheme.standard_monthly_periods),
            "overtime_rate": str(scheme.overtime_rate), "homeroom_allowance": str(scheme.homeroom_allowance),
            "point_value": str(scheme.point_value),
            "rates": {r.kind: str(r.rate) for r in scheme.rates},
            "multipliers": [[m.basis, m.low, m.high, str(m.factor)] for m in scheme.multipliers]}


# --- bonus catalogue ----------------------------------------------------------------------------------


def save_bonus_type(school: OrgUnit, data: dict, actor: Any, bonus_type: BonusType | None = None,
                    expected_version: int | None = None) -> BonusType:
    """An entry of the school's catalogue: code, name, an amount or points, an optional monthly cap."""
    probe = bonus_type or BonusType(school_id=school.id)
    if bonus_type is None:
        probe.school = school
    check_reach(actor, "pay.manage", probe)
    code, code_problem = clean_text(data.get("code"), missing=_("Give the bonus a short code."), maximum=20)
    name, name_problem = clean_text(data.get("name"), missing=_("Give the bonus a name."))
    amount_given = str(data.get("amount") or "").strip()
    points_given = str(data.get("points") or "").strip()
    amount = points = None
    amount_problem = points_problem = None
    if bool(amount_given) == bool(points_given):
        amount_problem = _("Enter either an amount or a number of points (one of the two).")
    elif amount_given:
        amount, amount_problem = clean_money(amount_given, allow_zero=False, message=_("Enter an amount above 0."))
    else:
        points, points_problem = clean_decimal(points_given, low=Decimal("0"), high=Decimal("100000"), places=2,
                                               low_inclusive=False, message=_("Enter points above 0."))
    cap = None
    cap_problem = None
    if str(data.get("monthly_cap") or "").strip():
        cap, cap_problem = clean_money(data.get("monthly_cap"), allow_zero=False,
                                       message=_("Enter the cap as an amount above 0, or leave it empty."))
    raise_if({"code": code_problem, "name": name_problem, "amount": amount_problem, "points": points_problem,
              "monthly_cap": cap_problem})
    if bonus_type is None:
        same = db.session.scalar(sa.select(BonusType).where(BonusType.school_id == school.id, BonusType.code == code))
        if same is not None and (same.name, same.amount, same.points, same.monthly_cap) == (name, amount, points, cap):
            return same  # the same entry submitted twice
    target = bonus_type or BonusType(school_id=school.id)
    if bonus_type is not None:
        lock(BonusType, bonus_type, expected_version)
    before = {"code": target.code, "name": target.name, "amount": str(target.amount), "points": str(target.points),
              "cap": str(target.monthly_cap)} if bonus_type else None
    target.code, target.name, target.amount, target.points, target.monthly_cap = code, name, amount, points, cap
    target.is_active = bool(data.get("is_active", True))
    if bonus_type is None:
        db.session.add(target)
    guarded_flush({"bonus_types": Conflict(_("That code is already in this school's catalogue."))})
    record("pay.bonus_type_saved", subject=target, actor=actor,
           changes={"before": before, "after": {"code": code, "name": name, "amount": str(amount),
                                                "points": str(points), "cap": str(cap)}})
    return target


# --- awards -----------------------------------------------------------------------------------------------


def propose_award(staff: StaffMember, bonus_type: BonusType, earned_on: Any, description: Any, evidence: Any,
                  actor: Any) -> BonusAward:
    """Propose a bonus for a teacher, with what was achieved and the evidence. A second identical proposal
    returns the first."""
    check_reach(actor, "bonus.propose", staff)
    day, day_problem = clean_date(earned_on, missing=_("Enter the day it was achieved."))
    text, text_problem = clean_text(description, missing=_("Describe what was achieved."), maximum=500)
    proof, proof_problem = clean_text(evidence, missing=_("Say where the evidence is (a link, a document, a "
                                                          "certificate number)."), maximum=500)
    type_problem = None
    if bonus_type.school_id != staff.school_id or not bonus_type.is_active:
        type_problem = _("Choose a bonus from this teacher's school catalogue.")
    raise_if({"earned_on": day_problem, "description": text_problem, "evidence": proof_problem,
              "bonus_type_id": type_problem})
    same = db.session.scalar(sa.select(BonusAward).where(
        BonusAward.staff_id == staff.id, BonusAward.bonus_type_id == bonus_type.id, BonusAward.earned_on == day,
        BonusAward.description == text, BonusAward.status == AwardStatus.PROPOSED))
    if same is not None:
        return same
    award = BonusAward(staff_id=staff.id, bonus_type_id=bonus_type.id, earned_on=day, description=text,
                       evidence=proof, status=AwardStatus.PROPOSED, proposed_by_id=actor_id(actor))
    award.staff, award.bonus_type = staff, bonus_type
    db.session.add(award)
    guarded_flush()
    record("pay.bonus_proposed", subject=award, actor=actor,
           changes={"staff": staff.id, "bonus": bonus_type.code, "earned_on": day.isoformat()})
    return award


def award_value(award: BonusAward) -> Decimal:
    """The bonus's worth before the cap: its amount, or its points at the point value of the scheme in effect on
    the day it was earned."""
    kind = award.bonus_type
    if kind.amount is not None:
        return kind.amount
    scheme = scheme_in_effect(kind.school_id, award.earned_on)
    if scheme is None or not scheme.point_value:
        raise NotAllowed(_("No pay scheme gives a point a value on %(day)s: set the point value in the scheme "
                           "first.", day=award.earned_on.isoformat()))
    return money(kind.points * scheme.point_value)


def _pay_month(award: BonusAward) -> date:
    """The month of the day it was earned, or the first month after it whose pay is not locked or approved."""
    month = first_of_month(award.earned_on)
    closed = set(db.session.scalars(sa.select(PayRun.month).where(
        PayRun.school_id == award.bonus_type.school_id,
        PayRun.status.in_([PayRunStatus.APPROVED, PayRunStatus.LOCKED]), PayRun.month >= month)))
    while month in closed:
        month = next_month(month)
    return month


def approve_award(award: BonusAward, note: Any, actor: Any, expected_version: int | None = None) -> BonusAward:
    """The head approves: the amount is fixed (within the monthly cap) and paid in the month's run."""
    check_reach(actor, "bonus.decide", award)
    if award.status == AwardStatus.APPROVED:
        return award
    if award.status != AwardStatus.PROPOSED:
        raise InvalidTransition(_("This bonus was already decided."))
    if actor_id(actor) is not None and award.staff.user_id == actor_id(actor):
        raise NotAllowed(_("You cannot approve your own bonus."))
    text, problem = clean_optional_text(note, 300)
    raise_if({"note": problem})
    lock(BonusAward, award, expected_version)
    lock_row(StaffMember, award.staff_id)  # two heads approving this teacher's bonuses take turns: the cap holds
    month = _pay_month(award)
    value = award_value(award)
    cap = award.bonus_type.monthly_cap
    amount = value
    remark = text
    if cap is not None:
        paid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(BonusAward.amount), 0)).where(
            BonusAward.staff_id == award.staff_id, BonusAward.bonus_type_id == award.bonus_type_id,
            BonusAward.pay_month == month, BonusAward.status == AwardStatus.APPROVED)) or Decimal("0")
        left = max(cap - Decimal(paid), Decimal("0"))
        if left == 0:
            raise NotAllowed(_("%(name)s has already reached this bonus's monthly cap of %(cap)s for %(month)s.",
                               name=award.staff.full_name, cap=cap, month=month.strftime("%Y-%m")))
        if value > left:
            amount = left
            capped = _("Capped at %(left)s (monthly cap %(cap)s).", left=left, cap=cap)
            remark = f"{text} {capped}".strip() if text else capped
    award.status = AwardStatus.APPROVED
    award.amount = amount
    award.pay_month = month
    award.decision_note = remark
    award.decided_by_id = actor_id(actor)
    award.decided_at = utcnow()
    guarded_flush()
    record("pay.bonus_approved", subject=award, actor=actor,
           changes={"amount": str(amount), "value": str(value), "pay_month": month.isoformat()})
    return award


def reject_award(award: BonusAward, note: Any, actor: Any, expected_version: int | None = None) -> BonusAward:
    check_reach(actor, "bonus.decide", award)
    if award.status == AwardStatus.REJECTED:
        return award
    if award.status != AwardStatus.PROPOSED:
        raise InvalidTransition(_("This bonus was already decided."))
    text, problem = clean_text(note, missing=_("Say why the bonus is not approved."), maximum=300)
    raise_if({"note": problem})
    lock(BonusAward, award, expected_version)
    award.status = AwardStatus.REJECTED
    award.decision_note = text
    award.decided_by_id = actor_id(actor)
    award.decided_at = utcnow()
    guarded_flush()
    record("pay.bonus_rejected", subject=award, actor=actor, changes={"note": text})
    return award
