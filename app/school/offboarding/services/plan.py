"""The reassignment plan: for each current assignment of the departing teacher, the colleagues ranked as
replacements, the admin's choice per assignment, the loads that result, and the confirmation that applies the
whole plan — and writes every parent notice to the outbox — in one transaction.

Ranking (best first): qualified (lists the subject and holds every credential it requires in that grade on the
effective day: the credentials module's `qualified_staff`), free in the timetable when the class has that subject,
spare weekly periods for the assignment, same department, already teaches the class, most spare periods. Colleagues
who are leaving themselves (on notice, or with a departure under way) are never offered.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import DomainError, InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.school.classes.models import Assignment, AssignmentRole
from app.school.classes.services import assignments as assignment_services
from app.school.credentials.qualification import qualified_staff
from app.school.offboarding.models import FINISHED, CaseStatus, DepartureCase, Reassignment
from app.school.offboarding.services.common import (
    audit,
    check_reach,
    clean_date,
    clean_optional_text,
    flush,
    lock_case,
    move,
    raise_if,
    require_status,
)
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today

log = logging.getLogger(__name__)

OVERRIDE_MAX = 300
WORDING_MAX = 2000
SHOWN = 6  # candidates shown per assignment


@dataclass
class Candidate:
    staff: StaffMember
    qualified: bool
    missing: str        # the required credentials not held (when they teach the subject)
    teaches_subject: bool  # lists the subject among those they may teach (always, for a homeroom)
    free: bool
    spare: int          # weekly periods left after what the plan already gives them
    fits: bool          # spare covers this assignment's periods
    same_department: bool
    teaches_class: bool

    @property
    def rank_key(self) -> tuple:
        return (not self.qualified, not self.teaches_subject, not self.free, not self.fits,
                not self.same_department, not self.teaches_class, -self.spare, self.staff.family_name,
                self.staff.given_name, self.staff.id)


@dataclass
class Line:
    """One assignment of the departing teacher with its ranked candidates and the current choice."""

    assignment: Assignment
    choice: Reassignment | None
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def chosen(self) -> StaffMember | None:
        return self.choice.new_staff if self.choice is not None else None


@dataclass(frozen=True)
class Load:
    staff: StaffMember
    before: int
    added: int

    @property
    def after(self) -> int:
        return self.before + self.added

    @property
    def over(self) -> bool:
        return self.after > self.staff.max_weekly_periods


def effective_day(case: DepartureCase) -> date:
    """The first day of the new teachers: once confirmed, the day it took effect; before that, as chosen, else the
    day after the last working day — and never before tomorrow (the past stays as taught, and a plan confirmed after
    the last working day, or the day after a dismissal, takes effect from tomorrow)."""
    if case.reassigned_at is not None and case.effective_on is not None:
        return case.effective_on
    return max(case.effective_on or case.last_working_day + timedelta(days=1), local_today() + timedelta(days=1))


def latest_effective_day(case: DepartureCase) -> date:
    """The latest first day allowed: the day after the last working day, or tomorrow once that has passed."""
    return max(case.last_working_day + timedelta(days=1), local_today() + timedelta(days=1))


def current_assignments(staff_id: int, on: date) -> list[Assignment]:
    """The departing teacher's assignments that run on or after `on`: those under way, and those entered for later
    (next term's), which are handed over whole."""
    return list(db.session.scalars(sa.select(Assignment).where(
        Assignment.staff_id == staff_id,
        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= on)).order_by(Assignment.class_id,
                                                                                 Assignment.role.desc(),
                                                                                 Assignment.subject_id)))


def _departing_ids(school_id: int) -> set[int]:
    return set(db.session.scalars(sa.select(DepartureCase.staff_id).where(
        DepartureCase.school_id == school_id, DepartureCase.status.not_in([str(s) for s in FINISHED]))))


def _loads(staff_ids: list[int], on: date) -> dict[int, int]:
    if not staff_ids:
        return {}
    rows = db.session.execute(sa.select(Assignment.staff_id, sa.func.sum(Assignment.weekly_periods)).where(
        Assignment.staff_id.in_(staff_ids), Assignment.starts_on <= on,
        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= on)).group_by(Assignment.staff_id)).all()
    return {staff_id: int(total or 0) for staff_id, total in rows}


