"""Pay runs: open → calculate (pandas) → review → approve (head) → lock (statements published once); a correction of
a locked run is a new run numbered after it, showing the difference. Every step is audited and safe to press
twice; a calculation happens in one transaction, so a crash leaves the run as it was and pressing again resumes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app.core.errors import InvalidTransition, ValidationFailed
from app.core.imports.bulk import among, insert_many
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import record
from app.general.org.models import OrgUnit
from app.school.staff.models import StaffMember
from app.school.teaching import engine
from app.school.teaching.calendar import first_of_month
from app.school.teaching.models import PayLine, PayRun, PayRunStatus
from app.school.teaching.payinputs import load_month
from app.school.teaching.services.common import (
    actor_id,
    check_reach,
    clean_text,
    guarded_flush,
    insert_guarded,
    is_postgres,
    lock,
    raise_if,
)


def _open_conflict():
    from app.core.errors import Conflict

    return Conflict(_("A pay run for this school and month was opened by someone else at the same time. Reload "
                      "the page."))


def _open_conflicts() -> dict:
    """Every unique index two admins opening the same run (or correction) at once can hit, as PostgreSQL names
    them and as SQLite words them."""
    conflict = _open_conflict()
    return {"uq_pay_runs_open": conflict, "uq_pay_runs_school_id_month_number": conflict,
            "uq_pay_runs_corrects_id": conflict, "pay_runs.school_id": conflict, "pay_runs.corrects_id": conflict}


def latest_run(school_id: int, month: date) -> PayRun | None:
    """The school's newest run of the month (open or locked)."""
    return db.session.scalar(sa.select(PayRun).where(PayRun.school_id == school_id,
                                                     PayRun.month == first_of_month(month))
                             .order_by(PayRun.number.desc()).limit(1))


def open_run(school: OrgUnit, month: date, actor: Any) -> PayRun:
    """The school's open run of the month, made if there is none. A locked month needs a correction instead."""
    month = first_of_month(month)
    probe = PayRun(school_id=school.id, month=month)
    probe.school = school
    check_reach(actor, "pay.manage", probe)
    current = latest_run(school.id, month)
    if current is not None and current.status != PayRunStatus.LOCKED:
        return current
    if current is not None:
        raise InvalidTransition(_("The pay for %(month)s is locked. To change it, start a correction from the "
                                  "locked run.", month=month.strftime("%Y-%m")))
    run = PayRun(school_id=school.id, month=month, number=1, status=PayRunStatus.DRAFT)
    run.school = school
    insert_guarded(run, _open_conflicts())
    record("pay.run_opened", subject=run, actor=actor, changes={"month": month.isoformat(), "number": 1})
    return run


def start_correction(locked: PayRun, reason: Any, actor: Any) -> PayRun:
    """A new version of a locked run, to be calculated, reviewed against it, approved and locked in turn.
    Pressing twice returns the same open correction."""
    check_reach(actor, "pay.manage", locked)
    text, problem = clean_text(reason, missing=_("Say why the locked pay must be corrected."), maximum=300)
    raise_if({"reason": problem})
    current = latest_run(locked.school_id, locked.month)
    if current is not None and current.status != PayRunStatus.LOCKED:
        return current
    if not locked.is_locked or current.id != locked.id:
        raise InvalidTransition(_("Only the newest locked run of a month can be corrected."))
    run = PayRun(school_id=locked.school_id, month=locked.month, number=locked.number + 1, corrects_id=locked.id,
                 status=PayRunStatus.DRAFT, reason=text)
    run.school = locked.school
    insert_guarded(run, _open_conflicts())
    record("pay.correction_started", subject=run, actor=actor,
           changes={"corrects": locked.id, "number": run.number, "reason": text})
    return run


@dataclass(frozen=True)
class Calculated:
    lines: int
    total: Decimal
    lessons: int


def calculate_run(run: PayRun, actor: Any, expected_version: int | None = None) -> Calculated:
    """(Re)calculate the run's lines from the ledger, the schemes, the homeroom assignments and the approved
    bonuses. Replaces the lines of an unapproved run; never adds a line twice.

    `expected_version` is accepted and not checked: a calculation reads the data as it is now, so a second press
    (or a colleague's) gives the same figures and is no conflict. The row lock still serialises two presses.
    """
    _check_calculable(run, actor)
    lock(PayRun, run)
    inputs = load_month([run.school_id], run.month)
    db.session.execute(sa.delete(PayLine).where(PayLine.run_id == run.id))
    return _store(run, inputs, write_lines(run.id, _results(run, inputs)), actor)


