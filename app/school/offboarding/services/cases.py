"""Opening a departure case and its first steps: the notice rule, submission (the teacher's resignation or an
admin's case), the head's approval or rejection, withdrawal, the start of the handover, and a changed last day.

Notice (PRC Labour Contract Law art. 37): 30 days' written notice; 3 days during probation; unless the labour
contract's own terms say otherwise (its `notice_days`). A contract end's earliest last day is the contract's
agreed end; a dismissal has no notice period here (its access ends at once). The earliest last working day is
the day the notice is given plus the notice days; an earlier last day needs a waiver with its reason.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.models import Role
from app.general.contracts.models import Contract, ContractKind, ContractStatus
from app.school.offboarding.models import (
    CaseStatus,
    DepartureCase,
    DepartureKind,
    NoticeRule,
)
from app.school.offboarding.services.common import (
    REASON_MAX,
    actor_id,
    audit,
    check_reach,
    clean_date,
    clean_optional_text,
    clean_text,
    flush,
    flush_checked,
    lock_case,
    move,
    raise_if,
    require_status,
)
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.parties import PARTY_TYPE
from app.school.staff.queries import local_today

log = logging.getLogger(__name__)

STATUTORY_NOTICE_DAYS = 30
PROBATION_NOTICE_DAYS = 3
PRIVATE_REASON_MAX = 2000
# Before approval, before the classes move: the departing person or an admin may still take it back.
WITHDRAWABLE = (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.HANDOVER)


@dataclass(frozen=True)
class Notice:
    """The notice rule that applies and the earliest last working day it allows."""

    rule: NoticeRule
    days: int
    earliest: date


def labour_contract(staff: StaffMember) -> Contract | None:
    """The staff member's labour contract in force (the latest when several are)."""
    return db.session.scalars(sa.select(Contract).where(
        Contract.party_type == PARTY_TYPE, Contract.party_id == staff.id, Contract.kind == ContractKind.LABOUR,
        Contract.status == ContractStatus.ACTIVE).order_by(Contract.starts_on.desc(), Contract.id.desc())).first()


def _probation_end(staff: StaffMember, contract: Contract | None) -> date | None:
    stored = (contract.terms or {}).get("probation_ends_on") if contract else None
    if stored:
        try:
            return date.fromisoformat(str(stored))
        except ValueError:
            pass
    return staff.probation_ends_on


def notice_for(staff: StaffMember, kind: str, given_on: date, contract: Contract | None = None) -> Notice:
    """The notice rule for a departure of `kind` given on `given_on` (pure apart from reading the contract)."""
    if kind == DepartureKind.DISMISSAL:
        return Notice(NoticeRule.NONE, 0, given_on)
    if kind == DepartureKind.CONTRACT_END and contract is not None and contract.ends_on is not None:
        return Notice(NoticeRule.CONTRACT_END, max((contract.ends_on - given_on).days, 0),
                      max(contract.ends_on, given_on))
    probation = _probation_end(staff, contract)
    if probation is not None and given_on <= probation:
        return Notice(NoticeRule.PROBATION, PROBATION_NOTICE_DAYS, given_on + timedelta(days=PROBATION_NOTICE_DAYS))
    days = (contract.terms or {}).get("notice_days") if contract else None
    if days not in (None, ""):
        return Notice(NoticeRule.CONTRACT, int(days), given_on + timedelta(days=int(days)))
    return Notice(NoticeRule.STATUTORY, STATUTORY_NOTICE_DAYS, given_on + timedelta(days=STATUTORY_NOTICE_DAYS))


def rule_label(rule: str, days: int) -> str:
    return {
        NoticeRule.STATUTORY: _("30 days' written notice (Labour Contract Law art. 37)"),
        NoticeRule.PROBATION: _("3 days' notice during probation (art. 37)"),
        NoticeRule.CONTRACT: _("%(days)d days' notice, as the labour contract says", days=days),
        NoticeRule.CONTRACT_END: _("the labour contract's agreed last day"),
        NoticeRule.NONE: _("no notice period (dismissal)"),
    }.get(rule, rule)


def kind_label(kind: str) -> str:
    return {DepartureKind.RESIGNATION: _("resignation"), DepartureKind.CONTRACT_END: _("contract end"),
            DepartureKind.DISMISSAL: _("dismissal"), DepartureKind.RETIREMENT: _("retirement"),
            DepartureKind.TRANSFER: _("transfer")}.get(kind, kind)


