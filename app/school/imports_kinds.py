"""The spreadsheet import and export kinds of the school modules, and the context an import runs in."""
from __future__ import annotations

from typing import Any

from app.core.imports import ImportContext, ImportSpec


def import_specs() -> dict[str, ImportSpec]:
    """Every import kind by name, in the order the pages list them."""
    from app.school.classes.imports import AssignmentImport, StudentImport
    from app.school.credentials.imports import CredentialImport
    from app.school.staff.imports import StaffImport
    from app.school.teaching.imports import TimetableImport

    return {spec.kind: spec for spec in (StaffImport(), StudentImport(), AssignmentImport(), CredentialImport(),
                                         TimetableImport())}


def spec_for(kind: str) -> ImportSpec | None:
    return import_specs().get(kind)


def context_for(actor: Any) -> ImportContext:
    """An import by `actor` today (the schools' date), writing only to units the policy lets them import into."""
    from app.general.auth.policy import can
    from app.school.staff.queries import local_today

    decided: dict[int, bool] = {}

    def allowed(unit) -> bool:
        if unit.id not in decided:  # one policy decision per unit, not per row
            decided[unit.id] = can(actor, "imports.run", unit)
        return decided[unit.id]

    return ImportContext(actor=actor, today=local_today(), allowed=allowed)


def export_kinds() -> dict[str, Any]:
    """Every export by name: an object with `title`, `header` and `rows(user)`."""
    from app.school.classes.exports import AssignmentExport, StudentExport
    from app.school.credentials.exports import ComplianceExport, CredentialExport
    from app.school.staff.exports import StaffExport

    return {export.kind: export for export in (StaffExport(), StudentExport(), AssignmentExport(), CredentialExport(),
                                               ComplianceExport())}


# --- lookups shared by the school import kinds ---------------------------------------------------------------


def by_code(model: Any, codes) -> dict[str, Any]:
    """Rows of a catalogue with a `code` column (org units, subjects, credential types) by upper-case code:
    one query for every code of a file."""
    import sqlalchemy as sa

    from app.extensions import db

    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    return {row.code.upper(): row for row in db.session.scalars(
        sa.select(model).where(sa.func.upper(model.code).in_(wanted)))}


def units_by_code(codes) -> dict[str, Any]:
    """Org units by upper-case code."""
    from app.general.org.models import OrgUnit

    return by_code(OrgUnit, codes)


def staff_by_number(school_ids: set[int], numbers) -> dict[tuple, Any]:
    """Staff members by (school id, employee number) among those of a file: one query per chunk of numbers."""
    import sqlalchemy as sa

    from app.core.imports.bulk import among
    from app.extensions import db
    from app.school.staff.models import StaffMember

    numbers = {n for n in numbers if n}
    if not school_ids or not numbers:
        return {}
    found: dict[tuple, Any] = {}
    for condition in among(StaffMember.employee_number, numbers):
        stmt = sa.select(StaffMember).where(StaffMember.school_id.in_(sorted(school_ids)), condition)
        found.update({(s.school_id, s.employee_number): s for s in db.session.scalars(stmt).unique()})
    return found


def resolve_school(row, units: dict[str, Any], ctx: ImportContext, errors) -> Any:
    """The active school named in the row's school_code, if the importer may write to it (else a row error)."""
    from flask_babel import gettext as _

    from app.general.org.models import OrgUnitKind

    code = row.data.get("school_code")
    if not code:
        return None
    school = units.get(code)
    if school is None or school.kind != OrgUnitKind.SCHOOL or not school.is_active or not ctx.allowed(school):
        errors.flag(row, "school_code", _("Unknown school code “%(code)s”, or not one of your schools.", code=code))
        return None
    return school


def chunked(values, size: int = 1000):
    """Slices of a list, to keep IN lists and executemany batches at a sane size."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- exports -------------------------------------------------------------------------------------------------


FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def build_export(kind: str, fmt: str, user: Any, school: Any = None, filters: dict | None = None) -> tuple[bytes, str]:
    """The export's file in `fmt` (every cell neutralised), for the user's schools or one `school` among them
    (narrowed further by `filters`, keyword arguments of the export's `rows`, e.g. the compliance page's), and its
    download name; audited as exports.downloaded with the kind, format, school, filters and row count.

    :raises KeyError: unknown kind or format.
    """
    from app.core.spreadsheets import csv_bytes, xlsx_bytes
    from app.general.audit.services import record
    from app.school.staff.queries import local_today

    export = export_kinds()[kind]
    if fmt not in FORMATS:
        raise KeyError(fmt)
    today = local_today()
    rows = list(export.rows(user, today, school.id if school is not None else None, **(filters or {})))
    header = export.header()
    content = csv_bytes(header, rows) if fmt == "csv" else xlsx_bytes(header, rows, title=kind)
    scopes = getattr(user, "scopes", None) or []
    record("exports.downloaded", subject_type="Export", subject_id=kind, actor=user,
           unit=school if school is not None else (scopes[0].org_unit if scopes else None),
           changes={"kind": kind, "format": fmt, "rows": len(rows), "school": school.code if school else None,
                    **({"filters": filters} if filters else {})})
    suffix = f"-{school.code}" if school is not None else ""
    return content, f"{kind}{suffix}-{today.isoformat()}.{fmt}"