def _check_calculable(run: PayRun, actor: Any) -> None:
    check_reach(actor, "pay.manage", run)
    if run.status not in (PayRunStatus.DRAFT, PayRunStatus.CALCULATED):
        raise InvalidTransition(_("This run is %(status)s: it can no longer be recalculated.",
                                  status=status_label(run.status)))


def _results(run: PayRun, inputs: engine.MonthInputs) -> list[engine.LineResult]:
    results = compute_from(inputs)
    if run.corrects_id:
        results += _dropped(run, results)
    return results


def _store(run: PayRun, inputs: engine.MonthInputs, results: list[engine.LineResult], actor: Any) -> Calculated:
    """The run's figures after its lines were written; audited."""
    run.status = PayRunStatus.CALCULATED
    run.total = sum((line.total for line in results), Decimal("0.00"))
    run.line_count = len(results)
    run.lesson_count = int(inputs.lessons["lessons"].sum()) if len(inputs.lessons) else 0
    run.calculated_at = utcnow()
    run.calculated_by_id = actor_id(actor)
    guarded_flush()
    record("pay.run_calculated", subject=run, actor=actor,
           changes={"lines": run.line_count, "total": str(run.total), "number": run.number})
    return Calculated(run.line_count, run.total, run.lesson_count)


def _dropped(run: PayRun, results: list[engine.LineResult]) -> list[engine.LineResult]:
    """A zero line for each teacher the corrected run paid and the correction does not: the difference shows on
    the run page, in the Excel and in the teacher's statement, and the teacher is told."""
    paid = set(db.session.scalars(sa.select(PayLine.staff_id).where(PayLine.run_id == run.corrects_id)))
    kept = {line.staff_id for line in results}
    school = db.session.get(OrgUnit, run.school_id)
    zero = Decimal("0.00")
    return [engine.LineResult(staff_id, school.id, None, Decimal("0.0"), zero, Decimal("0.0"), zero, zero, zero, zero,
                              Decimal("0"), {"lessons": [], "by_kind": {}, "bonuses": [], "schemes": [],
                                             "total": "0.00", "dropped": True})
            for staff_id in sorted(paid - kept)]


def compute(school_ids: list[int], month: date, **options) -> list[engine.LineResult]:
    """The lines of these schools' month, computed but not written.

    :raises ValidationFailed: a lesson falls on a day no pay scheme covers.
    """
    return compute_from(load_month(school_ids, month, **options))


def compute_from(inputs: engine.MonthInputs) -> list[engine.LineResult]:
    """`engine.calculate`, with a missing scheme told as the admin can act on it."""
    try:
        return engine.calculate(inputs)
    except engine.MissingScheme as missing:
        school = db.session.get(OrgUnit, missing.school_id)
        raise ValidationFailed(_("%(school)s has no pay scheme in effect on %(day)s. Add a scheme that starts on "
                                 "or before that day, then calculate again.",
                                 school=school.name if school else missing.school_id,
                                 day=_first_unpriced_day(missing, inputs).isoformat())) from None


def _first_unpriced_day(missing: engine.MissingScheme, inputs: engine.MonthInputs) -> date:
    """The first lesson day the school's schemes do not cover (the engine sees summed segments, not days)."""
    from app.school.teaching.models import Lesson, LessonKind

    starts = [s.effective_from for s in inputs.schemes if s.school_id == missing.school_id]
    last = min(starts, default=None)
    day = db.session.scalar(sa.select(sa.func.min(Lesson.day)).where(
        Lesson.school_id == missing.school_id, Lesson.kind != LessonKind.CANCELLED, Lesson.day >= missing.day,
        *([Lesson.day < last] if last else [])))
    return day or missing.day


def line_rows(run_id: int, results: list[engine.LineResult]) -> list[dict]:
    as_text = is_postgres()  # COPY takes JSON as text; SQLAlchemy's insert serialises a dict itself
    return [{"run_id": run_id, "staff_id": r.staff_id, "scheme_id": r.scheme_id, "periods": r.periods,
             "lesson_amount": r.lesson_amount, "overtime_periods": r.overtime_periods,
             "overtime_amount": r.overtime_amount, "allowance_amount": r.allowance_amount,
             "bonus_amount": r.bonus_amount, "total": r.total, "proration": r.proration,
             "detail": json.dumps(r.detail, ensure_ascii=False) if as_text else r.detail} for r in results]


def write_lines(run_id: int, results: list[engine.LineResult]) -> list[engine.LineResult]:
    insert_many(PayLine.__table__, line_rows(run_id, results))
    return results


