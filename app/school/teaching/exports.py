"""The pay run's workbook for the payroll office: one row per teacher (periods by kind, each amount, the total) and a
summary sheet (the run, its totals by part, by department and by lesson kind). Every text cell is neutralised by the
writer; amounts are typed numbers, exact to the cent."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.core.spreadsheets import xlsx_bytes
from app.extensions import db
from app.school.staff.models import StaffMember
from app.school.teaching.models import PAID_KINDS, PayLine, PayRun
from app.school.teaching.services.ledger import kind_labels
from app.school.teaching.services.payruns import status_label

ZERO = Decimal("0")


def _lines(run: PayRun) -> list[PayLine]:
    """The run's lines with their teachers, by department then name (one query)."""
    return list(db.session.scalars(
        sa.select(PayLine).join(StaffMember, StaffMember.id == PayLine.staff_id).where(PayLine.run_id == run.id)
        .order_by(StaffMember.department_id.is_(None), StaffMember.department_id, StaffMember.family_name,
                  StaffMember.given_name, StaffMember.id)))


def _department(line: PayLine) -> str:
    return line.staff.department.name if line.staff.department else ""


def header(before: dict[int, Decimal] | None) -> list[str]:
    labels = kind_labels()
    columns = [_("Employee number"), _("Name"), _("Department")]
    columns += [_("Periods: %(kind)s", kind=labels[kind]) for kind in PAID_KINDS]
    columns += [_("Periods in all"), _("Lesson amount"), _("Overtime periods"), _("Overtime amount"),
                _("Homeroom allowance"), _("Bonuses"), _("Share of the month employed"), _("Total")]
    if before is not None:
        columns += [_("Total before"), _("Difference")]
    return columns


def _row(line: PayLine, before: dict[int, Decimal] | None) -> tuple:
    by_kind = line.detail.get("by_kind") or {}
    row = [line.staff.employee_number, line.staff.full_name, _department(line)]
    row += [Decimal(by_kind.get(kind.value, "0")) for kind in PAID_KINDS]
    row += [line.periods, line.lesson_amount, line.overtime_periods, line.overtime_amount, line.allowance_amount,
            line.bonus_amount, line.proration, line.total]
    if before is not None:
        previous = before.get(line.staff_id)
        row += [previous, line.total - (previous or ZERO)]
    return tuple(row)


def _summary(run: PayRun, lines: list[PayLine], base: PayRun | None) -> Iterator[tuple]:
    def total(attribute: str) -> Decimal:
        return sum((getattr(line, attribute) for line in lines), ZERO)

    yield _("School"), run.school.name, run.school.code
    yield _("Month"), run.month.strftime("%Y-%m"), ""
    yield _("Version"), run.number, _("corrects version %(n)s", n=run.corrects.number) if run.corrects else ""
    yield _("Status"), status_label(run.status), run.reason or ""
    for label, stamp in ((_("Calculated at"), run.calculated_at), (_("Approved at"), run.approved_at),
                         (_("Locked at"), run.locked_at)):
        yield label, stamp.replace(tzinfo=None) if stamp else "", ""
    yield _("Teachers"), len(lines), ""
    yield _("Lessons"), run.lesson_count, ""
    for label, attribute in ((_("Lesson amount"), "lesson_amount"), (_("Overtime amount"), "overtime_amount"),
                             (_("Homeroom allowance"), "allowance_amount"), (_("Bonuses"), "bonus_amount"),
                             (_("Total"), "total")):
        yield label, total(attribute), ""
    if base is not None:
        yield _("Total of the version compared with (%(month)s, version %(n)s)", month=base.month.strftime("%Y-%m"),
                n=base.number), base.total, ""
    yield "", "", ""
    yield _("Department"), _("Teachers"), _("Total")
    departments: dict[str, list[PayLine]] = {}
    for line in lines:
        departments.setdefault(_department(line) or _("(no department)"), []).append(line)
    for name, items in departments.items():
        yield name, len(items), sum((line.total for line in items), ZERO)
    yield "", "", ""
    yield _("Lesson kind"), _("Periods"), ""
    labels = kind_labels()
    for kind in PAID_KINDS:
        periods = sum((Decimal((line.detail.get("by_kind") or {}).get(kind.value, "0")) for line in lines), ZERO)
        yield labels[kind], periods, ""


def pay_run_workbook(run: PayRun, base: PayRun | None) -> tuple[bytes, str, int]:
    """The run's .xlsx (lines and summary), its download name and its number of lines. With a `base` (the run
    a correction replaces, or last month's) each row also shows the total before and the difference."""
    lines = _lines(run)
    before = dict(db.session.execute(sa.select(PayLine.staff_id, PayLine.total)
                                     .where(PayLine.run_id == base.id)).all()) if base is not None else None
    content = xlsx_bytes(header(before), (_row(line, before) for line in lines), title=_("Pay lines"),
                         extra_sheets=[(_("Summary"), [_("Item"), _("Value"), _("Note")],
                                        list(_summary(run, lines, base)))])
    filename = f"pay-{run.school.code}-{run.month:%Y-%m}-v{run.number}-{run.status}.xlsx"
    return content, filename, len(lines)
