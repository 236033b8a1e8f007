"""Demo departures at Riverside No.1 (RS1): one case in handover, one closed with its parent notices delivered.

- Handover: 陈静 (teacher05, Arts & PE, homeroom of 初一(1)班) resigned ten days ago in the portal; the head approved,
  the school office started the handover, two checklist items are ticked off, and a blocker (a borrowed camera)
  was raised and resolved. Her classes still wait for replacements: the departures board's risk list has work, and
  teacher05 can log in and see her own case and checklist. teacher01–04 and 06 have no case, so a newcomer can
  hand in a resignation as any of them.
- Closed: Olivia Taylor (RS1-T012, English in 初一(2)班, no portal account) handed in a written resignation thirty
  days ago; her last working day is today. Her class went to the best-ranked colleague from tomorrow through the
  plan's confirmation, every guardian of the class got a notice (dispatched in-process here, through the configured
  backends — files under the instance folder with the development defaults — so that loading never waits for a
  worker), a few acknowledged through their signed link (the demo parent accounts' notices are left for the
  newcomer to acknowledge in the portal), her access ended, the checklist was completed, the departure settled with
  the final pay computed from the teaching module (she has no labour contract in the demo, so none is ended) and
  closed.

Dates are relative to today (the demo is loaded on any day): the reassignment of a closed case can only be confirmed
for a day after today, so the closed case's last working day is today and its new teacher starts tomorrow; its
other dates (notice given, approval) lie in the past. Idempotent: nothing is done for a person who has ever had a
departure case. Every write goes through the offboarding services with the demo actors (the teacher, head1, admin).
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import User
from app.general.notifications import dispatch as delivery
from app.general.notifications.backends import DeliveryError
from app.general.notifications.models import Notification, Status
from app.general.org.models import OrgUnit
from app.school.offboarding.models import BlockerKind, DepartureCase, DepartureKind, ParentNotice
from app.school.offboarding.services import access, cases, checklist, notices, plan, settlement
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.staffroom.test"
SCHOOL = "RS1"
HANDOVER_STAFF = "RS1-T005"  # 陈静, teacher05
CLOSED_STAFF = "RS1-T012"  # Olivia Taylor, no account
HANDOVER_GIVEN_DAYS_AGO = 10
ACKNOWLEDGED = 4  # guardians of the closed case who acknowledged through their signed link


def _user(users: dict[str, User], local_part: str) -> User | None:
    return users.get(f"{local_part}@{DEMO_DOMAIN}")


def _staff(number: str) -> StaffMember | None:
    return db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == number))


def _ever_had_case(staff: StaffMember) -> bool:
    return db.session.scalar(sa.select(DepartureCase.id).where(DepartureCase.staff_id == staff.id).limit(1)) \
        is not None


def _given_on(staff: StaffMember, last_day: date) -> date:
    """The day a resignation was handed in so that its notice ends exactly on `last_day`."""
    contract = cases.labour_contract(staff)
    given = last_day - timedelta(days=cases.STATUTORY_NOTICE_DAYS)
    notice = cases.notice_for(staff, DepartureKind.RESIGNATION, given, contract)
    return last_day - timedelta(days=notice.days)


# --- the case in handover ----------------------------------------------------------------------------------------


def _handover(staff: StaffMember, teacher: User, head: User, admin: User, today: date) -> None:
    given = today - timedelta(days=HANDOVER_GIVEN_DAYS_AGO)
    notice = cases.notice_for(staff, DepartureKind.RESIGNATION, given, cases.labour_contract(staff))
    last_day = max(notice.earliest, today + timedelta(days=1))
    case = cases.submit(staff, kind=DepartureKind.RESIGNATION, last_working_day=last_day, actor=teacher, given_on=given,
                        private_reason="家人在外地工作，全家搬迁 Moving to another city with my family")
    cases.approve(case, actor=head, note="同意，感谢陈老师多年的付出 Approved, with thanks for her years here")
    cases.start_handover(case, actor=admin)
    items = sorted(case.items, key=lambda i: i.position)
    by_title = {item.title: item for item in items}
    keys = by_title.get("Keys, badge and devices returned (laptop, tablet)")
    library = by_title.get("Library books and equipment returned")
    if keys is not None:
        checklist.complete_item(keys, actor=admin, evidence="笔记本电脑 RS1-LT-0457 与门禁卡已交回 IT "
                                                           "Laptop RS1-LT-0457 and badge returned to IT")
    if library is not None:
        checklist.complete_item(library, actor=teacher, evidence="美术室器材清点完毕，图书已归还 Art room equipment "
                                                                "counted, library books returned")
    blocker = checklist.raise_blocker(staff, kind=BlockerKind.ASSET, actor=admin,
                                      description="借用的学校单反相机未归还 School camera (DSLR) on loan not returned")
    checklist.resolve_blocker(blocker, actor=admin, resolution="相机已于今日交回器材室 Camera returned to the "
                                                               "equipment room today")


# --- the closed case -------------------------------------------------------------------------------------------


def _choose_all(case: DepartureCase, admin: User) -> None:
    for line in plan.lines(case):
        free = [c for c in line.candidates if c.free and c.fits]  # a timetable clash would stop the confirmation
        best = free[0] if free else (line.candidates[0] if line.candidates else None)
        if best is None:
            continue
        override = None if best.qualified else ("临时安排，新教师到岗前由熟悉本班的老师接任 Interim: a colleague who "
                                                "knows the class takes over until a new teacher starts")
        plan.choose(case, line.assignment, best.staff, actor=admin, override_reason=override)


def _dispatch(case: DepartureCase) -> tuple[int, int]:
    """Deliver the case's waiting outbox rows now, as the worker would (claim, send, record); (sent, failed)."""
    keys = [f"{key}:{channel}" for key, channel in db.session.execute(
        sa.select(ParentNotice.outbox_key, ParentNotice.channel).where(ParentNotice.case_id == case.id))]
    ids = list(db.session.scalars(sa.select(Notification.id).where(
        Notification.idempotency_key.in_(keys), Notification.status == Status.PENDING).order_by(Notification.id)))
    sent = failed = 0
    for notification_id in ids:
        message = delivery.claim(notification_id)
        if message is None:
            continue
        try:
            delivery.send_message(message)
        except DeliveryError as error:  # e.g. no gateway configured: shown as a failed delivery, accepted below
            delivery.record_failure(notification_id, DeliveryError(str(error), permanent=True))
            failed += 1
            continue
        delivery.record_success(notification_id)
        sent += 1
    db.session.expire_all()
    return sent, failed


