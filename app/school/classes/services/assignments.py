"""Teaching assignments: who is homeroom or subject teacher of a class, over dates.

History is never overwritten: a change ends one row (`ends_on` is the last day taught) and starts another.
Every change locks the class (PostgreSQL `FOR UPDATE`) and bumps its version (every backend), so two
administrators changing the same class at once cannot both win.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.extensions import db
from app.general.audit.services import record
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass, Subject
from app.school.classes.services.common import (
    check_reach,
    clean_date,
    clean_int,
    clean_text,
    day_before,
    guarded_flush,
    lock_class,
    lock_row,
    raise_if,
    touch_class,
    within_year,
)
from app.school.staff.models import StaffMember, StaffStatus

log = logging.getLogger(__name__)

# Called as hook(old_assignment, new_assignment, effective_on, actor) inside change_teacher's transaction, after
# the new assignment is written: other modules follow the change (the timetable and the lesson ledger move to the
# new teacher). A hook that raises aborts the whole change.
TEACHER_CHANGE_HOOKS: list = []

PERIODS_MAX = 40  # the column's check constraint
OVERRIDE_MAX, REASON_MAX = 300, 200


@dataclass(frozen=True)
class Plan:
    """A checked assignment-to-be."""

    role: str
    subject: Subject | None
    weekly_periods: int
    starts_on: date
    ends_on: date | None


# --- rules that a later issue swaps or extends ---------------------------------------------------------


def qualification_problem(staff: StaffMember, subject: Subject | None, school_class: SchoolClass,
                          on: date) -> str | None:
    """Why `staff` may not teach `subject` (None: be homeroom teacher of) `school_class` from `on`, or None.

    Two rules: the subject is among those the staff member may teach, and they hold on `on` every credential
    the subject (or the homeroom role) requires in that grade (`credentials.qualification.is_qualified`).
    Every caller (forms, imports, the departure flow) goes through this one function.
    """
    from app.school.credentials.qualification import is_qualified

    if subject is not None and not any(s.id == subject.id for s in staff.subjects):
        return _("%(name)s does not list %(subject)s among the subjects they may teach. Choose another teacher, "
                 "or record why this exception is justified.", name=staff.full_name, subject=subject.name)
    answer = is_qualified(staff, subject, school_class.grade, on)
    if answer:
        return None
    return _("%(name)s holds no valid %(missing)s on %(date)s, which this class requires. Choose another teacher, "
             "or record why this exception is justified.", name=staff.full_name, missing=answer.missing_names,
             date=on.isoformat())


def weekly_load_between(staff: StaffMember, starts_on: date, ends_on: date | None,
                        exclude_ids: tuple[int, ...] = ()) -> tuple[int, date]:
    """The highest weekly load of `staff` on any day of [starts_on, ends_on] and the first day it is reached.

    Load only rises on a day an assignment starts, so only those days need checking.
    """
    stmt = sa.select(Assignment.starts_on, Assignment.ends_on, Assignment.weekly_periods).where(
        Assignment.staff_id == staff.id, sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= starts_on))
    if ends_on is not None:
        stmt = stmt.where(Assignment.starts_on <= ends_on)
    if exclude_ids:
        stmt = stmt.where(Assignment.id.not_in(exclude_ids))
    rows = db.session.execute(stmt).all()
    days = sorted({starts_on} | {row.starts_on for row in rows if row.starts_on > starts_on})
    peak, peak_day = 0, starts_on
    for day in days:
        load = sum(row.weekly_periods for row in rows
                   if row.starts_on <= day and (row.ends_on is None or row.ends_on >= day))
        if load > peak:
            peak, peak_day = load, day
    return peak, peak_day


# --- checks ---------------------------------------------------------------------------------------------


def _clean_plan(school_class: SchoolClass, *, role: Any, subject: Subject | None, weekly_periods: Any,
                starts_on: Any, ends_on: date | None = None, existing: bool = False) -> Plan:
    """`existing`: the plan continues an assignment (a subject deactivated since still counts)."""
    errors: dict[str, str | None] = {}
    if role not in (AssignmentRole.HOMEROOM.value, AssignmentRole.SUBJECT.value):
        errors["role"] = _("Choose homeroom teacher or subject teacher.")
    elif role == AssignmentRole.SUBJECT and subject is None:
        errors["subject"] = _("Choose the subject taught.")
    elif role == AssignmentRole.SUBJECT and not subject.is_active and not existing:
        errors["subject"] = _("%(subject)s is no longer taught: choose an active subject.", subject=subject.name)
    periods, errors["weekly_periods"] = clean_int(
        weekly_periods, low=0, high=PERIODS_MAX,
        message=_("Enter a whole number of periods a week from 0 to %(n)d.", n=PERIODS_MAX))
    day, problem = clean_date(starts_on, missing=_("Enter the first day."))
    errors["starts_on"] = problem or within_year(school_class, day)
    raise_if(errors)
    return Plan(str(role), subject if role == AssignmentRole.SUBJECT else None, periods, day, ends_on)


def _check_teacher(school_class: SchoolClass, staff: StaffMember, *, field: str) -> None:
    if staff.school_id != school_class.school_id:
        raise ValidationFailed(_("%(name)s works at %(school)s: choose a teacher of this class's school.",
                                 name=staff.full_name, school=staff.school.name), field=field)
    if staff.status == StaffStatus.DEPARTED:
        raise ValidationFailed(_("%(name)s has left the school and cannot be given classes.", name=staff.full_name),
                               field=field)
    if staff.status == StaffStatus.ON_NOTICE:
        raise ValidationFailed(_("%(name)s is leaving (on notice) and gets no new classes.", name=staff.full_name),
                               field=field)


def _overlapping(school_class: SchoolClass, plan: Plan, exclude_ids: tuple[int, ...]) -> Assignment | None:
    """The class's other homeroom (or other teacher of the same subject) whose dates overlap the plan's."""
    stmt = sa.select(Assignment).where(
        Assignment.class_id == school_class.id, Assignment.role == plan.role,
        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= plan.starts_on))
    if plan.subject is not None:
        stmt = stmt.where(Assignment.subject_id == plan.subject.id)
    if plan.ends_on is not None:
        stmt = stmt.where(Assignment.starts_on <= plan.ends_on)
    if exclude_ids:
        stmt = stmt.where(Assignment.id.not_in(exclude_ids))
    return db.session.scalars(stmt.order_by(Assignment.starts_on).limit(1)).first()


def _overlap_message(other: Assignment) -> str:
    until = other.ends_on.isoformat() if other.ends_on else _("further notice")
    if other.role == AssignmentRole.HOMEROOM:
        return _("%(name)s is the homeroom teacher of this class from %(start)s until %(end)s: a class has one "
                 "homeroom teacher at a time. Use “Change teacher” or end that assignment first.",
                 name=other.staff.full_name, start=other.starts_on.isoformat(), end=until)
    return _("%(name)s teaches %(subject)s to this class from %(start)s until %(end)s. Use “Change teacher” or end "
             "that assignment first.", name=other.staff.full_name, subject=other.subject.name,
             start=other.starts_on.isoformat(), end=until)


def _check_capacity(staff: StaffMember, plan: Plan, exclude_ids: tuple[int, ...]) -> None:
    peak, day = weekly_load_between(staff, plan.starts_on, plan.ends_on, exclude_ids)
    if peak + plan.weekly_periods > staff.max_weekly_periods:
        raise ValidationFailed(
            _("%(name)s would teach %(total)d periods a week from %(day)s (%(used)d already assigned + %(new)d), "
              "over their maximum of %(max)d.", name=staff.full_name, total=peak + plan.weekly_periods,
              day=day.isoformat(), used=peak, new=plan.weekly_periods, max=staff.max_weekly_periods),
            field="weekly_periods")


def _override(staff: StaffMember, school_class: SchoolClass, plan: Plan, override_reason: Any) -> str | None:
    """The recorded reason when the teacher is not qualified; None when they are."""
    problem = qualification_problem(staff, plan.subject, school_class, plan.starts_on)
    if problem is None:
        return None
    reason, missing = clean_text(override_reason, missing=problem, maximum=OVERRIDE_MAX)
    raise_if({"override_reason": missing})
    return reason


def _checked(school_class: SchoolClass, staff: StaffMember, plan: Plan, *, override_reason: Any,
             exclude_ids: tuple[int, ...] = (), staff_field: str = "staff") -> str | None:
    """Every rule of a new assignment, after the class and the teacher are locked; returns the override."""
    _check_teacher(school_class, staff, field=staff_field)
    other = _overlapping(school_class, plan, exclude_ids)
    if other is not None:
        raise ValidationFailed(_overlap_message(other), field="starts_on")
    override = _override(staff, school_class, plan, override_reason)
    _check_capacity(staff, plan, exclude_ids)
    return override


def _snapshot(assignment: Assignment) -> dict:
    return {"class_id": assignment.class_id, "class": assignment.school_class.name, "role": assignment.role,
            "subject": assignment.subject.code if assignment.subject else None, "staff_id": assignment.staff_id,
            "staff": assignment.staff.full_name, "weekly_periods": assignment.weekly_periods,
            "starts_on": assignment.starts_on, "ends_on": assignment.ends_on,
            "qualification_override": assignment.qualification_override}


def _new(school_class: SchoolClass, staff: StaffMember, plan: Plan, override: str | None) -> Assignment:
    assignment = Assignment(school_class=school_class, staff=staff, role=plan.role, subject=plan.subject,
                            weekly_periods=plan.weekly_periods, starts_on=plan.starts_on, ends_on=plan.ends_on,
                            qualification_override=override)
    db.session.add(assignment)
    return assignment


# --- services -------------------------------------------------------------------------------------------


def assign_teacher(school_class: SchoolClass, staff: StaffMember, *, role: Any, subject: Subject | None = None,
                   weekly_periods: Any, starts_on: Any, actor: Any, override_reason: Any = None,
                   expected_version: int | None = None) -> Assignment:
    """Make `staff` the homeroom or a subject teacher of the class from `starts_on` (open-ended).

    :raises ClassesInvalid: role, subject, periods, date, or a missing override reason (`override_reason`).
    :raises ValidationFailed: another school, departed or on notice (`staff`), an overlapping homeroom or
    subject teacher (`starts_on`), over the weekly maximum (`weekly_periods`).
    :raises Conflict: the class changed since the caller loaded it.
    """
    check_reach(actor, "assignments.manage", school_class)
    plan = _clean_plan(school_class, role=role, subject=subject, weekly_periods=weekly_periods, starts_on=starts_on)
    lock_class(school_class, expected_version)
    lock_row(StaffMember, staff.id)
    override = _checked(school_class, staff, plan, override_reason=override_reason)
    assignment = _new(school_class, staff, plan, override)
    touch_class(school_class)
    guarded_flush()
    record("classes.teacher_assigned", subject=assignment, actor=actor, changes=_snapshot(assignment))
    log.info("assignment %s: staff %s %s of class %s", assignment.id, staff.id, plan.role, school_class.id)
    return assignment


def _check_last_day(assignment: Assignment, last_day: Any) -> date:
    day, problem = clean_date(last_day, missing=_("Enter the last day taught."))
    raise_if({"last_day": problem})
    if day < assignment.starts_on:
        raise ValidationFailed(_("The last day cannot be before the first day (%(day)s).",
                                 day=assignment.starts_on.isoformat()), field="last_day")
    if assignment.ends_on is not None and assignment.ends_on <= day:
        raise ValidationFailed(_("This assignment already ends on %(day)s.", day=assignment.ends_on.isoformat()),
                               field="last_day")
    return day


def end_assignment(assignment: Assignment, *, last_day: Any, reason: Any, actor: Any,
                   expected_version: int | None = None) -> Assignment:
    """End an assignment after `last_day` (kept as history, with the reason).

    :raises ClassesInvalid/ValidationFailed: date or reason. :raises Conflict: the class changed meanwhile.
    """
    school_class = assignment.school_class
    check_reach(actor, "assignments.manage", assignment)
    clean_reason, problem = clean_text(reason, missing=_("Say why the assignment ends."), maximum=REASON_MAX)
    raise_if({"reason": problem})
    day = _check_last_day(assignment, last_day)
    lock_class(school_class, expected_version)
    before = assignment.ends_on
    assignment.ends_on, assignment.end_reason = day, clean_reason
    touch_class(school_class)
    guarded_flush()
    record("classes.assignment_ended", subject=assignment, actor=actor,
           changes={"ends_on": [before, day], "reason": clean_reason, "staff_id": assignment.staff_id})
    return assignment


def _check_change(assignment: Assignment, new_staff: StaffMember, effective_on: Any) -> date:
    day, problem = clean_date(effective_on, missing=_("Enter the first day of the new teacher."))
    raise_if({"effective_on": problem or within_year(assignment.school_class, day)})
    if new_staff.id == assignment.staff_id:
        raise ValidationFailed(_("%(name)s already has this assignment: choose another teacher.",
                                 name=new_staff.full_name), field="staff")
    if day <= assignment.starts_on:
        raise ValidationFailed(_("The new teacher must start after %(day)s, the first day of the current one.",
                                 day=assignment.starts_on.isoformat()), field="effective_on")
    if assignment.ends_on is not None and day > assignment.ends_on:
        raise ValidationFailed(_("This assignment ended on %(day)s: assign a new teacher instead.",
                                 day=assignment.ends_on.isoformat()), field="effective_on")
    return day


def change_teacher(assignment: Assignment, new_staff: StaffMember, *, effective_on: Any, actor: Any,
                   weekly_periods: Any = None, reason: Any = None, override_reason: Any = None,
                   expected_version: int | None = None) -> Assignment:
    """Hand an assignment to another teacher from `effective_on`: the old row ends the day before, a new row
    starts that day (same class, role and subject; same periods unless given). Returns the new assignment.

    :raises ValidationFailed: as `assign_teacher`, plus a date outside the current assignment.
    :raises Conflict: the class changed meanwhile.
    """
    school_class = assignment.school_class
    check_reach(actor, "assignments.manage", assignment)
    day = _check_change(assignment, new_staff, effective_on)
    clean_reason, problem = clean_text(reason, missing="", maximum=REASON_MAX)
    raise_if({"reason": problem})
    periods = assignment.weekly_periods if weekly_periods in (None, "") else weekly_periods
    plan = _clean_plan(school_class, role=assignment.role, subject=assignment.subject, weekly_periods=periods,
                       starts_on=day, ends_on=assignment.ends_on, existing=True)
    lock_class(school_class, expected_version)
    lock_row(StaffMember, new_staff.id)
    override = _checked(school_class, new_staff, plan, override_reason=override_reason,
                        exclude_ids=(assignment.id,))
    old_staff = assignment.staff
    assignment.ends_on, assignment.end_reason = day_before(day), clean_reason or None
    new = _new(school_class, new_staff, plan, override)
    touch_class(school_class)
    guarded_flush()
    for hook in TEACHER_CHANGE_HOOKS:
        hook(assignment, new, day, actor)
    record("classes.teacher_changed", subject=new, actor=actor, changes={
        "from_assignment": assignment.id, "to_assignment": new.id, "from_staff": [old_staff.id, old_staff.full_name],
        "to_staff": [new_staff.id, new_staff.full_name], "effective_on": day, "reason": clean_reason or None,
        "weekly_periods": new.weekly_periods, "qualification_override": override})
    log.info("assignment %s handed from staff %s to %s as %s", assignment.id, old_staff.id, new_staff.id, new.id)
    return new


def hand_over_unstarted(assignment: Assignment, new_staff: StaffMember, *, actor: Any, override_reason: Any = None,
                        expected_version: int | None = None) -> Assignment:
    """Give an assignment that has not started yet (entered for next term) to another teacher whole: it has no
    history to keep, so its teacher is replaced, under the same rules as `change_teacher`, and the timetable
    follows (TEACHER_CHANGE_HOOKS). Returns the assignment.

    :raises ValidationFailed: as `assign_teacher`, or the assignment has already started.
    :raises Conflict: the class changed meanwhile.
    """
    from types import SimpleNamespace

    from app.school.staff.queries import local_today

    school_class = assignment.school_class
    check_reach(actor, "assignments.manage", assignment)
    if assignment.starts_on <= local_today():
        raise ValidationFailed(_("This assignment has already started: change its teacher from a day instead."),
                               field="staff")
    if new_staff.id == assignment.staff_id:
        raise ValidationFailed(_("%(name)s already has this assignment: choose another teacher.",
                                 name=new_staff.full_name), field="staff")
    plan = _clean_plan(school_class, role=assignment.role, subject=assignment.subject,
                       weekly_periods=assignment.weekly_periods, starts_on=assignment.starts_on,
                       ends_on=assignment.ends_on, existing=True)
    lock_class(school_class, expected_version)
    lock_row(StaffMember, new_staff.id)
    override = _checked(school_class, new_staff, plan, override_reason=override_reason,
                        exclude_ids=(assignment.id,))
    old_staff = assignment.staff
    before = SimpleNamespace(id=assignment.id, role=assignment.role, subject_id=assignment.subject_id,
                             class_id=assignment.class_id, school_class=school_class, staff_id=old_staff.id,
                             staff=old_staff)
    assignment.staff, assignment.staff_id, assignment.qualification_override = new_staff, new_staff.id, override
    touch_class(school_class)
    guarded_flush()
    for hook in TEACHER_CHANGE_HOOKS:
        hook(before, assignment, assignment.starts_on, actor)
    record("classes.unstarted_assignment_handed_over", subject=assignment, actor=actor, changes={
        "from_staff": [old_staff.id, old_staff.full_name], "to_staff": [new_staff.id, new_staff.full_name],
        "starts_on": assignment.starts_on, "qualification_override": override})
    return assignment
