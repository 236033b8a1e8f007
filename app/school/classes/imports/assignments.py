"""The assignments import: who is homeroom or subject teacher of which class, from which day.

An assignment is matched by class, teacher, role, subject and first day; re-importing the same row changes
nothing. The rules are those of the classes services: the teacher works at the class's school and is not
leaving, one homeroom teacher (and one teacher per subject) per class at a time, the teacher may teach the
subject (`qualification_problem`, or a recorded reason), and their weekly periods, counting every row of
the file, stay within their maximum. A change of teacher is not an import: it is "Change teacher".
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.imports import Column, ImportContext, ImportSpec, ParsedRow, Plan, RowErrors, RowReader
from app.core.imports.bulk import Steps, bump_versions, in_chunks, insert_many, lock_rows, update_many
from app.core.imports.fields import choice_key
from app.core.models import utcnow
from app.extensions import db
from app.school.classes.imports.rows import ROLES, class_key, classes_by_key, report, unknown_class
from app.school.classes.models import Assignment, SchoolClass, Subject
from app.school.classes.services import clean_academic_year, qualification_problem
from app.school.classes.services.assignments import OVERRIDE_MAX, PERIODS_MAX
from app.school.classes.services.common import within_year
from app.school.imports_kinds import by_code, resolve_school, staff_by_number, units_by_code
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.services import normalise_employee_number

COLUMNS = (
    Column("school_code", _l("School code"), required=True, aliases=("school", "学校代码", "学校编码", "学校"),
           note=_l("Required. The school's code, as on the Organisation page."), example="RS1"),
    Column("academic_year", _l("Academic year"), required=True, aliases=("year", "学年"),
           note=_l("Required, e.g. 2026-2027."), example="2026-2027"),
    Column("class_name", _l("Class"), required=True, aliases=("class", "班级", "班级名称"),
           note=_l("Required. The name of an existing class of that school and year."), example="初一(1)班"),
    Column("employee_number", _l("Employee number"), required=True, aliases=("工号", "员工编号", "职工号", "教工号"),
           note=_l("Required. The teacher's employee number in that school."), example="RS1-T101"),
    Column("role", _l("Role"), required=True, aliases=("角色", "职务", "任教类型"),
           note=_l("Required: homeroom or subject (班主任, 任课)."), example="subject"),
    Column("subject_code", _l("Subject code"), aliases=("subject", "科目代码", "科目", "学科"),
           note=_l("Required for a subject teacher, empty for a homeroom teacher."), example="MATH"),
    Column("weekly_periods", _l("Weekly periods"), required=True, aliases=("periods", "周课时", "每周课时"),
           note=_l("Required, 0-40. The teacher's total, this file included, may not exceed their maximum."),
           example="5"),
    Column("starts_on", _l("Starts on"), required=True, aliases=("start date", "开始日期", "起始日期"),
           note=_l("Required. A date as YYYY-MM-DD within the academic year."), example="2026-09-01"),
    Column("qualification_override", _l("Reason if not qualified"), aliases=("override reason", "例外原因"),
           note=_l("Only when the teacher does not list the subject: why the exception is justified."), example=""),
)


@dataclass
class _Work:
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    classes: set[int] = field(default_factory=set)


@dataclass
class _Resolved:
    row: ParsedRow
    school_class: SchoolClass
    staff: StaffMember
    subject: Any
    existing: Any = None  # the stored assignment with the same natural key


class AssignmentImport(ImportSpec):
    kind = "assignments"
    title = _l("Teaching assignments")
    description = _l("Homeroom and subject teachers of classes, with weekly periods and the first day. Re-importing "
                     "the same rows changes nothing; to hand a class to another teacher use “Change teacher”.")
    columns = COLUMNS
    entities = {"assignments": _l("Assignments")}
    key_columns = ("school_code", "academic_year", "class_name", "role", "subject_code")
    key_label = _l("class, role and subject (a class has one teacher per subject and one homeroom teacher)")

    # --- rows ------------------------------------------------------------------------------------------------

    def parse_row(self, row: RowReader, ctx: ImportContext) -> dict[str, Any]:
        year = row.text("academic_year", required=True)
        if year:
            year, problem = clean_academic_year(year)
            report(row, {"academic_year": problem}, {})
            year = None if problem else year
        role = row.choice("role", ROLES, required=True)
        subject_code = (row.text("subject_code") or "").upper() or None
        if role == "subject" and subject_code is None:
            row.error("subject_code", _("Enter the subject code: a subject teacher teaches a subject."))
        if role == "homeroom" and subject_code is not None:
            row.error("subject_code", _("A homeroom teacher has no subject here: leave the cell empty."))
        number = normalise_employee_number(row.text("employee_number", required=True))
        return {
            "school_code": (row.text("school_code", required=True) or "").upper() or None,
            "academic_year": year, "class_name": row.text("class_name", required=True, max_length=100),
            "employee_number": number or None, "role": role, "subject_code": subject_code,
            "weekly_periods": row.integer("weekly_periods", minimum=0, maximum=PERIODS_MAX, required=True),
            "starts_on": row.date("starts_on", required=True),
            "qualification_override": row.text("qualification_override", max_length=OVERRIDE_MAX),
        }

    def row_key(self, data: dict[str, Any]) -> tuple | None:
        values = (data.get("school_code"), data.get("academic_year"), data.get("class_name"), data.get("role"))
        if any(v is None for v in values):
            return None
        return (*values[:2], choice_key(values[2]), values[3], data.get("subject_code") or "")

    # --- database checks ---------------------------------------------------------------------------------------

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        units = units_by_code(r.data.get("school_code") for r in rows)
        schools = {r.number: resolve_school(r, units, ctx, errors) for r in rows}
        school_ids = {s.id for s in schools.values() if s}
        classes = classes_by_key(school_ids, {r.data.get("academic_year") for r in rows})
        staff = staff_by_number(school_ids, {r.data.get("employee_number") for r in rows})
        subjects = by_code(Subject, {r.data.get("subject_code") for r in rows})
        resolved = [item for r in rows if (item := self._resolve(r, schools[r.number], classes, staff, subjects,
                                                                  errors)) is not None]
        if ctx.lock:
            lock_rows(SchoolClass.__table__, {i.school_class.id for i in resolved})
            lock_rows(StaffMember.__table__, {i.staff.id for i in resolved})
        stored = _Stored.load({i.school_class.id for i in resolved}, {i.staff.id for i in resolved},
                              min((i.row.data["starts_on"] for i in resolved), default=ctx.today))
        plan, work = Plan(), _Work()
        plan.work = work
        for item in resolved:
            self._check_rules(item, stored, errors)
        _check_capacity([i for i in resolved if i.row.ok], stored, errors)
        for item in resolved:
            if item.row.ok:
                _plan_row(item, plan, work)
        return plan

    def _resolve(self, row: ParsedRow, school, classes, staff, subjects, errors: RowErrors) -> _Resolved | None:
        data = row.data
        if school is None:
            return None
        school_class = classes.get(class_key(school.id, data["academic_year"], data["class_name"])) \
            if data.get("academic_year") and data.get("class_name") else None
        if school_class is None and data.get("academic_year") and data.get("class_name"):
            unknown_class(row, errors, school, data)
        teacher = staff.get((school.id, data.get("employee_number")))
        if teacher is None and data.get("employee_number"):
            errors.flag(row, "employee_number", _("Unknown employee number “%(number)s” at %(school)s.",
                                                  number=data["employee_number"], school=school.code))
        subject = subjects.get(data.get("subject_code") or "")
        if data.get("subject_code") and subject is None:
            errors.flag(row, "subject_code", _("Unknown subject code “%(code)s”.", code=data["subject_code"]))
        if not row.ok or school_class is None or teacher is None:
            return None
        return _Resolved(row, school_class, teacher, subject)

    @staticmethod
    def _check_rules(item: _Resolved, stored: _Stored, errors: RowErrors) -> None:
        row, data, teacher = item.row, item.row.data, item.staff
        problem = within_year(item.school_class, data["starts_on"])
        if problem:
            errors.flag(row, "starts_on", problem)
            return
        subject_id = item.subject.id if item.subject else None
        item.existing = stored.same(item.school_class.id, teacher.id, data["role"], subject_id, data["starts_on"])
        if item.existing is not None:
            return  # the same assignment again: only its periods can change
        if teacher.status == StaffStatus.DEPARTED:
            errors.flag(row, "employee_number", _("%(name)s has left the school and cannot be given classes.",
                                                  name=teacher.full_name))
        elif teacher.status == StaffStatus.ON_NOTICE:
            errors.flag(row, "employee_number", _("%(name)s is leaving (on notice) and gets no new classes.",
                                                  name=teacher.full_name))
        if item.subject is not None and not item.subject.is_active:
            errors.flag(row, "subject_code", _("%(subject)s is no longer taught: choose an active subject.",
                                               subject=item.subject.name))
        other = stored.overlapping(item.school_class.id, data["role"], subject_id, data["starts_on"])
        if other is not None:
            errors.flag(row, "starts_on", _overlap_message(other))
        problem = qualification_problem(teacher, item.subject, item.school_class, data["starts_on"])
        if problem and not data.get("qualification_override"):
            errors.flag(row, "qualification_override", problem)

    # --- writing ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, ctx: ImportContext, progress) -> None:
        work: _Work = plan.work
        steps = Steps(plan.rows, len(work.creates) + len(work.updates), progress)
        now = utcnow()
        insert_many(Assignment.__table__, [{**values, "created_at": now} for values in work.creates], steps)
        update_many(Assignment.__table__, work.updates, ["weekly_periods"], steps)
        bump_versions(SchoolClass.__table__, work.classes)


def _plan_row(item: _Resolved, plan: Plan, work: _Work) -> None:
    data = item.row.data
    label = f"{item.school_class.academic_year} {item.school_class.name} · {item.staff.full_name}"
    what = item.subject.name if item.subject else _("homeroom")
    details = _("%(what)s, %(periods)d periods a week from %(day)s", what=what, periods=data["weekly_periods"],
                day=data["starts_on"].isoformat())
    plan.unit_ids.add(item.school_class.school_id)
    if item.existing is not None:
        if item.existing.weekly_periods == data["weekly_periods"]:
            plan.count("assignments", "unchanged")
            plan.show(item.row.number, "unchanged", label, details)
            return
        work.updates.append({"b_id": item.existing.id, "b_weekly_periods": data["weekly_periods"]})
        work.classes.add(item.school_class.id)
        plan.count("assignments", "update")
        plan.show(item.row.number, "update", label, details)
        return
    work.creates.append({
        "class_id": item.school_class.id, "staff_id": item.staff.id, "role": data["role"],
        "subject_id": item.subject.id if item.subject else None, "weekly_periods": data["weekly_periods"],
        "starts_on": data["starts_on"], "ends_on": None,
        "qualification_override": data["qualification_override"] if qualification_problem(
            item.staff, item.subject, item.school_class, data["starts_on"]) else None,
    })
    work.classes.add(item.school_class.id)
    plan.count("assignments", "create")
    plan.show(item.row.number, "create", label, details)


@dataclass
class _Stored:
    """The stored assignments of the file's classes and teachers (two queries)."""

    by_class: dict[int, list]
    by_staff: dict[int, list]

    @classmethod
    def load(cls, class_ids: set[int], staff_ids: set[int], since: date) -> _Stored:
        columns = (Assignment.id, Assignment.class_id, Assignment.staff_id, Assignment.role, Assignment.subject_id,
                   Assignment.weekly_periods, Assignment.starts_on, Assignment.ends_on)
        running = sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= since)
        by_class: dict[int, list] = defaultdict(list)
        for a in in_chunks(Assignment.class_id, class_ids, lambda c: sa.select(*columns).where(c, running)):
            by_class[a.class_id].append(a)
        by_staff: dict[int, list] = defaultdict(list)
        for a in in_chunks(Assignment.staff_id, staff_ids, lambda c: sa.select(*columns).where(c, running)):
            by_staff[a.staff_id].append(a)
        return cls(by_class, by_staff)

    def same(self, class_id: int, staff_id: int, role: str, subject_id: int | None, starts_on: date):
        return next((a for a in self.by_class.get(class_id, ()) if a.staff_id == staff_id and a.role == role
                     and a.subject_id == subject_id and a.starts_on == starts_on), None)

    def overlapping(self, class_id: int, role: str, subject_id: int | None, starts_on: date):
        """The class's homeroom (or teacher of the subject) still running on or after `starts_on`."""
        return next((a for a in sorted(self.by_class.get(class_id, ()), key=lambda a: a.starts_on)
                     if a.role == role and a.subject_id == subject_id
                     and (a.ends_on is None or a.ends_on >= starts_on)), None)