def _acknowledge(case: DepartureCase) -> int:
    """A few guardians without a portal account read the notice through their signed link."""
    rows = db.session.scalars(sa.select(ParentNotice).where(ParentNotice.case_id == case.id)
                              .order_by(ParentNotice.id)).all()
    done = 0
    for notice in rows:
        if done >= ACKNOWLEDGED:
            break
        if notice.guardian.user_id is None and notices.acknowledge(notice, via="link"):
            done += 1
    return done


def _closed(staff: StaffMember, head: User, admin: User, today: date) -> None:
    case = cases.submit(staff, kind=DepartureKind.RESIGNATION, last_working_day=today, actor=admin,
                        given_on=_given_on(staff, today),
                        private_reason="Returning to the UK to be closer to family")
    cases.approve(case, actor=head, note="Approved. Thank you, Olivia.")
    cases.start_handover(case, actor=admin)
    _choose_all(case, admin)
    plan.set_wording(case, actor=admin, wording={
        "en": "Ms Taylor is leaving the school; her English lessons continue with a colleague who already knows "
              "the class.",
        "zh": "Taylor 老师即将离校，她的英语课将由熟悉本班的老师接任。"})
    plan.confirm(case, actor=admin)
    _sent, failed = _dispatch(case)
    _acknowledge(case)
    access.mark_parents_notified(case, actor=admin, accept_failed=bool(failed))
    if case.access_revoked_at is None:
        access.revoke_early(case, actor=admin, note="最后工作日，交接完成 Last working day, handover complete")
    for item in sorted(case.items, key=lambda i: i.position):
        if not item.is_done:
            checklist.complete_item(item, actor=admin, evidence="已完成 Done — checked by the school office",
                                    amount="0.00" if item.is_money else None)
    settlement.settle(case, actor=admin)
    settlement.close(case, actor=admin)


# --- the step --------------------------------------------------------------------------------------------------


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: the checklist templates, a case in handover and a closed case at RS1."""
    result.add("checklist_template_items", checklist.ensure_default_templates())
    if SCHOOL not in units:
        return
    admin, head = _user(users, "admin"), _user(users, "head1")
    if admin is None or head is None:
        return
    today = local_today()
    made = 0
    handover_staff, teacher = _staff(HANDOVER_STAFF), _user(users, "teacher05")
    if handover_staff is not None and teacher is not None and not _ever_had_case(handover_staff):
        _handover(handover_staff, teacher, head, admin, today)
        made += 1
    closed_staff = _staff(CLOSED_STAFF)
    if closed_staff is not None and not _ever_had_case(closed_staff) and plan.current_assignments(
            closed_staff.id, today + timedelta(days=1)):
        _closed(closed_staff, head, admin, today)
        made += 1
    result.add("departure_cases", made)
    log.info("demo: %d departure cases created", made)