def end_of_day(day: date) -> datetime:
    """The end of `day` (midnight after it) in the schools' time zone, in UTC."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
    return local.astimezone(UTC)


def open_case_of(staff: StaffMember | int) -> DepartureCase | None:
    """The person's departure under way (at most one: a partial unique index), or None."""
    staff_id = staff if isinstance(staff, int) else staff.id
    return db.session.scalars(sa.select(DepartureCase).where(
        DepartureCase.staff_id == staff_id,
        DepartureCase.status.not_in([CaseStatus.CLOSED, CaseStatus.WITHDRAWN, CaseStatus.REJECTED]))).first()


def _check_last_day(notice: Notice, last_day: date, waiver: str | None, *, may_waive: bool) -> None:
    if last_day >= notice.earliest:
        return
    if not may_waive:
        raise ValidationFailed(_("With %(rule)s the earliest last working day is %(day)s. A shorter notice needs the "
                                 "school's agreement: ask the school office to record a waiver.",
                                 rule=rule_label(notice.rule, notice.days), day=notice.earliest.isoformat()),
                               field="last_working_day")
    if not waiver:
        raise ValidationFailed(_("With %(rule)s the earliest last working day is %(day)s. Choose that day or later, "
                                 "or record why the notice is waived.", rule=rule_label(notice.rule, notice.days),
                                 day=notice.earliest.isoformat()), field="waiver_reason")


def submit(staff: StaffMember, *, kind: Any, last_working_day: Any, actor: Any, private_reason: Any = None,
           waiver_reason: Any = None, given_on: date | None = None) -> DepartureCase:
    """Open a departure case: the teacher's own resignation, or any kind filed by an admin.

    The staff member is on notice from now. A teacher may only resign themselves and cannot waive the notice.

    :raises ValidationFailed: an unknown kind, a missing or early last day, a reason too long (by field).
    :raises NotAllowed: a teacher filing for someone else or anything but a resignation; outside the admin's scope.
    :raises Conflict: the person already has an open case, or has left.
    """
    is_self = actor is not None and getattr(actor, "id", None) is not None and actor.id == staff.user_id
    if is_self and getattr(actor, "role", None) == Role.TEACHER:
        if kind != DepartureKind.RESIGNATION:
            raise NotAllowed(_("You can hand in your resignation here; other departures are filed by the school."))
    else:
        check_reach(actor, "departures.manage", staff)
    kinds = {k.value for k in DepartureKind}
    day, day_problem = clean_date(last_working_day, missing=_("Enter your last working day."))
    reason, reason_problem = clean_optional_text(private_reason, PRIVATE_REASON_MAX)
    waiver, waiver_problem = clean_optional_text(waiver_reason, REASON_MAX)
    raise_if({"kind": None if kind in kinds else _("Choose the kind of departure."),
              "last_working_day": day_problem, "private_reason": reason_problem, "waiver_reason": waiver_problem})
    if staff.status == StaffStatus.DEPARTED:
        raise Conflict(_("%(name)s has already left.", name=staff.full_name))
    if open_case_of(staff) is not None:
        raise Conflict(_("%(name)s already has a departure under way: open it from the departures board.",
                         name=staff.full_name))
    given = given_on or local_today()
    if day < given:
        raise ValidationFailed(_("The last working day cannot be in the past."), field="last_working_day")
    contract = labour_contract(staff)
    notice = notice_for(staff, kind, given, contract)
    may_waive = not (is_self and getattr(actor, "role", None) == Role.TEACHER)
    _check_last_day(notice, day, waiver, may_waive=may_waive)
    case = DepartureCase(staff=staff, school_id=staff.school_id, kind=kind, status=CaseStatus.SUBMITTED,
                         submitted_on=given, submitted_at=utcnow(), submitted_by_id=actor_id(actor),
                         private_reason=reason, notice_rule=notice.rule, notice_days=notice.days,
                         earliest_last_day=notice.earliest, last_working_day=day,
                         waiver_reason=waiver if day < notice.earliest else None,
                         waived_by_id=actor_id(actor) if day < notice.earliest else None,
                         notice_wording={})
    # Worded before the flush: after a failed one the session must be rolled back before it reads the name again.
    already = _("%(name)s already has a departure under way: open it from the departures board.",
                name=staff.full_name)
    db.session.add(case)
    before = staff.status
    staff.status = StaffStatus.ON_NOTICE
    try:  # the person's row was changed by a concurrent filing, or the one-open-case index refuses a second case
        flush_checked({"ix_departure_cases_one_open": Conflict(already), "departure_cases.staff_id": Conflict(already)},
                      stale=already)
    except Conflict:
        raise Conflict(already) from None
    audit(case, "submitted", actor, staff_id=staff.id, kind=kind, notice_rule=notice.rule, notice_days=notice.days,
          earliest_last_day=notice.earliest, last_working_day=day, waived=day < notice.earliest,
          waiver_reason=case.waiver_reason, staff_status=[before, StaffStatus.ON_NOTICE])
    _notify_heads(case)
    log.info("departure case %s opened for staff %s (%s, last day %s)", case.id, staff.id, kind, day)
    return case