def _overlap_message(other) -> str:
    person = db.session.get(StaffMember, other.staff_id)
    until = other.ends_on.isoformat() if other.ends_on else _("further notice")
    if other.role == "homeroom":
        return _("%(name)s is the homeroom teacher of this class from %(start)s until %(end)s: a class has one "
                 "homeroom teacher at a time. Use “Change teacher” or end that assignment first.",
                 name=person.full_name, start=other.starts_on.isoformat(), end=until)
    subject = db.session.get(Subject, other.subject_id)
    return _("%(name)s teaches %(subject)s to this class from %(start)s until %(end)s. Use “Change teacher” or end "
             "that assignment first.", name=person.full_name, subject=subject.name,
             start=other.starts_on.isoformat(), end=until)


def _peak(intervals: list[tuple[date, date | None, int]], since: date) -> tuple[int, date]:
    """The highest total of weekly periods on any day from `since` on, and the first day it is reached
    (as `weekly_load_between`: the load only rises on a day an assignment starts)."""
    days = sorted({since} | {start for start, _end, _n in intervals if start > since})
    peak, peak_day = 0, since
    for day in days:
        load = sum(n for start, end, n in intervals if start <= day and (end is None or end >= day))
        if load > peak:
            peak, peak_day = load, day
    return peak, peak_day


