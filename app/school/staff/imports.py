"""The staff import: one row per staff member, upserted by employee number within the school.

Field rules are the staff module's own (`services.clean_staff`); schools, departments and subjects are
looked up by code in one query each, existing people and their subjects and loads in one query each.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.imports import Column, ImportContext, ImportSpec, ParsedRow, Plan, RowErrors, RowReader
from app.core.imports.bulk import (
    Steps,
    delete_where,
    in_chunks,
    insert_many,
    insert_returning_ids,
    lock_rows,
    update_many,
)
from app.core.models import utcnow
from app.core.names import full_name
from app.extensions import db
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.models import Assignment, Subject
from app.school.imports_kinds import resolve_school, units_by_code
from app.school.staff.models import StaffMember, StaffStatus, staff_subjects
from app.school.staff.services import MAX_PERIODS, clean_staff

DEFAULT_PERIODS = 16
# Stored fields an import may change, in the order changes are described.
FIELDS = ("department_id", "family_name", "given_name", "email", "phone", "hired_on", "probation_ends_on",
          "max_weekly_periods")
# Optional columns: when the file leaves the column out, the stored value stays.
OPTIONAL = {"department_id": "department_code", "email": "email", "phone": "phone",
            "probation_ends_on": "probation_ends_on"}

COLUMNS = (
    Column("school_code", _l("School code"), required=True, aliases=("school", "学校代码", "学校编码", "学校"),
           note=_l("Required. The school's code, as on the Organisation page."), example="RS1"),
    Column("department_code", _l("Department code"), aliases=("department", "部门代码", "部门编码", "部门", "教研组"),
           note=_l("Optional. The code of a department of that school."), example="RS1-MATH"),
    Column("employee_number", _l("Employee number"), required=True, aliases=("工号", "员工编号", "职工号", "教工号"),
           note=_l("Required, unique in the school. A number already there updates that person."), example="RS1-T101"),
    Column("family_name", _l("Family name"), required=True, aliases=("surname", "last name", "姓", "姓氏"),
           note=_l("Required."), example="王"),
    Column("given_name", _l("Given name"), required=True, aliases=("first name", "名", "名字"),
           note=_l("Required."), example="芳"),
    Column("email", _l("E-mail"), aliases=("e-mail", "邮箱", "电子邮箱", "电子邮件"),
           note=_l("Optional."), example="wang.fang@example.edu.cn"),
    Column("phone", _l("Phone"), aliases=("mobile", "电话", "手机", "手机号", "联系电话"),
           note=_l("Optional."), example="+86 138 0013 8000"),
    Column("hired_on", _l("Hired on"), required=True, aliases=("hire date", "入职日期"),
           note=_l("Required. A date as YYYY-MM-DD."), example="2021-09-01"),
    Column("probation_ends_on", _l("Probation ends on"), aliases=("试用期结束日期", "试用期截止日期", "试用期至"),
           note=_l("Optional. A date as YYYY-MM-DD, not before the hire date."), example="2021-12-01"),
    Column("max_weekly_periods", _l("Maximum weekly periods"), aliases=("周课时上限", "每周最多课时"),
           note=_l("Optional, 0-60. Empty: 16 for a new person, unchanged for an existing one."), example="16"),
    Column("subjects", _l("Subjects"), aliases=("subject codes", "任教科目", "学科"),
           note=_l("Optional. Subject codes separated by “;”, e.g. MATH;PHYS. An empty cell removes them all; "
                   "leave the column out to keep them."), example="MATH"),
)


@dataclass
class StaffWork:
    creates: list[dict] = field(default_factory=list)
    create_subjects: list[list[int]] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    subject_sets: dict[int, list[int]] = field(default_factory=dict)  # staff id -> new subject ids


@dataclass
class _Lookups:
    units: dict[str, OrgUnit]
    subjects: dict[str, Any]
    existing: dict[tuple[int, str], Any]
    held: dict[int, set[int]]
    load: dict[int, int]


class StaffImport(ImportSpec):
    kind = "staff"
    title = _l("Staff")
    description = _l("Staff members of your schools, one row per person. Re-importing updates people by "
                     "employee number; nobody is duplicated or deleted.")
    columns = COLUMNS
    entities = {"staff": _l("Staff members")}
    key_columns = ("school_code", "employee_number")
    key_label = _l("school and employee number")

    # --- rows ---------------------------------------------------------------------------------------------

    def parse_row(self, row: RowReader, ctx: ImportContext) -> dict[str, Any]:
        school_code = (row.text("school_code", required=True) or "").upper() or None
        department_code = (row.text("department_code") or "").upper() or None
        hired_on = row.date("hired_on", required=True)
        probation = row.date("probation_ends_on")
        periods = row.integer("max_weekly_periods", minimum=0, maximum=MAX_PERIODS)
        values, problems = clean_staff(
            employee_number=row.raw("employee_number"), family_name=row.raw("family_name"),
            given_name=row.raw("given_name"), email=row.raw("email"), phone=row.raw("phone"), hired_on=hired_on,
            probation_ends_on=probation, max_weekly_periods=DEFAULT_PERIODS if periods is None else periods,
            check_units=False, today=ctx.today,
        )
        for name, message in problems.items():
            row.error(name, message)
        data = dict(vars(values)) if values else {"employee_number": _number(row.raw("employee_number"))}
        data.update(school_code=school_code, department_code=department_code,
                    max_weekly_periods=periods, subjects=row.codes("subjects") if row.has("subjects") else None)
        return data

    def row_key(self, data: dict[str, Any]) -> tuple | None:
        if not data.get("school_code") or not data.get("employee_number"):
            return None
        return data["school_code"], data["employee_number"]

    # --- database checks ------------------------------------------------------------------------------------

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        lookups = self._lookups(rows, ctx)
        plan, work = Plan(), StaffWork()
        plan.work = work
        for row in rows:
            school, department, subject_ids = self._resolve(row, lookups, ctx, errors)
            if not row.ok or school is None:
                continue
            plan.unit_ids.add(school.id)
            self._plan_row(row, school, department, subject_ids, lookups, plan, errors)
        return plan

    def _lookups(self, rows: list[ParsedRow], ctx: ImportContext) -> _Lookups:
        units = units_by_code(r.data[k] for r in rows for k in ("school_code", "department_code"))
        wanted = sorted({c for r in rows for c in (r.data.get("subjects") or ())})
        subjects = {s.code.upper(): s for s in db.session.execute(
            sa.select(Subject.id, Subject.code, Subject.is_active).where(sa.func.upper(Subject.code).in_(wanted)))
        } if wanted else {}
        school_ids = sorted({u.id for u in units.values() if u.kind == OrgUnitKind.SCHOOL and ctx.allowed(u)})
        numbers = {r.data.get("employee_number") for r in rows}
        return _Lookups(units, subjects, *existing_staff(school_ids, numbers, ctx))

    def _resolve(self, row: ParsedRow, lookups: _Lookups, ctx: ImportContext, errors: RowErrors):
        data = row.data
        school = resolve_school(row, lookups.units, ctx, errors)
        department = lookups.units.get(data.get("department_code") or "")
        if school is not None and data.get("department_code") and (
                department is None or department.kind != OrgUnitKind.DEPARTMENT
                or department.parent_id != school.id or not department.is_active or not ctx.allowed(department)):
            errors.flag(row, "department_code", _("“%(code)s” is not a department of %(school)s.",
                                                  code=data["department_code"], school=school.code))
        subject_ids = self._subject_ids(row, lookups, school, errors)
        return school, department, subject_ids

    def _subject_ids(self, row: ParsedRow, lookups: _Lookups, school: OrgUnit | None,
                     errors: RowErrors) -> list[int] | None:
        codes = row.data.get("subjects")
        if codes is None:
            return None
        unknown = [c for c in codes if c not in lookups.subjects]
        if unknown:
            errors.flag(row, "subjects", _("Unknown subject code: %(codes)s.", codes=", ".join(unknown)))
            return None
        existing = lookups.existing.get((school.id, row.data["employee_number"])) if school else None
        held = lookups.held.get(existing.id, set()) if existing else set()
        retired = [c for c in codes if not lookups.subjects[c].is_active and lookups.subjects[c].id not in held]
        if retired:
            errors.flag(row, "subjects", _("No longer offered: %(codes)s.", codes=", ".join(retired)))
            return None
        return sorted(lookups.subjects[c].id for c in codes)

    def _plan_row(self, row: ParsedRow, school: OrgUnit, department: OrgUnit | None, subject_ids: list[int] | None,
                  lookups: _Lookups, plan: Plan, errors: RowErrors) -> None:
        data, work = row.data, plan.work
        existing = lookups.existing.get((school.id, data["employee_number"]))
        label = f"{data['employee_number']} {_full_name(data)}"
        if existing is None:
            work.creates.append(_new_staff(data, school, department))
            work.create_subjects.append(subject_ids or [])
            plan.count("staff", "create")
            plan.show(row.number, "create", label, school.code)
            return
        new = _target(data, existing, department, row.present)
        load = lookups.load.get(existing.id, 0)
        if new["max_weekly_periods"] < load:
            errors.flag(row, "max_weekly_periods", _(
                "%(name)s already teaches %(load)d periods a week: the maximum cannot be lower.",
                name=label, load=load))
            return
        changed = [name for name in FIELDS if new[name] != getattr(existing, name)]
        subjects_changed = subject_ids is not None and set(subject_ids) != lookups.held.get(existing.id, set())
        if subjects_changed:
            work.subject_sets[existing.id] = subject_ids
            changed.append("subjects")
        if not changed:
            plan.count("staff", "unchanged")
            plan.show(row.number, "unchanged", label)
            return
        work.updates.append({"b_id": existing.id, **{f"b_{k}": v for k, v in new.items()}})
        plan.count("staff", "update")
        plan.show(row.number, "update", label, ", ".join(_describe(name) for name in changed))

    # --- writing ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, ctx: ImportContext, progress) -> None:
        work: StaffWork = plan.work
        steps = Steps(plan.rows, len(work.creates) + len(work.updates), progress)
        now = utcnow()
        ids = insert_returning_ids(StaffMember.__table__,
                                   [{**values, "created_at": now, "updated_at": now} for values in work.creates], steps)
        pairs = [{"staff_id": i, "subject_id": s}
                 for i, subject_ids in zip(ids, work.create_subjects, strict=True) for s in subject_ids]
        insert_many(staff_subjects, pairs)
        # the version is bumped so that a form opened before the import refuses to save over it
        update_many(StaffMember.__table__, work.updates, FIELDS, steps, updated_at=now,
                    version=StaffMember.__table__.c.version + 1)
        _replace_subjects(work.subject_sets)


def _number(text: str) -> str:
    return text.strip().upper()


def _full_name(data: dict) -> str:
    return full_name(data.get("family_name") or "", data.get("given_name") or "")


def _describe(name: str) -> str:
    column = {"department_id": "department_code"}.get(name, name)
    return str(next(c.label for c in COLUMNS if c.name == column))


def _new_staff(data: dict, school: OrgUnit, department: OrgUnit | None) -> dict:
    periods = data["max_weekly_periods"]
    return {
        "school_id": school.id, "department_id": department.id if department else None,
        "employee_number": data["employee_number"], "family_name": data["family_name"],
        "given_name": data["given_name"], "email": data["email"], "phone": data["phone"],
        "hired_on": data["hired_on"], "probation_ends_on": data["probation_ends_on"],
        "max_weekly_periods": DEFAULT_PERIODS if periods is None else periods,
        "status": StaffStatus.ACTIVE.value, "version": 1,
    }


def _target(data: dict, existing: Any, department: OrgUnit | None, present: frozenset[str]) -> dict:
    """The stored values after this row: a column the file leaves out keeps what is stored."""
    new = {
        "department_id": department.id if department else None,
        "family_name": data["family_name"], "given_name": data["given_name"], "email": data["email"],
        "phone": data["phone"], "hired_on": data["hired_on"], "probation_ends_on": data["probation_ends_on"],
        "max_weekly_periods": existing.max_weekly_periods if data["max_weekly_periods"] is None
        else data["max_weekly_periods"],
    }
    for name, column in OPTIONAL.items():
        if column not in present:
            new[name] = getattr(existing, name)
    return new


def existing_staff(school_ids: list[int], numbers: set[str | None], ctx: ImportContext) -> tuple[dict, dict, dict]:
    """Staff of these schools with the file's numbers, their subject ids, and their weekly periods in use today.

    A few queries whatever the file's size (numbers in chunks of a thousand). When the plan is to be applied,
    those people are locked first, so that nobody assigns them classes while their maximum is being lowered.
    """
    numbers = {n for n in numbers if n}
    if not school_ids or not numbers:
        return {}, {}, {}
    table = StaffMember.__table__
    existing = {(r.school_id, r.employee_number): r for r in in_chunks(
        table.c.employee_number, numbers,
        lambda cond: sa.select(table.c.id, table.c.school_id, table.c.employee_number, *(table.c[f] for f in FIELDS))
        .where(cond, table.c.school_id.in_(school_ids)))}
    ids = [r.id for r in existing.values()]
    if ctx.lock:
        lock_rows(table, ids)
    held: dict[int, set[int]] = {}
    for staff_id, subject_id in in_chunks(staff_subjects.c.staff_id, ids, lambda cond: sa.select(
            staff_subjects.c.staff_id, staff_subjects.c.subject_id).where(cond)):
        held.setdefault(staff_id, set()).add(subject_id)
    load = dict(in_chunks(Assignment.staff_id, ids, lambda cond: sa.select(
        Assignment.staff_id, sa.func.sum(Assignment.weekly_periods))
        .where(cond, Assignment.starts_on <= ctx.today,
               sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= ctx.today))
        .group_by(Assignment.staff_id)))
    return existing, held, {k: int(v or 0) for k, v in load.items()}


def _replace_subjects(subject_sets: dict[int, list[int]]) -> None:
    if not subject_sets:
        return
    delete_where(staff_subjects, staff_subjects.c.staff_id, subject_sets)
    insert_many(staff_subjects, [{"staff_id": i, "subject_id": s} for i, ids in subject_sets.items() for s in ids])
