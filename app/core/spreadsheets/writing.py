"""Writing spreadsheets for download: CSV and .xlsx with every cell neutralised against formula injection."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

# A cell starting with one of these is read as a formula (or hides one) by Excel and LibreOffice.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")
# Characters an XML worksheet cannot hold (openpyxl refuses them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: object) -> object:
    """Make a cell inert: text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """Undo `neutralise` on a cell read back from one of our exports ("'+86 138…" → "+86 138…")."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


def _csv_text(cell: object) -> object:
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return cell


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A UTF-8 CSV (with BOM, so Excel reads Chinese correctly) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(_csv_text(cell)) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_cell(sheet, value: object, *, bold: bool = False):
    """A plain value where it cannot be read as a formula (neutralised text, numbers), a styled cell otherwise."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, str):
        value = _ILLEGAL_XML.sub("", neutralise(value))  # now never starts with "=": openpyxl keeps it as text
    elif isinstance(value, Decimal):
        value = float(value)
    if not bold and not isinstance(value, date | datetime):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    elif isinstance(value, datetime | date):
        cell.number_format = "yyyy-mm-dd"
    if bold:
        cell.font = Font(bold=True)
    return cell


def xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str = "Sheet1",
    extra_sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]] = (),
) -> bytes:
    """An .xlsx workbook (write-only, so memory stays flat) with every text cell neutralised and typed as text."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for sheet_title, sheet_header, sheet_rows in ((title, header, rows), *extra_sheets):
        sheet = workbook.create_sheet(title=sheet_title[:31])
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, h, bold=True) for h in sheet_header])
        for row in sheet_rows:
            sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