def _busy_in_class_times(assignment: Assignment, staff_ids: list[int], on: date) -> set[int]:
    """Colleagues who already teach elsewhere when the class has this subject (its timetable slots)."""
    if assignment.role != AssignmentRole.SUBJECT or not staff_ids:
        return set()
    from app.school.teaching.models import Term, TimetableSlot

    terms = sa.select(Term.id).where(Term.school_id == assignment.school_class.school_id, Term.ends_on >= on)
    times = db.session.execute(sa.select(TimetableSlot.term_id, TimetableSlot.weekday, TimetableSlot.period).where(
        TimetableSlot.term_id.in_(terms), TimetableSlot.class_id == assignment.class_id,
        TimetableSlot.subject_id == assignment.subject_id, TimetableSlot.staff_id == assignment.staff_id)).all()
    if not times:
        return set()
    return set(db.session.scalars(sa.select(TimetableSlot.staff_id).where(
        TimetableSlot.staff_id.in_(staff_ids),
        sa.tuple_(TimetableSlot.term_id, TimetableSlot.weekday, TimetableSlot.period).in_(
            [tuple(t) for t in times]))))


def _colleagues(case: DepartureCase) -> list[StaffMember]:
    departing = _departing_ids(case.school_id)
    return [s for s in db.session.scalars(sa.select(StaffMember).where(
        StaffMember.school_id == case.school_id, StaffMember.status == StaffStatus.ACTIVE,
        StaffMember.id != case.staff_id)) if s.id not in departing]


def _planned_periods(case: DepartureCase, exclude_assignment: int | None = None) -> dict[int, int]:
    added: dict[int, int] = defaultdict(int)
    for row in case.plan:
        if row.new_staff_id is not None and row.old_assignment_id != exclude_assignment and row.confirmed_at is None:
            added[row.new_staff_id] += row.old_assignment.weekly_periods
    return added


def lines(case: DepartureCase, *, shown: int = SHOWN) -> list[Line]:
    """Every assignment to hand over, its current choice and its best `shown` candidates (read only)."""
    on = effective_day(case)
    choices = {row.old_assignment_id: row for row in case.plan}
    colleagues = _colleagues(case)
    ids = [s.id for s in colleagues]
    loads = _loads(ids, on)
    teaches = defaultdict(set)
    for staff_id, class_id in db.session.execute(sa.select(Assignment.staff_id, Assignment.class_id).where(
            Assignment.staff_id.in_(ids), Assignment.starts_on <= on,
            sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= on))) if ids else ():
        teaches[staff_id].add(class_id)
    result = []
    assignments = current_assignments(case.staff_id, on) if case.status not in FINISHED else []
    confirmed = [row.old_assignment for row in case.plan if row.confirmed_at is not None]
    for assignment in assignments or confirmed:
        added = _planned_periods(case, exclude_assignment=assignment.id)
        subject_ok = [s for s in colleagues if assignment.subject_id is None
                      or any(sub.id == assignment.subject_id for sub in s.subjects)]
        quals = qualified_staff(subject_ok, assignment.subject, assignment.school_class.grade, on)
        busy = _busy_in_class_times(assignment, ids, on)
        candidates = []
        for s in colleagues:
            qualification = quals.get(s.id)
            spare = s.max_weekly_periods - loads.get(s.id, 0) - added.get(s.id, 0)
            candidates.append(Candidate(
                staff=s, qualified=bool(qualification) if qualification is not None else False,
                missing=qualification.missing_names if qualification is not None else "",
                teaches_subject=qualification is not None,
                free=s.id not in busy, spare=spare, fits=spare >= assignment.weekly_periods,
                same_department=s.department_id is not None and s.department_id == case.staff.department_id,
                teaches_class=assignment.class_id in teaches[s.id]))
        candidates.sort(key=lambda c: c.rank_key)
        choice = choices.get(assignment.id)
        top = candidates[:shown]
        if choice is not None and choice.new_staff_id is not None and all(c.staff.id != choice.new_staff_id
                                                                          for c in top):
            top += [c for c in candidates if c.staff.id == choice.new_staff_id]
        result.append(Line(assignment, choice, top))
    return result