@dataclass(frozen=True)
class MonthCalculated:
    runs: list[PayRun]
    skipped: list[PayRun]  # approved or locked already: left as they are
    total: Decimal


def calculate_month(schools: list[OrgUnit], month: date, actor: Any) -> MonthCalculated:
    """The payroll office's month: every school's open run (opened if need be) calculated in one pass — one read
    of the month for all schools, sliced per school, so each run's lines are exactly those its own calculation
    gives. Runs already approved or locked are left as they are. One transaction: all or nothing."""
    from app.school.teaching.payinputs import for_school

    runs, skipped = [], []
    for school in sorted(schools, key=lambda unit: unit.id):
        run = latest_run(school.id, month) or open_run(school, month, actor)
        if run.status in (PayRunStatus.APPROVED, PayRunStatus.LOCKED):
            skipped.append(run)
            continue
        _check_calculable(run, actor)
        lock(PayRun, run)
        runs.append(run)
    if not runs:
        return MonthCalculated([], skipped, Decimal("0.00"))
    inputs = load_month([run.school_id for run in runs], first_of_month(month))
    for condition in among(PayLine.run_id, [run.id for run in runs]):
        db.session.execute(sa.delete(PayLine).where(condition))
    per_run = {run.id: (for_school(inputs, run.school_id), None) for run in runs}
    rows = []
    for run in runs:
        share = per_run[run.id][0]
        results = _results(run, share)
        per_run[run.id] = (share, results)
        rows += line_rows(run.id, results)
    insert_many(PayLine.__table__, rows)
    for run in runs:
        share, results = per_run[run.id]
        _store(run, share, results, actor)
    return MonthCalculated(runs, skipped, sum((run.total for run in runs), Decimal("0.00")))


def _refuse_if_stale(run: PayRun) -> None:
    """Approve and lock only figures that are still true: the ledger, the bonuses and the schemes may have changed
    since the calculation (a cover recorded, a bonus approved), and the stored lines would then leave it out.

    :raises InvalidTransition: the run, calculated again now, would pay someone differently.
    """
    results = compute([run.school_id], run.month)
    if run.corrects_id:
        results += _dropped(run, results)
    now = {line.staff_id: line.total for line in results}
    stored = dict(db.session.execute(sa.select(PayLine.staff_id, PayLine.total).where(PayLine.run_id == run.id)).all())
    changed = sum(1 for staff_id in set(now) | set(stored) if now.get(staff_id) != stored.get(staff_id))
    if changed:
        raise InvalidTransition(ngettext(
            "Lessons, bonuses or schemes changed since this run was calculated: %(num)d teacher's pay would now "
            "differ. Send the run back if it is approved, recalculate it and review it again.",
            "Lessons, bonuses or schemes changed since this run was calculated: %(num)d teachers' pay would now "
            "differ. Send the run back if it is approved, recalculate it and review it again.", changed))


def approve_run(run: PayRun, actor: Any, expected_version: int | None = None) -> PayRun:
    """The head approves the calculated figures. Pressing twice changes nothing."""
    check_reach(actor, "pay.approve", run)
    if run.status == PayRunStatus.APPROVED:
        return run
    if run.status != PayRunStatus.CALCULATED:
        raise InvalidTransition(_("Only a calculated run can be approved (this one is %(status)s).",
                                  status=status_label(run.status)))
    lock(PayRun, run, expected_version)
    _refuse_if_stale(run)
    run.status = PayRunStatus.APPROVED
    run.approved_at = utcnow()
    run.approved_by_id = actor_id(actor)
    guarded_flush()
    own = actor_id(actor) is not None and db.session.scalar(
        sa.select(sa.func.count()).select_from(PayLine).join(StaffMember, StaffMember.id == PayLine.staff_id)
        .where(PayLine.run_id == run.id, StaffMember.user_id == actor_id(actor))) > 0
    record("pay.run_approved", subject=run, actor=actor,
           changes={"total": str(run.total), "number": run.number, "approver_paid_in_run": bool(own)})
    return run


def return_run(run: PayRun, reason: Any, actor: Any, expected_version: int | None = None) -> PayRun:
    """Send an approved run back for recalculation (a mistake found before locking)."""
    check_reach(actor, "pay.manage", run)
    text, problem = clean_text(reason, missing=_("Say why the run goes back."), maximum=300)
    raise_if({"reason": problem})
    if run.status == PayRunStatus.CALCULATED:
        return run
    if run.status != PayRunStatus.APPROVED:
        raise InvalidTransition(_("Only an approved run can be sent back."))
    lock(PayRun, run, expected_version)
    run.status = PayRunStatus.CALCULATED
    run.approved_at = None
    run.approved_by_id = None
    guarded_flush()
    record("pay.run_returned", subject=run, actor=actor, changes={"reason": text})
    return run


