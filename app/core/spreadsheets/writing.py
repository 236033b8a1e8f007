"""Writing spreadsheets for download: CSV and .xlsx with every cell neutralised against formula injection."""
from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
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


_DANGEROUS_FIRST = frozenset(_FORMULA_START)


def _text(cell: object) -> object:
    """One cell for the CSV writer: neutralised text, ISO dates, numbers as they are, None as empty."""
    if cell is None:
        return ""
    if type(cell) is str:
        return "'" + cell if cell[:1] in _DANGEROUS_FIRST else cell
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return neutralise(cell)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A UTF-8 CSV (with BOM, so Excel reads Chinese correctly) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(h) for h in header])
    writer.writerows([_text(cell) for cell in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- .xlsx --------------------------------------------------------------------------------------------------
# A small streaming writer: openpyxl takes about 25 µs a cell (a district's student list, 4 million cells,
# would take two minutes); this writes the same workbook (inline strings, typed numbers and dates, a bold
# frozen header, a notes sheet) in a few seconds. Tests open its files with openpyxl.

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XLSX_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/>'
    '</font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill '
    'patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/>'
    '</border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_HEADER_STYLE, _DATE_STYLE, _DATETIME_STYLE = 1, 2, 3
_EPOCH = datetime(1899, 12, 30)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SHEET_NAME_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def _column_letters(count: int) -> list[str]:
    letters = []
    for index in range(1, count + 1):
        name = ""
        while index:
            index, remainder = divmod(index - 1, 26)
            name = chr(65 + remainder) + name
        letters.append(name)
    return letters


def _xml_text(value: str) -> str:
    return _ILLEGAL_XML.sub("", value).translate(_ESCAPES)


def _xlsx_cell(ref: str, value: object, style: int = 0) -> str:
    """One <c> element: text neutralised and stored inline (never a formula), numbers and dates typed."""
    styled = f' s="{style}"' if style else ""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = _xml_text(neutralise(value))
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        return f'<c r="{ref}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{styled} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="{_DATETIME_STYLE}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{_DATE_STYLE}"><v>{(value - _EPOCH.date()).days}</v></c>'
    if isinstance(value, int | float | Decimal) and math.isfinite(value):
        return f'<c r="{ref}"{styled}><v>{value}</v></c>'
    return _xlsx_cell(ref, str(value), style)


def _sheet_xml(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    width = len(header)
    yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_MAIN}">'
           '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
           f'state="frozen"/></sheetView></sheetViews><cols><col min="1" max="{max(width, 1)}" width="18" '
           'customWidth="1"/></cols><sheetData>')
    letters = _column_letters(width)
    yield '<row r="1">' + "".join(_xlsx_cell(f"{letters[i]}1", h, _HEADER_STYLE) for i, h in enumerate(header))
    yield "</row>"
    for number, row in enumerate(rows, start=2):
        if len(row) > len(letters):
            letters = _column_letters(len(row))
        yield (f'<row r="{number}">' + "".join(_xlsx_cell(f"{letters[i]}{number}", v) for i, v in enumerate(row))
               + "</row>")
    yield "</sheetData></worksheet>"


def _sheet_title(title: str, taken: set[str]) -> str:
    name = _SHEET_NAME_UNSAFE.sub("_", title).strip("'")[:31] or "Sheet"
    while name in taken:
        name = name[:28] + f"_{len(taken)}"
    taken.add(name)
    return name


def xlsx_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str = "Sheet1",
    extra_sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]] = (),
) -> bytes:
    """An .xlsx workbook, written as it streams: every text cell neutralised and stored as text."""
    sheets = [(title, header, rows), *extra_sheets]
    taken: set[str] = set()
    titles = [_sheet_title(str(sheet[0]), taken) for sheet in sheets]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", _content_types(len(sheets)))
        archive.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                         f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
                         f'Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", _workbook(titles))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("xl/styles.xml", _STYLES)
        for index, (_title, sheet_header, sheet_rows) in enumerate(sheets, start=1):
            with archive.open(f"xl/worksheets/sheet{index}.xml", "w") as stream:
                chunk: list[str] = []
                for part in _sheet_xml(sheet_header, sheet_rows):
                    chunk.append(part)
                    if len(chunk) >= 500:
                        stream.write("".join(chunk).encode())
                        chunk = []
                stream.write("".join(chunk).encode())
    return buffer.getvalue()


def _content_types(sheets: int) -> str:
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_XLSX_TYPES}.worksheet+xml"/>'
                        for n in range(1, sheets + 1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_XLSX_TYPES}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_XLSX_TYPES}.styles+xml"/>{overrides}</Types>')


def _workbook(titles: list[str]) -> str:
    sheets = "".join(f'<sheet name="{_xml_text(t).replace(chr(34), "&quot;")}" sheetId="{n}" r:id="rId{n}"/>'
                     for n, t in enumerate(titles, start=1))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{_MAIN}" '
            f'xmlns:r="{_DOC_RELS}"><sheets>{sheets}</sheets></workbook>')


def _workbook_rels(sheets: int) -> str:
    relations = "".join(f'<Relationship Id="rId{n}" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                        for n in range(1, sheets + 1))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_PKG_RELS}">'
            f'{relations}<Relationship Id="rId{sheets + 1}" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
            '</Relationships>')