def unplanned(case: DepartureCase) -> list[Assignment]:
    """Assignments still without a replacement (the departures board's risk list)."""
    chosen = {row.old_assignment_id for row in case.plan if row.new_staff_id is not None}
    return [a for a in current_assignments(case.staff_id, effective_day(case)) if a.id not in chosen]


def loads_after(case: DepartureCase) -> list[Load]:
    """Each chosen colleague's weekly periods before and after the plan."""
    on = effective_day(case)
    added = _planned_periods(case)
    people = {row.new_staff_id: row.new_staff for row in case.plan if row.new_staff_id is not None}
    before = _loads(list(people), on)
    order = sorted(people, key=lambda i: people[i].full_name)
    return [Load(people[i], before.get(i, 0), added.get(i, 0)) for i in order]


def _check_planning(case: DepartureCase, actor: Any, expected_version: int | None) -> None:
    check_reach(actor, "departures.manage", case)
    lock_case(case, expected_version)
    require_status(case, (CaseStatus.HANDOVER,), _("planned"))


def choose(case: DepartureCase, assignment: Assignment, new_staff: StaffMember | None, *, actor: Any,
           override_reason: Any = None, expected_version: int | None = None) -> Reassignment:
    """Pick the colleague who takes over `assignment` (None clears the choice). Rules are checked again when the
    plan is confirmed; here only that the assignment is the departing teacher's and the colleague is not leaving.

    :raises ValidationFailed: not this teacher's assignment, or the colleague cannot take classes.
    """
    text, problem = clean_optional_text(override_reason, OVERRIDE_MAX)
    raise_if({"override_reason": problem})
    _check_planning(case, actor, expected_version)
    if assignment.staff_id != case.staff_id or assignment not in current_assignments(case.staff_id,
                                                                                      effective_day(case)):
        raise ValidationFailed(_("This assignment is not one the departing teacher hands over."), field="assignment")
    if new_staff is not None:
        if new_staff.school_id != case.school_id or new_staff.id == case.staff_id:
            raise ValidationFailed(_("Choose a colleague of the same school."), field="staff")
        if new_staff.status != StaffStatus.ACTIVE or new_staff.id in _departing_ids(case.school_id):
            raise ValidationFailed(_("%(name)s is leaving and gets no new classes.", name=new_staff.full_name),
                                   field="staff")
    row = next((r for r in case.plan if r.old_assignment_id == assignment.id), None)
    before = row.new_staff_id if row is not None else None
    if row is None:
        row = Reassignment(case=case, old_assignment=assignment)
        db.session.add(row)
    row.new_staff = new_staff
    row.new_staff_id = new_staff.id if new_staff is not None else None
    row.override_reason = text
    case.updated_at = utcnow()
    flush()
    audit(case, "plan_chosen", actor, assignment_id=assignment.id, class_id=assignment.class_id,
          subject=assignment.subject.code if assignment.subject else None, role=assignment.role,
          new_staff=[before, row.new_staff_id], override_reason=text)
    return row


def set_effective_on(case: DepartureCase, *, effective_on: Any, actor: Any,
                     expected_version: int | None = None) -> None:
    """The first day the new teachers teach: from tomorrow up to the day after the last working day (tomorrow, once
    that has passed)."""
    day, problem = clean_date(effective_on, missing=_("Enter the first day of the new teachers."))
    raise_if({"effective_on": problem})
    _check_planning(case, actor, expected_version)
    latest = latest_effective_day(case)
    if day > latest:
        raise ValidationFailed(_("The new teachers must start by %(day)s, the day after the last working day.",
                                 day=latest.isoformat()), field="effective_on")
    if day <= local_today():
        raise ValidationFailed(_("Choose a day after today: lessons already taught stay as they were."),
                               field="effective_on")
    before = case.effective_on
    case.effective_on = day
    case.updated_at = utcnow()
    flush()
    audit(case, "effective_day_set", actor, effective_on=[before, day])