def _notify_heads(case: DepartureCase) -> None:
    """The heads over the person get an inbox message asking for their decision (facts only, no reason)."""
    _tell_office(case, "decision_needed", roles=(Role.HEAD,))


def _tell_office(case: DepartureCase, step: str, roles: tuple[str, ...] = (Role.HEAD, Role.ADMIN)) -> None:
    """The heads (and admins) over the person get an inbox message about the case (facts only, no reason)."""
    from app.general.contracts.services.common import admins_of, link
    from app.general.notifications.services import notify_user

    for user in admins_of(case.staff.scope_unit, roles=roles):
        notify_user(user, template=f"offboarding/messages/{step}", key=f"departure:{case.id}:{step}:{user.id}",
                    context={"name": case.staff.full_name, "kind": case.kind, "last_day": case.last_working_day,
                             "link": link("offboarding.case", case_id=case.id)}, channels=("inbox",))


def approve(case: DepartureCase, *, actor: Any, note: Any = None, expected_version: int | None = None) -> None:
    """The head approves the departure (a fresh login is asked for by the view). A dismissal's access ends now.

    :raises InvalidTransition: unless submitted. :raises NotAllowed: outside the head's scope, or their own case.
    :raises Conflict: someone decided first.
    """
    check_reach(actor, "departures.approve", case)
    if getattr(actor, "id", None) is not None and actor.id == case.staff.user_id:
        raise NotAllowed(_("Someone else must decide on your own departure."))
    text, problem = clean_optional_text(note, REASON_MAX)
    raise_if({"note": problem})
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.SUBMITTED,), _("approved"))
    case.decided_by_id, case.decided_at, case.decision_note = actor_id(actor), utcnow(), text
    case.revoke_access_at = utcnow() if case.kind == DepartureKind.DISMISSAL else end_of_day(case.last_working_day)
    move(case, CaseStatus.APPROVED, actor=actor, action="approved", note=text,
         revoke_access_at=case.revoke_access_at)
    if case.kind == DepartureKind.DISMISSAL:
        from app.school.offboarding.services.access import revoke_now

        revoke_now(case, actor=actor)


def reject(case: DepartureCase, *, actor: Any, note: Any, expected_version: int | None = None) -> None:
    """The head refuses the departure as filed (e.g. a dismissal they do not support); the person is active again.

    :raises ValidationFailed: without a reason. :raises InvalidTransition: unless submitted.
    """
    check_reach(actor, "departures.approve", case)
    if getattr(actor, "id", None) is not None and actor.id == case.staff.user_id:
        raise NotAllowed(_("Someone else must decide on your own departure."))
    text, problem = clean_text(note, missing=_("Say why the departure is rejected."), maximum=REASON_MAX)
    raise_if({"note": problem})
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.SUBMITTED,), _("rejected"))
    case.decided_by_id, case.decided_at, case.decision_note, case.ended_at = actor_id(actor), utcnow(), text, utcnow()
    _back_to_active(case)
    move(case, CaseStatus.REJECTED, actor=actor, action="rejected", note=text)


def _back_to_active(case: DepartureCase) -> None:
    if case.staff.status == StaffStatus.ON_NOTICE:
        case.staff.status = StaffStatus.ACTIVE


