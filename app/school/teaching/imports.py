"""The timetable import: the weekly lessons of a term, one row per weekday, period and class.

A row names the school and term, the time (weekday and period), the class (by name, of an academic year that
covers the term), the subject (code) and the teacher (employee number). The rules are the timetable services'
own (`validate_rows`): the teacher is assigned to teach that subject to that class, and nobody is in two places
at once, counting the stored timetable and every row of the file. A row at a place already in the timetable
replaces its subject and teacher; re-importing the same file changes nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from app.core.imports import Column, ImportContext, ImportSpec, ParsedRow, Plan, RowErrors, RowReader
from app.core.imports.bulk import lock_rows
from app.core.imports.fields import choice_key
from app.extensions import db
from app.school.classes.models import SchoolClass, Subject
from app.school.classes.services.common import academic_year_bounds
from app.school.imports_kinds import by_code, resolve_school, staff_by_number, units_by_code
from app.school.staff.services import normalise_employee_number
from app.school.teaching.models import Term, TimetableSlot
from app.school.teaching.services.timetable import (
    SlotRow,
    dropped_slots,
    replace_timetable,
    validate_rows,
    weekday_name,
)

_NAMES = (("monday", "mon", "周一", "星期一", "礼拜一"), ("tuesday", "tue", "周二", "星期二", "礼拜二"),
          ("wednesday", "wed", "周三", "星期三", "礼拜三"), ("thursday", "thu", "周四", "星期四", "礼拜四"),
          ("friday", "fri", "周五", "星期五", "礼拜五"), ("saturday", "sat", "周六", "星期六", "礼拜六"),
          ("sunday", "sun", "周日", "周天", "星期日", "星期天", "礼拜天", "礼拜日"))
WEEKDAYS = {name: str(number) for number, names in enumerate(_NAMES, start=1) for name in (*names, str(number))}

COLUMNS = (
    Column("school_code", _l("School code"), required=True, aliases=("school", "学校代码", "学校编码", "学校"),
           note=_l("Required. The school's code, as on the Organisation page."), example="RS1"),
    Column("term", _l("Term"), required=True, aliases=("term name", "学期"),
           note=_l("Required. The name of an existing term of that school, as on the Teaching page."),
           example="2026-2027 autumn term"),
    Column("weekday", _l("Weekday"), required=True, aliases=("day", "星期", "周几"),
           note=_l("Required: 1-7 (1 = Monday), Mon-Sun, or 周一-周日."), example="1"),
    Column("period", _l("Period"), required=True, aliases=("节次", "第几节", "课节"),
           note=_l("Required: 1-12."), example="3"),
    Column("class", _l("Class"), required=True, aliases=("class name", "class_name", "班级", "班级名称"),
           note=_l("Required. The name of a class of that school whose academic year covers the term."),
           example="初一(2)班"),
    Column("subject", _l("Subject code"), required=True, aliases=("subject_code", "科目代码", "科目", "学科"),
           note=_l("Required. The code of an active subject."), example="MATH"),
    Column("employee_number", _l("Employee number"), required=True, aliases=("工号", "员工编号", "职工号", "教工号"),
           note=_l("Required. The teacher's employee number; they must be assigned to teach the subject to the "
                   "class."), example="RS1-T101"),
)


@dataclass
class _Work:
    """The checked rows by term, written by `replace_timetable`."""

    terms: dict[int, Term] = field(default_factory=dict)
    rows: dict[int, list[SlotRow]] = field(default_factory=lambda: defaultdict(list))


class TimetableImport(ImportSpec):
    kind = "timetable"
    title = _l("Timetable")
    description = _l("The weekly lessons of a term: weekday, period, class, subject and teacher. A row at a weekday, "
                     "period and class already in the timetable replaces its subject and teacher; other lessons stay. "
                     "Re-importing the same file changes nothing.")
    columns = COLUMNS
    entities = {"slots": _l("Timetable lessons")}
    key_columns = ("school_code", "term", "weekday", "period", "class")
    key_label = _l("term, weekday, period and class")

    # --- rows ------------------------------------------------------------------------------------------------

    def parse_row(self, row: RowReader, ctx: ImportContext) -> dict[str, Any]:
        weekday = row.choice("weekday", WEEKDAYS, required=True)
        return {
            "school_code": (row.text("school_code", required=True) or "").upper() or None,
            "term": row.text("term", required=True, max_length=100),
            "weekday": int(weekday) if weekday else None,
            "period": row.integer("period", minimum=1, maximum=12, required=True),
            "class": row.text("class", required=True, max_length=100),
            "subject": (row.text("subject", required=True) or "").upper() or None,
            "employee_number": normalise_employee_number(row.text("employee_number", required=True)) or None,
        }

    def row_key(self, data: dict[str, Any]) -> tuple | None:
        values = tuple(data.get(name) for name in self.key_columns)
        if any(v in (None, "") for v in values):
            return None
        return values[0], choice_key(values[1]), values[2], values[3], choice_key(values[4])

    # --- database checks -------------------------------------------------------------------------------------

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        units = units_by_code(r.data.get("school_code") for r in rows)
        schools = {r.number: resolve_school(r, units, ctx, errors) for r in rows}
        school_ids = {s.id for s in schools.values() if s}
        terms = _terms(school_ids)
        if ctx.lock:
            lock_rows(Term.__table__, {t.id for t in terms.values()})
        classes = _classes(school_ids)
        staff = staff_by_number(school_ids, {r.data.get("employee_number") for r in rows})
        subjects = by_code(Subject, {r.data.get("subject") for r in rows})
        plan, work = Plan(), _Work()
        plan.work = work
        for row in rows:
            item = _resolve(row, schools[row.number], terms, classes, staff, subjects, errors)
            if item is not None:
                work.terms[item[0].id] = item[0]
                work.rows[item[0].id].append(item[1])
        for term_id, items in work.rows.items():
            term = work.terms[term_id]
            clean, problems = validate_rows(term, items)
            for number, column, message in problems:
                errors.add(number, column, message)
            _count(plan, term, clean)
            gone = dropped_slots(list(db.session.scalars(sa.select(TimetableSlot).where(
                TimetableSlot.term_id == term.id))), items)
            if gone:
                plan.count("slots", "end", len(gone))
                plan.warnings.append(ngettext(
                    "%(num)d lesson of the timetable of %(term)s is not in the file for its class and will be removed "
                    "(with its lessons from today on): %(list)s.",
                    "%(num)d lessons of the timetable of %(term)s are not in the file for their classes and will be "
                    "removed (with their lessons from today on): %(list)s.", len(gone), term=term.name,
                    list="; ".join(f"{weekday_name(s.weekday)} {s.period} · {s.school_class.name}" for s in gone[:10])
                    + (" …" if len(gone) > 10 else "")))
        return plan

    # --- writing ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, ctx: ImportContext, progress) -> None:
        work: _Work = plan.work
        done = 0
        for term_id, items in work.rows.items():
            replace_timetable(work.terms[term_id], items, actor=ctx.actor)
            done += len(items)
            progress(done)


def _terms(school_ids: set[int]) -> dict[tuple, Term]:
    """The terms of these schools by (school, name compared case-insensitively): one query."""
    if not school_ids:
        return {}
    stmt = sa.select(Term).where(Term.school_id.in_(sorted(school_ids)))
    return {(t.school_id, choice_key(t.name)): t for t in db.session.scalars(stmt).unique()}


def _classes(school_ids: set[int]) -> dict[tuple, list[SchoolClass]]:
    """The classes of these schools by (school, name compared case-insensitively), every year: one query."""
    found: dict[tuple, list[SchoolClass]] = defaultdict(list)
    if school_ids:
        for c in db.session.scalars(sa.select(SchoolClass).where(SchoolClass.school_id.in_(sorted(school_ids)))):
            found[(c.school_id, choice_key(c.name))].append(c)
    return found


def _class_for(term: Term, candidates: list[SchoolClass]) -> SchoolClass | None:
    """The class of that name whose academic year covers the term."""
    return next((c for c in candidates if academic_year_bounds(c.academic_year)[0] <= term.starts_on
                 and term.ends_on <= academic_year_bounds(c.academic_year)[1]), None)


def _resolve(row: ParsedRow, school, terms, classes, staff, subjects, errors: RowErrors) -> tuple | None:
    """The term and the slot-to-be of a row, or None (with the row's problems reported)."""
    data = row.data
    if school is None or not row.ok:
        return None
    term = terms.get((school.id, choice_key(data["term"])))
    if term is None:
        errors.flag(row, "term", _("Unknown term “%(name)s” at %(school)s.", name=data["term"], school=school.code))
        return None
    school_class = _class_for(term, classes.get((school.id, choice_key(data["class"])), []))
    if school_class is None:
        errors.flag(row, "class", _("No class “%(name)s” at %(school)s in an academic year covering %(term)s.",
                                    name=data["class"], school=school.code, term=term.name))
    subject = subjects.get(data["subject"])
    if subject is None:
        errors.flag(row, "subject", _("Unknown subject code “%(code)s”.", code=data["subject"]))
    teacher = staff.get((school.id, data["employee_number"]))
    if teacher is None:
        errors.flag(row, "employee_number", _("Unknown employee number “%(number)s” at %(school)s.",
                                              number=data["employee_number"], school=school.code))
    if not row.ok:
        return None
    return term, SlotRow(row.number, data["weekday"], data["period"], school_class, subject, teacher)


def _count(plan: Plan, term: Term, clean: list[SlotRow]) -> None:
    plan.unit_ids.add(term.school_id)
    for item in clean:
        action = "create" if item.existing is None else ("update" if item.changed else "unchanged")
        plan.count("slots", action)
        plan.show(item.row, action, f"{term.name} · {weekday_name(item.weekday)} {item.period} · "
                                    f"{item.school_class.name}", f"{item.subject.name}, {item.staff.full_name}")