def set_wording(case: DepartureCase, *, wording: dict[str, Any], actor: Any,
                expected_version: int | None = None) -> None:
    """The opening of the parents' notice per language (blank: the standard wording). The facts — child, class,
    subject, teachers, date — are always filled in by the portal and cannot be edited."""
    cleaned, errors = {}, {}
    for locale, text in wording.items():
        value = " ".join(str(text or "").replace("\r\n", "\n").split(" ")).strip()
        if len(value) > WORDING_MAX:
            errors[f"wording_{locale}"] = _("At most %(n)d characters.", n=WORDING_MAX)
        elif value:
            cleaned[locale] = value
    raise_if(errors)
    _check_planning(case, actor, expected_version)
    before = dict(case.notice_wording or {})
    if before == cleaned:
        return
    case.notice_wording = cleaned
    case.updated_at = utcnow()
    flush()
    audit(case, "notice_wording_changed", actor, languages=sorted(cleaned))


def _apply(case: DepartureCase, row: Reassignment, day: date, actor: Any) -> Assignment:
    old = row.old_assignment
    label = f"{old.school_class.name} · {old.subject.name if old.subject else _('homeroom')}"
    try:
        if old.starts_on >= day:  # entered for later and not started: it passes to the new teacher whole
            return assignment_services.hand_over_unstarted(old, row.new_staff, actor=actor,
                                                           override_reason=row.override_reason)
        return assignment_services.change_teacher(old, row.new_staff, effective_on=day, actor=actor,
                                                  reason=_("Departure of %(name)s", name=case.staff.full_name),
                                                  override_reason=row.override_reason)
    except DomainError as error:
        error.message = f"{label}: {error.message}"
        error.args = (error.message,)
        error.field = f"line-{old.id}" if error.field in (None, "staff", "override_reason", "starts_on",
                                                          "weekly_periods", "effective_on") else error.field
        raise


def confirm(case: DepartureCase, *, actor: Any, expected_version: int | None = None) -> int:
    """Apply the whole plan from the effective day, in the caller's transaction: every old assignment ends, every
    new one starts, the timetable slots and the untouched future lessons move to the new teachers, and every
    affected guardian's notice is written to the outbox. Any failure raises and the caller rolls everything back.
    Returns the notices written.

    :raises ValidationFailed: an assignment without a replacement, or a replacement the rules refuse (named).
    :raises InvalidTransition: unless in handover. :raises Conflict: someone confirmed (or changed) it first.
    """
    from app.school.offboarding.services import notices

    _check_planning(case, actor, expected_version)
    day = effective_day(case)
    if day <= local_today():
        raise ValidationFailed(_("The first day of the new teachers (%(day)s) has passed: choose a later one.",
                                 day=day.isoformat()), field="effective_on")
    todo = current_assignments(case.staff_id, day)
    rows = {row.old_assignment_id: row for row in case.plan}
    missing = [a for a in todo if rows.get(a.id) is None or rows[a.id].new_staff_id is None]
    if missing:
        raise ValidationFailed(_("Choose who takes over: %(classes)s.", classes=", ".join(
            f"{a.school_class.name} {a.subject.name if a.subject else _('homeroom')}" for a in missing)),
            field="plan")
    applied = []
    for assignment in todo:
        row = rows[assignment.id]
        new = _apply(case, row, day, actor)
        row.new_assignment_id, row.effective_on, row.confirmed_at = new.id, max(day, new.starts_on), utcnow()
        applied.append(row)
    for row in case.plan:  # choices for assignments no longer current (ended meanwhile) are dropped
        if row not in applied and row.confirmed_at is None:
            db.session.delete(row)
    case.effective_on, case.reassigned_at = day, utcnow()
    move(case, CaseStatus.REASSIGNED, actor=actor, action="reassigned", effective_on=day,
         assignments=[{"from": r.old_assignment_id, "to": r.new_assignment_id, "staff": r.new_staff_id}
                      for r in applied])
    written = notices.write_notices(case, actor=actor)
    log.info("departure case %s: %d assignments handed over from %s, %d notices", case.id, len(applied), day,
             written)
    return written


def require_reassigned(case: DepartureCase) -> None:
    if case.status in (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.HANDOVER):
        raise InvalidTransition(_("Parents are told once the classes are reassigned: confirm the reassignment first."))