def withdraw(case: DepartureCase, *, actor: Any, reason: Any = None, expected_version: int | None = None) -> None:
    """The departing person (their own resignation) or an admin takes the departure back before the classes move.

    :raises InvalidTransition: once the classes are reassigned (or the case has ended).
    """
    own = getattr(actor, "id", None) is not None and actor.id == case.staff.user_id
    if own:
        if case.kind != DepartureKind.RESIGNATION:
            raise NotAllowed(_("Only the school can withdraw this departure."))
    else:
        check_reach(actor, "departures.manage", case)
    text, problem = clean_optional_text(reason, REASON_MAX)
    raise_if({"reason": problem})
    lock_case(case, expected_version)
    if own and case.status != CaseStatus.SUBMITTED:
        raise InvalidTransition(_("Your resignation was approved: to take it back, ask the school office, which can "
                                  "withdraw it until your classes are handed over."))
    require_status(case, WITHDRAWABLE, _("withdrawn"))
    case.ended_at, case.revoke_access_at = utcnow(), None
    _back_to_active(case)
    reopened = _restore_access(case, actor)
    move(case, CaseStatus.WITHDRAWN, actor=actor, action="withdrawn", reason=text, access_restored=reopened)
    _tell_office(case, "withdrawn")


def _restore_access(case: DepartureCase, actor: Any) -> bool:
    """A withdrawn dismissal (or an early end of access) gives the account back — only if this case disabled it (an
    account suspended for another reason stays suspended)."""
    user = case.staff.user
    if not case.disabled_account or user is None or user.is_active_account:
        return False
    user.is_active_account, user.deactivated_at = True, None
    case.access_revoked_at, case.disabled_account = None, False
    record("auth.user_reactivated", subject=user, actor=actor, changes={"reason": "departure withdrawn",
                                                                        "case_id": case.id})
    return True


def start_handover(case: DepartureCase, *, actor: Any, expected_version: int | None = None) -> None:
    """The handover begins: the checklist is drawn from the template of the person's role.

    :raises InvalidTransition: unless approved.
    """
    from app.school.offboarding.services.checklist import generate_checklist

    check_reach(actor, "departures.manage", case)
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.APPROVED,), _("moved to handover"))
    items = generate_checklist(case)
    move(case, CaseStatus.HANDOVER, actor=actor, action="handover_started", items=len(items))
    _tell_teacher(case, "offboarding/messages/handover", "handover")


def _tell_teacher(case: DepartureCase, template: str, step: str) -> None:
    from app.general.contracts.services.common import link
    from app.general.notifications.services import notify_user

    user = case.staff.user
    if user is not None and user.is_active_account:
        notify_user(user, template=template, key=f"departure:{case.id}:{step}",
                    context={"name": case.staff.full_name, "last_day": case.last_working_day,
                             "link": link("offboarding.my_case")})


def change_last_day(case: DepartureCase, *, last_working_day: Any, actor: Any, waiver_reason: Any = None,
                    expected_version: int | None = None) -> None:
    """An admin moves the last working day (before the classes move); earlier than the notice allows needs a waiver.

    :raises ValidationFailed: a bad date, or an early one without a waiver reason.
    :raises InvalidTransition: once the classes are reassigned.
    """
    check_reach(actor, "departures.manage", case)
    day, problem = clean_date(last_working_day, missing=_("Enter the last working day."))
    waiver, waiver_problem = clean_optional_text(waiver_reason, REASON_MAX)
    raise_if({"last_working_day": problem, "waiver_reason": waiver_problem})
    lock_case(case, expected_version)
    require_status(case, WITHDRAWABLE, _("given another last day"))
    if case.access_revoked_at is not None:
        raise InvalidTransition(_("Portal access has already ended: withdraw the departure to give it back, or keep "
                                  "the last working day."))
    if day < case.submitted_on:
        raise ValidationFailed(_("The last working day cannot be before the notice was given (%(day)s).",
                                 day=case.submitted_on.isoformat()), field="last_working_day")
    notice = Notice(NoticeRule(case.notice_rule), case.notice_days, case.earliest_last_day)
    _check_last_day(notice, day, waiver, may_waive=True)
    before = case.last_working_day
    case.last_working_day = day
    case.waiver_reason = waiver if day < case.earliest_last_day else None
    case.waived_by_id = actor_id(actor) if day < case.earliest_last_day else None
    if case.status != CaseStatus.SUBMITTED and case.kind != DepartureKind.DISMISSAL:
        case.revoke_access_at = end_of_day(day)
    case.updated_at = utcnow()
    flush()
    audit(case, "last_day_changed", actor, last_working_day=[before, day], waived=day < case.earliest_last_day,
          waiver_reason=case.waiver_reason)
