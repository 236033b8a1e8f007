"""Exports of the credentials module: the compliance problem list, and credentials in the import's columns."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app.core.names import full_name
from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.credentials.imports import COLUMNS
from app.school.credentials.models import Credential, CredentialType
from app.school.credentials.queries import staff_in_scope
from app.school.credentials.reports import FILTERS, PROBLEM_LABELS, Filters, compliance_for
from app.school.staff.models import StaffMember


class ComplianceExport:
    kind = "credential_compliance"
    title = _l("Credential compliance")
    description = _l("Required credentials that are missing, expired or expiring within 90 days, one row per "
                     "person and credential type.")

    def header(self) -> list[str]:
        return ["school_code", "employee_number", "name", "type_code", "type_name", "problem", "expires_on",
                "days_left"]

    def rows(self, user, today: date, school_id: int | None = None, *, type_id: int | None = None,
             problem: str = "") -> Iterator[tuple]:
        """The problem rows of the compliance page, narrowed as the page was (the user's scopes only)."""
        filters = Filters(school_id=school_id, type_id=type_id, problem=problem if problem in FILTERS else "")
        for row in compliance_for(user, today, filters).export_rows():
            yield (row.school_code, row.employee_number, row.name, row.type_code, row.type_name,
                   str(PROBLEM_LABELS[row.problem]), row.expires_on, row.days_left)


class CredentialExport:
    kind = "credentials"
    title = _l("Credentials")
    description = _l("Every credential recorded for the staff you may see, in the import's columns "
                     "(revoked and renewed ones marked).")

    def header(self) -> list[str]:
        return [c.name for c in COLUMNS] + ["name", "status"]

    def rows(self, user, today: date, school_id: int | None = None) -> Iterator[tuple]:
        """One query: credentials of staff whose department (else school) lies in the user's scopes."""
        school = aliased(OrgUnit)
        stmt = (sa.select(school.code, StaffMember.employee_number, CredentialType.code, Credential.number,
                          Credential.issuer, Credential.issued_on, Credential.expires_on, StaffMember.family_name,
                          StaffMember.given_name, Credential.revoked_at, Credential.superseded_by_id)
                .join(StaffMember, StaffMember.id == Credential.staff_id)
                .join(CredentialType, CredentialType.id == Credential.type_id)
                .join(school, school.id == StaffMember.school_id))
        stmt = staff_in_scope(user, stmt).order_by(school.code, StaffMember.employee_number, CredentialType.code,
                                                   Credential.issued_on)
        if school_id:
            stmt = stmt.where(StaffMember.school_id == school_id)
        for r in db.session.execute(stmt):
            status = "revoked" if r.revoked_at else "renewed" if r.superseded_by_id else ""
            yield (r[0], r[1], r[2], r.number or "", r.issuer or "", r.issued_on, r.expires_on,
                   full_name(r.family_name, r.given_name), status)