def lock_run(run: PayRun, actor: Any, expected_version: int | None = None) -> PayRun:
    """Make the approved run final (immutable from now on) and publish each teacher's statement, once."""
    check_reach(actor, "pay.manage", run)
    if run.status == PayRunStatus.LOCKED:
        return run
    if run.status != PayRunStatus.APPROVED:
        raise InvalidTransition(_("A run is locked after the head approves it (this one is %(status)s).",
                                  status=status_label(run.status)))
    lock(PayRun, run, expected_version)
    _refuse_if_stale(run)
    run.status = PayRunStatus.LOCKED
    run.locked_at = utcnow()
    run.locked_by_id = actor_id(actor)
    guarded_flush()
    record("pay.run_locked", subject=run, actor=actor, changes={"total": str(run.total), "lines": run.line_count,
                                                                 "number": run.number})
    _publish(run)
    return run


def _publish(run: PayRun) -> None:
    """One message per teacher with a line (portal and e-mail, in their language); keys make a re-run a no-op. A
    correction tells only the teachers whose pay it changes."""
    from app.general.auth.models import User
    from app.general.contracts.services.common import link
    from app.general.notifications.batch import Outbox

    box = Outbox()
    rows = db.session.execute(
        sa.select(PayLine.id, PayLine.total, User).join(StaffMember, StaffMember.id == PayLine.staff_id)
        .join(User, User.id == StaffMember.user_id)
        .where(PayLine.run_id == run.id, User.is_active_account.is_(True))).all()
    target = link("teaching.my_pay")
    if run.corrects_id:
        before = dict(db.session.execute(sa.select(PayLine.staff_id, PayLine.total)
                                         .where(PayLine.run_id == run.corrects_id)).all())
        now = dict(db.session.execute(sa.select(PayLine.id, PayLine.staff_id).where(PayLine.run_id == run.id)).all())
        rows = [row for row in rows if before.get(now[row[0]]) != row[1]]
    for line_id, total, user in rows:
        box.add("teaching/messages/statement", f"payline:{line_id}:published",
                {"month": run.month.strftime("%Y-%m"), "total": str(total), "correction": run.number > 1,
                 "link": target}, user=user)
    box.write()


@dataclass(frozen=True)
class Difference:
    staff_id: int
    name: str
    before: Decimal | None
    after: Decimal | None

    @property
    def change(self) -> Decimal:
        return (self.after or Decimal("0")) - (self.before or Decimal("0"))


def baseline(run: PayRun) -> PayRun | None:
    """What the run is compared with: the run it corrects, else the previous month's final run."""
    if run.corrects_id:
        return run.corrects
    previous = first_of_month(run.month.replace(day=1) - timedelta(days=1))
    return db.session.scalar(sa.select(PayRun).where(PayRun.school_id == run.school_id, PayRun.month == previous,
                                                     PayRun.status == PayRunStatus.LOCKED)
                             .order_by(PayRun.number.desc()).limit(1))


def differences(run: PayRun, base: PayRun | None) -> dict[int, Difference]:
    """Per teacher: total in `base` and in `run` (one query each)."""
    now = dict(db.session.execute(sa.select(PayLine.staff_id, PayLine.total).where(PayLine.run_id == run.id)).all())
    before = dict(db.session.execute(sa.select(PayLine.staff_id, PayLine.total)
                                     .where(PayLine.run_id == base.id)).all()) if base else {}
    ids = set(now) | set(before)
    names = {}
    if ids:
        for staff in db.session.scalars(sa.select(StaffMember).where(StaffMember.id.in_(ids))):
            names[staff.id] = staff.full_name
    return {i: Difference(i, names.get(i, str(i)), before.get(i), now.get(i)) for i in ids}


def final_month_pay(staff: StaffMember, last_day: date) -> engine.LineResult | None:
    """A departing teacher's pay for the month of `last_day`, prorated to it (computed, not written): what the
    departure flow settles. None when there is nothing to pay."""
    results = compute([staff.school_id], first_of_month(last_day), staff_id=staff.id, last_day=last_day)
    return next((line for line in results if line.staff_id == staff.id), None)


def status_label(status: str) -> str:
    return {PayRunStatus.DRAFT: _("draft"), PayRunStatus.CALCULATED: _("calculated"),
            PayRunStatus.APPROVED: _("approved"), PayRunStatus.LOCKED: _("locked")}.get(status, status)