def _check_capacity(items: list[_Resolved], stored: _Stored, errors: RowErrors) -> None:
    """Each teacher's weekly periods, the file's rows included, stay within their maximum on every day."""
    by_teacher: dict[int, list[_Resolved]] = defaultdict(list)
    for item in items:
        by_teacher[item.staff.id].append(item)
    for staff_id, mine in by_teacher.items():
        replaced = {i.existing.id for i in mine if i.existing is not None}
        intervals = [(a.starts_on, a.ends_on, a.weekly_periods) for a in stored.by_staff.get(staff_id, ())
                     if a.id not in replaced]
        intervals += [(i.row.data["starts_on"], i.existing.ends_on if i.existing else None,
                       i.row.data["weekly_periods"]) for i in mine]
        teacher = mine[0].staff
        for item in mine:
            new = item.row.data["weekly_periods"]
            if item.existing is not None and new <= item.existing.weekly_periods:
                continue  # adds nothing to the load
            peak, day = _peak(intervals, item.row.data["starts_on"])
            if peak > teacher.max_weekly_periods:
                errors.flag(item.row, "weekly_periods", _(
                    "%(name)s would teach %(total)d periods a week from %(day)s (%(used)d already assigned + "
                    "%(new)d), over their maximum of %(max)d.", name=teacher.full_name, total=peak,
                    day=day.isoformat(), used=peak - new, new=new, max=teacher.max_weekly_periods))
