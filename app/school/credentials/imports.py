"""The credentials import: credentials staff already hold, one row per certification period.

A row names the person (school code + employee number), the type (its code), and the period. A blank expiry
is computed from the type's validity (`clean_credential`, the services' own rule). A period already recorded
(same person, type and date of issue) with the same details is left as it is, so re-importing a file creates
nothing twice; with different details the row is refused (a correction is made on the credential's page).
People, types and stored periods are looked up in one query each; the rows are written with bulk inserts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.core.imports import Column, ImportContext, ImportSpec, ParsedRow, Plan, RowErrors, RowReader
from app.core.imports.bulk import Steps, among, insert_many, lock_rows
from app.core.models import utcnow
from app.extensions import db
from app.school.credentials.models import Credential, CredentialType
from app.school.credentials.services.records import clean_credential
from app.school.imports_kinds import by_code, resolve_school, staff_by_number, units_by_code
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.services import normalise_employee_number

DETAILS = ("number", "issuer", "expires_on", "note")

COLUMNS = (
    Column("school_code", _l("School code"), required=True, aliases=("school", "学校代码", "学校编码", "学校"),
           note=_l("Required. The school's code, as on the Organisation page."), example="RS1"),
    Column("employee_number", _l("Employee number"), required=True, aliases=("工号", "员工编号", "职工号", "教工号"),
           note=_l("Required. The holder's employee number in that school."), example="RS1-T001"),
    Column("type_code", _l("Credential type code"), required=True,
           aliases=("type", "credential type", "证书类型代码", "证书类型", "资格类型"),
           note=_l("Required. The code of a credential type in use, as on the credential types page."),
           example="TEACH"),
    Column("number", _l("Certificate number"), aliases=("certificate number", "证书编号", "证书号码", "编号"),
           note=_l("Optional."), example="20264400112233"),
    Column("issuer", _l("Issued by"), aliases=("issuing authority", "发证机关", "发证单位", "颁发机构"),
           note=_l("Optional."), example="Riverside District Education Bureau"),
    Column("issued_on", _l("Issued on"), required=True, aliases=("issue date", "发证日期", "颁发日期"),
           note=_l("Required. A date as YYYY-MM-DD."), example="2023-09-01"),
    Column("expires_on", _l("Expires on"), aliases=("expiry date", "valid until", "有效期至", "到期日期", "截止日期"),
           note=_l("Optional: empty means computed from the type's validity (the day before the anniversary). "
                   "Leave it empty for a type that never expires."), example=""),
    Column("note", _l("Note"), aliases=("notes", "备注"), note=_l("Optional."), example=""),
)


@dataclass
class _Work:
    creates: list[dict] = field(default_factory=list)


class CredentialImport(ImportSpec):
    kind = "credentials"
    title = _l("Credentials")
    description = _l("Certificates and checks your staff already hold, one row per certification period. "
                     "Re-importing the same rows changes nothing.")
    columns = COLUMNS
    entities = {"credentials": _l("Credentials")}
    key_columns = ("school_code", "employee_number", "type_code", "issued_on")
    key_label = _l("person, credential type and date of issue")

    # --- rows ------------------------------------------------------------------------------------------------

    def parse_row(self, row: RowReader, ctx: ImportContext) -> dict[str, Any]:
        return {
            "school_code": (row.text("school_code", required=True) or "").upper() or None,
            "employee_number": normalise_employee_number(row.text("employee_number", required=True)) or None,
            "type_code": (row.text("type_code", required=True) or "").upper() or None,
            "number": row.text("number", max_length=60),
            "issuer": row.text("issuer", max_length=200),
            "issued_on": row.date("issued_on", required=True),
            "expires_on": row.date("expires_on"),
            "note": row.text("note", max_length=500),
        }

    # --- database checks -------------------------------------------------------------------------------------

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        units = units_by_code(r.data.get("school_code") for r in rows)
        schools = {r.number: resolve_school(r, units, ctx, errors) for r in rows}
        staff = staff_by_number({s.id for s in schools.values() if s}, {r.data.get("employee_number") for r in rows})
        types = by_code(CredentialType, {r.data.get("type_code") for r in rows})
        if ctx.lock:
            lock_rows(StaffMember.__table__, {s.id for s in staff.values()})
        stored = _stored({s.id for s in staff.values()})
        plan, work = Plan(), _Work()
        plan.work = work
        for row in rows:
            school = schools[row.number]
            if school is None:
                continue
            person = self._person(row, school, staff, errors)
            credential_type = self._type(row, types, errors)
            if not row.ok or person is None or credential_type is None:
                continue
            clean = self._clean(row, credential_type, errors)
            if clean is not None:
                self._plan_row(row, person, credential_type, clean, stored, plan, errors)
        return plan

    @staticmethod
    def _person(row: ParsedRow, school, staff: dict, errors: RowErrors):
        number = row.data.get("employee_number")
        person = staff.get((school.id, number)) if number else None
        if person is None:
            if number:
                errors.flag(row, "employee_number", _("Unknown employee number “%(number)s” at %(school)s.",
                                                      number=number, school=school.code))
            return None
        if person.status == StaffStatus.DEPARTED:
            errors.flag(row, "employee_number", _("%(name)s has left the school.", name=person.full_name))
            return None
        return person

    @staticmethod
    def _type(row: ParsedRow, types: dict, errors: RowErrors):
        code = row.data.get("type_code")
        credential_type = types.get(code) if code else None
        if code and (credential_type is None or not credential_type.is_active):
            errors.flag(row, "type_code", _("Unknown credential type “%(code)s”, or no longer in use.", code=code))
            return None
        return credential_type

    @staticmethod
    def _clean(row: ParsedRow, credential_type: CredentialType, errors: RowErrors) -> dict | None:
        """The services' own field rules (expiry computed from the type, expiry not before issue)."""
        try:
            return clean_credential(credential_type, row.data)
        except ValidationFailed as problem:
            for name, message in (getattr(problem, "errors", None) or {"issued_on": problem.message}).items():
                if message:
                    errors.add(row.number, name, message)
            row.ok = False
            return None

    @staticmethod
    def _plan_row(row: ParsedRow, person: StaffMember, credential_type: CredentialType, clean: dict,
                  stored: dict, plan: Plan, errors: RowErrors) -> None:
        label = f"{person.employee_number} {person.full_name} · {credential_type.name}"
        details = _("issued %(issued)s, expires %(expires)s", issued=clean["issued_on"].isoformat(),
                    expires=clean["expires_on"].isoformat() if clean["expires_on"] else _("never"))
        existing = stored.get((person.id, credential_type.id, clean["issued_on"]))
        plan.unit_ids.add(person.school_id)
        if existing is not None:
            if all(getattr(existing, name) == clean[name] for name in DETAILS):
                plan.count("credentials", "unchanged")
                plan.show(row.number, "unchanged", label, details)
                return
            errors.flag(row, "issued_on", _(
                "A %(type)s of %(name)s issued on %(day)s is already recorded with other details: correct it on "
                "the credential's page, or fix this row.", type=credential_type.name, name=person.full_name,
                day=clean["issued_on"].isoformat()))
            return
        plan.work.creates.append({"staff_id": person.id, "type_id": credential_type.id, **clean})
        plan.count("credentials", "create")
        plan.show(row.number, "create", label, details)

    # --- writing ---------------------------------------------------------------------------------------------

    def apply(self, plan: Plan, ctx: ImportContext, progress) -> None:
        work: _Work = plan.work
        steps = Steps(plan.rows, len(work.creates), progress)
        now = utcnow()
        insert_many(Credential.__table__, [{**values, "revoked_at": None, "revoked_reason": None,
                                            "superseded_by_id": None, "created_at": now, "version": 1}
                                           for values in work.creates], steps)


def _stored(staff_ids: set[int]) -> dict[tuple, Any]:
    """The recorded periods of these people by (staff, type, date of issue), revoked ones included."""
    columns = (Credential.id, Credential.staff_id, Credential.type_id, Credential.issued_on, Credential.number,
               Credential.issuer, Credential.expires_on, Credential.note)
    stored: dict[tuple, Any] = {}
    for condition in among(Credential.staff_id, staff_ids):
        for r in db.session.execute(sa.select(*columns).where(condition)):
            stored.setdefault((r.staff_id, r.type_id, r.issued_on), r)
    return stored
