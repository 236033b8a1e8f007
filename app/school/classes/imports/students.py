"""The students import: one row per student and guardian, with the student's class.

Students are upserted by student number within the school, guardians by e-mail (else mobile number),
links by student and guardian, enrolments by student and class. A student with two guardians takes two
rows; a guardian with two children appears on both children's rows. Field rules are the classes module's
own (`clean_student`, `clean_guardian`, `clean_relationship`, `clean_academic_year`).
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
    bump_versions,
    in_chunks,
    insert_many,
    insert_returning_ids,
    lock_rows,
    update_many,
)
from app.school.classes.imports.rows import (
    CHANNELS,
    LANGUAGES,
    RELATIONSHIPS,
    class_key,
    classes_by_key,
    consistent,
    default_start,
    display_name,
    report,
    unknown_class,
)
from app.school.classes.models import Enrollment, Guardian, SchoolClass, Student, StudentGuardian
from app.school.classes.services import clean_academic_year, clean_guardian, clean_student
from app.school.classes.services.common import within_year
from app.school.imports_kinds import resolve_school, units_by_code

STUDENT_FIELDS = ("family_name", "given_name", "born_on")
GUARDIAN_FIELDS = ("full_name", "email", "phone", "preferred_channel", "locale")
# clean_student / clean_guardian field -> column of the file
STUDENT_COLUMNS = {"student_number": "student_number", "family_name": "student_family_name",
                   "given_name": "student_given_name", "born_on": "born_on"}
GUARDIAN_COLUMNS = {"full_name": "guardian_name", "email": "guardian_email", "phone": "guardian_phone",
                    "preferred_channel": "preferred_channel", "locale": "language"}

COLUMNS = (
    Column("school_code", _l("School code"), required=True, aliases=("school", "学校代码", "学校编码", "学校"),
           note=_l("Required. The school's code, as on the Organisation page."), example="RS1"),
    Column("student_number", _l("Student number"), required=True, aliases=("学号", "学籍号", "学生编号"),
           note=_l("Required, unique in the school. A number already there updates that student."),
           example="RS1-26901"),
    Column("student_family_name", _l("Student family name"), required=True, aliases=("学生姓", "学生姓氏"),
           note=_l("Required."), example="李"),
    Column("student_given_name", _l("Student given name"), required=True, aliases=("学生名", "学生名字"),
           note=_l("Required."), example="明"),
    Column("born_on", _l("Born on"), aliases=("date of birth", "出生日期", "生日"),
           note=_l("Optional. A date as YYYY-MM-DD."), example="2014-03-15"),
    Column("academic_year", _l("Academic year"), required=True, aliases=("year", "学年"),
           note=_l("Required, e.g. 2026-2027."), example="2026-2027"),
    Column("class_name", _l("Class"), required=True, aliases=("class", "班级", "班级名称"),
           note=_l("Required. The name of an existing class of that school and year."), example="初一(1)班"),
    Column("enrolled_on", _l("In the class from"), aliases=("入班日期", "入学日期"),
           note=_l("Optional. Empty: today, or the first day of the academic year if it has not begun."),
           example=""),
    Column("guardian_name", _l("Guardian name"), aliases=("guardian", "监护人", "监护人姓名", "家长", "家长姓名"),
           note=_l("The guardian's full name. Leave the guardian columns empty for a student without one."),
           example="李娜"),
    Column("relationship", _l("Relationship"), aliases=("关系", "与学生关系"),
           note=_l("mother, father, grandparent, guardian or other (母亲, 父亲, 祖父母, 监护人, 其他)."),
           example="mother"),
    Column("guardian_email", _l("Guardian e-mail"), aliases=("家长邮箱", "监护人邮箱", "家长电子邮箱"),
           note=_l("E-mail or mobile number required. The e-mail finds an existing guardian."),
           example="li.na@example.com"),
    Column("guardian_phone", _l("Guardian mobile"), aliases=("家长电话", "家长手机", "监护人电话", "监护人手机"),
           note=_l("Mobile number for SMS notices."), example="13800138000"),
    Column("preferred_channel", _l("Notices by"), aliases=("channel", "通知方式"),
           note=_l("email or sms (邮件, 短信). Empty: e-mail when there is an address."), example="sms"),
    Column("language", _l("Language"), aliases=("locale", "语言"),
           note=_l("zh or en (中文, 英文). Empty: zh."), example="zh"),
)


@dataclass
class _State:
    """What the file says, keyed by natural keys, and what the database holds for them."""

    students: dict[tuple, dict] = field(default_factory=dict)  # (school_id, number) -> plan entry
    guardians: dict[str, dict] = field(default_factory=dict)  # guardian key -> plan entry
    links: dict[tuple, dict] = field(default_factory=dict)  # (student key, guardian key) -> plan entry
    enrolments: list[dict] = field(default_factory=list)
    touched_classes: set[int] = field(default_factory=set)
    guardian_rows: dict[int, int] = field(default_factory=dict)  # existing guardian id -> first row meaning them


class StudentImport(ImportSpec):
    kind = "students"
    title = _l("Students and guardians")
    description = _l("Students with their class and guardians: one row per student and guardian. Re-importing "
                     "updates students by student number and guardians by e-mail or mobile; nothing is duplicated.")
    columns = COLUMNS
    entities = {"students": _l("Students"), "guardians": _l("Guardians"), "links": _l("Guardian links"),
                "enrolments": _l("Enrolments")}
    key_columns = ("school_code", "student_number", "guardian_email")
    key_label = _l("student and guardian")

    # --- rows ------------------------------------------------------------------------------------------------

    def parse_row(self, row: RowReader, ctx: ImportContext) -> dict[str, Any]:
        born_on = row.date("born_on")
        student, problems = clean_student(student_number=row.raw("student_number"),
                                          family_name=row.raw("student_family_name"),
                                          given_name=row.raw("student_given_name"), born_on=born_on, today=ctx.today)
        report(row, problems, STUDENT_COLUMNS)
        year = row.text("academic_year", required=True)
        if year:
            year, problem = clean_academic_year(year)
            report(row, {"academic_year": problem}, {})
            year = None if problem else year
        return {
            "school_code": (row.text("school_code", required=True) or "").upper() or None,
            "student_number": student.student_number if student else row.raw("student_number").strip().upper(),
            "student": vars(student) if student else None,
            "academic_year": year, "class_name": row.text("class_name", required=True, max_length=100),
            "enrolled_on": row.date("enrolled_on"), **self._guardian(row),
        }

    @staticmethod
    def _guardian(row: RowReader) -> dict[str, Any]:
        if not any(row.raw(c) for c in ("guardian_name", "guardian_email", "guardian_phone")):
            return {"guardian": None, "guardian_key": "", "relationship": None}
        relationship = row.choice("relationship", RELATIONSHIPS) or "guardian"
        email, phone = row.raw("guardian_email"), row.raw("guardian_phone")
        channel = row.choice("preferred_channel", CHANNELS) or ("email" if email else "sms")
        locale = row.choice("language", LANGUAGES) or "zh"
        values, problems = clean_guardian(full_name=row.raw("guardian_name"), email=email, phone=phone,
                                          preferred_channel=channel, locale=locale)
        report(row, problems, GUARDIAN_COLUMNS)
        key = (values.email or values.phone or "") if values else (email.strip().lower() or phone.strip())
        return {"guardian": vars(values) if values else None, "guardian_key": key, "relationship": relationship}

    def row_key(self, data: dict[str, Any]) -> tuple | None:
        if not data.get("school_code") or not data.get("student_number"):
            return None
        return data["school_code"], data["student_number"], data.get("guardian_key") or ""

    # --- database checks ---------------------------------------------------------------------------------------

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        self._check_consistency(rows, errors)
        units = units_by_code(r.data.get("school_code") for r in rows)
        schools = {r.number: resolve_school(r, units, ctx, errors) for r in rows}
        classes = classes_by_key({s.id for s in schools.values() if s}, {r.data.get("academic_year") for r in rows})
        targets = {r.number: self._target_class(r, schools[r.number], classes, ctx, errors) for r in rows}
        good = [r for r in rows if r.ok]
        if ctx.lock:  # the order the services lock in: classes, then students
            lock_rows(SchoolClass.__table__, {targets[r.number][0].id for r in good})
        lookup = _Lookup.load(good, schools, lock=ctx.lock)
        plan, state = Plan(), _State()
        plan.work = state
        for row in good:
            self._plan_row(row, schools[row.number], targets[row.number], lookup, plan, state, errors)
        return plan

    @staticmethod
    def _check_consistency(rows: list[ParsedRow], errors: RowErrors) -> None:
        """A student's rows must agree on the student and class; a guardian's rows on the guardian."""
        consistent(rows, errors, lambda d: (d.get("school_code"), d.get("student_number")),
                   {"student_family_name": lambda d: (d.get("student") or {}).get("family_name"),
                    "student_given_name": lambda d: (d.get("student") or {}).get("given_name"),
                    "born_on": lambda d: (d.get("student") or {}).get("born_on"),
                    "academic_year": lambda d: d.get("academic_year"),
                    "class_name": lambda d: (d.get("class_name") or "").casefold(),
                    "enrolled_on": lambda d: d.get("enrolled_on")},
                   _("Differs from row %(row)d of the same student."))
        consistent(rows, errors, lambda d: d.get("guardian_key") or None,
                   {column: (lambda d, f=name: (d.get("guardian") or {}).get(f))
                    for name, column in GUARDIAN_COLUMNS.items()},
                   _("Differs from row %(row)d of the same guardian."))

    @staticmethod
    def _target_class(row: ParsedRow, school, classes: dict, ctx: ImportContext, errors: RowErrors):
        data = row.data
        if school is None or not data.get("academic_year") or not data.get("class_name"):
            return None
        school_class = classes.get(class_key(school.id, data["academic_year"], data["class_name"]))
        if school_class is None:
            unknown_class(row, errors, school, data)
            return None
        day = data.get("enrolled_on") or default_start(school_class, ctx.today)
        problem = within_year(school_class, day)
        if problem:
            errors.flag(row, "enrolled_on", problem)
            return None
        return school_class, day

    def _plan_row(self, row: ParsedRow, school, target, lookup: _Lookup, plan: Plan, state: _State,
                  errors: RowErrors) -> None:
        data = row.data
        student_key = (school.id, data["student_number"])
        actions = [self._plan_student(row, school, student_key, lookup, plan, state, errors)]
        if not row.ok:
            return
        actions.append(self._plan_enrolment(row, student_key, target, lookup, plan, state, errors))
        if data["guardian"] is not None and row.ok:
            actions.append(self._plan_guardian(row, lookup, plan, state, errors))
            if row.ok:
                actions.append(self._plan_link(row, student_key, lookup, plan, state))
        if row.ok:
            plan.unit_ids.add(school.id)
            action = next((a for a in ("create", "update") if a in actions), "unchanged")
            student = data["student"]
            label = f"{data['student_number']} {display_name(student['family_name'], student['given_name'])}"
            guardian = f" · {data['guardian']['full_name']} ({data['relationship']})" if data["guardian"] else ""
            plan.show(row.number, action, label + guardian, f"{target[0].academic_year} {target[0].name}")

    @staticmethod
    def _plan_student(row, school, key, lookup, plan, state, errors) -> str:
        if key in state.students:
            return "unchanged"  # counted on the student's first row
        values = row.data["student"]
        existing = lookup.students.get(key)
        entry = {"row": row.number, "values": {**values, "school_id": school.id, "is_active": True}, "id": None}
        if existing is None:
            action = "create"
        else:
            if not existing.is_active:
                name = display_name(existing.family_name, existing.given_name)
                errors.flag(row, "student_number",
                            _("%(name)s has left the school: reactivate the student first.", name=name))
                return "unchanged"
            entry["id"] = existing.id
            changed = any(values[f] != getattr(existing, f) for f in STUDENT_FIELDS)
            action = "update" if changed else "unchanged"
        entry["action"] = action
        state.students[key] = entry
        plan.count("students", action)
        return action

    @staticmethod
    def _plan_enrolment(row, student_key, target, lookup, plan, state, errors) -> str:
        school_class, day = target
        if state.students[student_key].get("enrolment_planned"):
            return "unchanged"
        state.students[student_key]["enrolment_planned"] = True
        student_id = state.students[student_key]["id"]
        for other in lookup.enrolments.get(student_id, ()) if student_id else ():
            if other.academic_year != school_class.academic_year or (other.ends_on and other.ends_on < day):
                continue
            if other.class_id == school_class.id:
                plan.count("enrolments", "unchanged")
                return "unchanged"
            student = row.data["student"]
            errors.flag(row, "class_name", _(
                "%(name)s is already in %(class)s from %(day)s: a student is in one class per year at a time. End "
                "that enrolment first, or move the student from their page.",
                name=display_name(student["family_name"], student["given_name"]), **{"class": other.class_name},
                day=other.starts_on.isoformat()))
            return "unchanged"
        state.enrolments.append({"student": student_key, "class_id": school_class.id, "starts_on": day})
        state.touched_classes.add(school_class.id)
        plan.count("enrolments", "create")
        return "create"

    @staticmethod
    def _plan_guardian(row, lookup, plan, state, errors) -> str:
        key = row.data["guardian_key"]
        if key in state.guardians:
            return "unchanged"
        values = row.data["guardian"]
        matches = lookup.guardian_matches(values)
        if len(matches) > 1:
            errors.flag(row, "guardian_phone", _("Several guardians have this mobile number: add the guardian's "
                                                 "e-mail address to tell them apart."))
            return "unchanged"
        existing = matches[0] if matches else None
        if existing is not None and state.guardian_rows.setdefault(existing.id, row.number) != row.number:
            errors.flag(row, "guardian_email", _("This is the same guardian as row %(row)d, with other details.",
                                                 row=state.guardian_rows[existing.id]))
            return "unchanged"
        entry = {"values": values, "id": existing.id if existing else None}
        if existing is None:
            action = "create"
        else:
            action = "update" if any(values[f] != getattr(existing, f) for f in GUARDIAN_FIELDS) else "unchanged"
        entry["action"] = action
        state.guardians[key] = entry
        plan.count("guardians", action)
        return action

    @staticmethod
    def _plan_link(row, student_key, lookup, plan, state) -> str:
        guardian_key = row.data["guardian_key"]
        student_id, guardian_id = state.students[student_key]["id"], state.guardians[guardian_key]["id"]
        existing = lookup.links.get((student_id, guardian_id)) if student_id and guardian_id else None
        relationship = row.data["relationship"]
        if existing is None:
            action = "create"
        else:
            action = "unchanged" if existing.relationship == relationship else "update"
        state.links[(student_key, guardian_key)] = {"action": action, "relationship": relationship,
                                                   "id": existing.id if existing else None}
        plan.count("links", action)
        return action

    # --- writing ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, ctx: ImportContext, progress) -> None:
        state: _State = plan.work
        writes = (len(state.students) + len(state.guardians) + len(state.links) + len(state.enrolments))
        steps = Steps(plan.rows, writes, progress)
        student_ids = _write(Student.__table__, state.students, STUDENT_FIELDS, steps)
        guardian_ids = _write(Guardian.__table__, state.guardians, GUARDIAN_FIELDS, steps)
        links = [{"student_id": student_ids[s], "guardian_id": guardian_ids[g], "relationship": e["relationship"]}
                 for (s, g), e in state.links.items() if e["action"] == "create"]
        insert_many(StudentGuardian.__table__, links, steps)
        update_many(StudentGuardian.__table__, [{"b_id": e["id"], "b_relationship": e["relationship"]}
                                                for e in state.links.values() if e["action"] == "update"],
                    ["relationship"], steps)
        insert_many(Enrollment.__table__, [{"student_id": student_ids[e["student"]], "class_id": e["class_id"],
                                            "starts_on": e["starts_on"]} for e in state.enrolments], steps)
        bump_versions(SchoolClass.__table__, state.touched_classes)


def _write(table: sa.Table, entries: dict, fields: tuple[str, ...], steps: Steps) -> dict:
    """Insert the new entries and update the changed ones; returns key -> id for all of them."""
    ids = {key: entry["id"] for key, entry in entries.items() if entry["id"] is not None}
    new = [(key, entry) for key, entry in entries.items() if entry["action"] == "create"]
    created = insert_returning_ids(table, [entry["values"] for _key, entry in new], steps)
    ids.update({key: new_id for (key, _entry), new_id in zip(new, created, strict=True)})
    update_many(table, [{"b_id": e["id"], **{f"b_{f}": e["values"][f] for f in fields}}
                        for e in entries.values() if e["action"] == "update"], fields, steps)
    return ids


@dataclass
class _Lookup:
    """The database's students, guardians, links and enrolments for the keys of a file (a few bulk queries)."""

    students: dict[tuple, Any]
    by_email: dict[str, Any]
    by_phone: dict[str, list]
    links: dict[tuple, Any]
    enrolments: dict[int, list]

    @classmethod
    def load(cls, rows: list[ParsedRow], schools: dict, *, lock: bool = False) -> _Lookup:
        numbers = {r.data["student_number"] for r in rows}
        school_ids = sorted({schools[r.number].id for r in rows})
        students = {(s.school_id, s.student_number): s for s in in_chunks(
            Student.student_number, numbers,
            lambda cond: sa.select(Student.id, Student.school_id, Student.student_number, Student.is_active,
                                   *(getattr(Student, f) for f in STUDENT_FIELDS))
            .where(cond, Student.school_id.in_(school_ids or [0])))}
        guardians = [r.data["guardian"] for r in rows if r.data.get("guardian")]
        columns = (Guardian.id, *(getattr(Guardian, f) for f in GUARDIAN_FIELDS))
        by_email = {g.email.lower(): g for g in in_chunks(
            sa.func.lower(Guardian.email), {g["email"] for g in guardians if g["email"]},
            lambda cond: sa.select(*columns).where(cond))}
        by_phone: dict[str, list] = {}
        for g in in_chunks(Guardian.phone, {g["phone"] for g in guardians if g["phone"]},
                           lambda cond: sa.select(*columns).where(cond)):
            by_phone.setdefault(g.phone, []).append(g)
        student_ids = [s.id for s in students.values()]
        if lock:
            lock_rows(Student.__table__, student_ids)  # before their enrolments and guardians are read
        links = {(link.student_id, link.guardian_id): link for link in in_chunks(
            StudentGuardian.student_id, student_ids,
            lambda cond: sa.select(StudentGuardian.id, StudentGuardian.student_id, StudentGuardian.guardian_id,
                                   StudentGuardian.relationship_kind.label("relationship")).where(cond))}
        enrolments: dict[int, list] = {}
        for e in in_chunks(Enrollment.student_id, student_ids, lambda cond: sa.select(
                Enrollment.student_id, Enrollment.class_id, Enrollment.starts_on, Enrollment.ends_on,
                SchoolClass.academic_year, SchoolClass.name.label("class_name"))
                .join(SchoolClass, SchoolClass.id == Enrollment.class_id).where(cond)):
            enrolments.setdefault(e.student_id, []).append(e)
        return cls(students, by_email, by_phone, links, enrolments)

    def guardian_matches(self, values: dict) -> list:
        """The existing guardian this row means: by e-mail; else by mobile among those without another e-mail."""
        if values["email"] and values["email"] in self.by_email:
            return [self.by_email[values["email"]]]
        candidates = self.by_phone.get(values["phone"] or "", [])
        if values["email"]:
            candidates = [g for g in candidates if not g.email]
        return candidates
