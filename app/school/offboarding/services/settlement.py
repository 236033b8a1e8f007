"""Settlement and closing: the final month's pay from the teaching module (prorated to the last working day), the
money items of the checklist, the labour contract ended through the contracts module (its confidentiality and
non-compete obligations carry on with their own schedule and reminders), and the person recorded as departed.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.contracts.services import lifecycle
from app.school.offboarding.models import CaseStatus, DepartureCase, DepartureKind
from app.school.offboarding.services.cases import kind_label, labour_contract
from app.school.offboarding.services.checklist import require_nothing_open
from app.school.offboarding.services.common import check_reach, lock_case, move, require_status
from app.school.staff.models import StaffStatus
from app.school.staff.queries import local_today

log = logging.getLogger(__name__)


def final_pay(case: DepartureCase) -> tuple[Decimal, dict]:
    """The pay for the month of the last working day. When that month's run is already approved or locked and has
    the person's line, that line is what they are paid; otherwise the month is computed now, prorated.

    :raises ValidationFailed: no pay scheme covers the month (the school must set one up first).
    """
    from app.school.teaching.calendar import first_of_month
    from app.school.teaching.models import PayLine, PayRun, PayRunStatus
    from app.school.teaching.services.payruns import final_month_pay

    month = first_of_month(case.last_working_day)
    line = db.session.execute(
        sa.select(PayLine, PayRun).join(PayRun, PayRun.id == PayLine.run_id).where(
            PayRun.school_id == case.school_id, PayRun.month == month, PayLine.staff_id == case.staff_id,
            PayRun.status.in_([PayRunStatus.APPROVED, PayRunStatus.LOCKED]))
        .order_by(PayRun.number.desc())).first()
    if line is not None:
        pay_line, run = line
        return pay_line.total, {"source": "run", "run_id": run.id, "run_status": run.status,
                                "month": month.isoformat(), "periods": str(pay_line.periods),
                                "proration": str(pay_line.proration)}
    try:
        result = final_month_pay(case.staff, case.last_working_day)
    except ValidationFailed as error:  # the teaching module reports a missing scheme so (naming the first day)
        raise ValidationFailed(error.message, field="final_pay") from None
    if result is None:
        return Decimal("0.00"), {"source": "computed", "month": month.isoformat(), "periods": "0"}
    return result.total, {"source": "computed", "month": month.isoformat(), "periods": str(result.periods),
                          "lesson_amount": str(result.lesson_amount), "overtime_amount": str(result.overtime_amount),
                          "allowance_amount": str(result.allowance_amount), "bonus_amount": str(result.bonus_amount),
                          "proration": str(result.proration)}


def money_items_total(case: DepartureCase) -> Decimal:
    return sum(((item.amount or Decimal("0")) for item in case.items if item.is_money),
               Decimal("0")).quantize(Decimal("0.01"))


def settle(case: DepartureCase, *, actor: Any, expected_version: int | None = None) -> None:
    """Settle the departure: final pay worked out, money items totalled, the labour contract ended on the last
    working day (terminated for a dismissal), the person departed.

    :raises InvalidTransition: before access is revoked, or with an open checklist item or blocker (named).
    :raises ValidationFailed: the final pay cannot be worked out.
    """
    check_reach(actor, "departures.manage", case)
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.ACCESS_REVOKED,), _("settled"))
    if local_today() < case.last_working_day:
        raise InvalidTransition(_("%(name)s is employed until %(day)s (access ended early): the departure is settled "
                                  "on the last working day or later.", name=case.staff.full_name,
                                  day=case.last_working_day.isoformat()))
    require_nothing_open(case, _("settled"))
    pay, detail = final_pay(case)
    case.final_pay, case.final_pay_detail = pay, detail
    case.money_items_total = money_items_total(case)
    contract = labour_contract(case.staff)
    if contract is not None:
        reason = _("Departure: %(kind)s", kind=kind_label(case.kind))
        if case.kind == DepartureKind.DISMISSAL or (contract.ends_on and case.last_working_day < contract.ends_on):
            lifecycle.terminate_contract(contract, actor=actor, reason=reason, on=case.last_working_day)
        else:
            lifecycle.end_contract(contract, actor=actor, on=case.last_working_day, reason=reason)
        case.contract_id = contract.id
    staff = case.staff
    before = staff.status
    staff.status, staff.departed_on = StaffStatus.DEPARTED, case.last_working_day
    case.settled_at = utcnow()
    move(case, CaseStatus.SETTLED, actor=actor, action="settled", final_pay=str(pay), pay_source=detail["source"],
         money_items=str(case.money_items_total), contract_id=contract.id if contract else None,
         staff_status=[before, StaffStatus.DEPARTED], departed_on=case.last_working_day)
    log.info("departure case %s settled: final pay %s, contract %s", case.id, pay, contract.id if contract else None)


def close(case: DepartureCase, *, actor: Any, expected_version: int | None = None) -> None:
    """Close a settled case once nothing is open (a blocker raised after settling holds it).

    :raises InvalidTransition: unless settled, or with anything still open.
    """
    check_reach(actor, "departures.manage", case)
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.SETTLED,), _("closed"))
    require_nothing_open(case, _("closed"))
    case.closed_at = utcnow()
    move(case, CaseStatus.CLOSED, actor=actor, action="closed")
