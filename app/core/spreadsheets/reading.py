"""Spreadsheet helpers shared by exports and imports: safe reading of uploads, neutralised writing.

Reading checks an upload before any parser sees it: the name must be .csv or .xlsx and the content
must be what the name says (an .html renamed .xlsx is refused), a workbook must be a real Office
Open XML zip without macros, within entry-count and uncompressed-size limits (zip bombs), and its
XML is parsed with defusedxml. Every cell is read as text, so `007` and `NA` survive unchanged.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import pandas as pd
from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed

# A cell starting with one of these is read as a formula (or hides one) by Excel and LibreOffice.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")
# Characters an XML worksheet cannot hold (openpyxl refuses them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What Excel writes into a cell whose formula failed; such a first cell is data, not a comment.
EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!"})

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted (password-protected) workbook
# Parts that carry executable content: VBA projects, Excel 4.0 macro sheets, ActiveX controls.
_DEFUSED = False
_MACRO_PARTS = re.compile(r"(^|/)vbaproject\.bin$|^xl/macrosheets/|^xl/activex/|vbadata\.xml$", re.IGNORECASE)


class SpreadsheetRejected(ValidationFailed):
    """The upload is not a spreadsheet we can read safely; the message says why and what to do."""

    def __init__(self, message, *, field: str | None = "file"):
        super().__init__(str(message), field=field)


@dataclass(frozen=True)
class ReadLimits:
    """What an upload may contain. MAX_CONTENT_LENGTH bounds the bytes already (413 before we see it)."""

    max_rows: int = 20_000
    max_columns: int = 60
    max_zip_entries: int = 300
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_compression_ratio: int = 200  # per entry above 1 MiB; ordinary worksheets compress 5-30x

    @classmethod
    def from_config(cls, config) -> ReadLimits:
        return cls(
            max_rows=int(config.get("IMPORT_MAX_ROWS", cls.max_rows)),
            max_uncompressed_bytes=int(config.get("IMPORT_MAX_UNCOMPRESSED_BYTES", cls.max_uncompressed_bytes)),
        )


@dataclass
class Sheet:
    """The cells of an upload as text: `header` as written, `frame` indexed by the row number the user sees."""

    header: list[str]
    frame: pd.DataFrame
    format: str  # "csv" or "xlsx"
    header_row: int = 1
    overflow_rows: list[int] = field(default_factory=list)  # rows with cells to the right of the last header

    def __len__(self) -> int:
        return len(self.frame)


# --- writing -------------------------------------------------------------------------------------


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


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A UTF-8 CSV (with BOM, so Excel reads Chinese correctly) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(_csv_text(cell)) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_text(cell: object) -> object:
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return cell


def _xlsx_cell(sheet, value: object, *, bold: bool = False):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, str):
        value = _ILLEGAL_XML.sub("", neutralise(value))
    elif isinstance(value, Decimal):
        value = float(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text
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


# --- sniffing ------------------------------------------------------------------------------------


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def sniff(data: bytes, filename: str, limits: ReadLimits | None = None) -> str:
    """The format of an upload ("csv" or "xlsx"), judged from its content and checked against its name.

    :raises SpreadsheetRejected: wrong or unsupported type, macros, a zip bomb, an encrypted workbook.
    """
    limits = limits or ReadLimits()
    extension = _extension(filename)
    if extension in {"xlsm", "xltm", "xlam", "xlsb"}:
        raise SpreadsheetRejected(_l("Macro-enabled workbooks are not accepted. Save the file as .xlsx or .csv."))
    if extension == "xls":
        raise SpreadsheetRejected(_l("Old Excel files (.xls) are not accepted. Save the file as .xlsx or .csv."))
    if extension not in {"csv", "xlsx"}:
        raise SpreadsheetRejected(_l("Only .csv and .xlsx files can be imported."))
    if not data:
        raise SpreadsheetRejected(_l("The file is empty."))
    if data.startswith(_OLE_MAGIC):
        raise SpreadsheetRejected(
            _l("This is an old-format or password-protected workbook. Save it as .xlsx without a password.")
        )
    if data.startswith(_ZIP_MAGIC):
        if extension != "xlsx":
            raise SpreadsheetRejected(_l("The file's content is a workbook, not CSV: name it .xlsx."))
        check_workbook_archive(data, limits)
        return "xlsx"
    if extension == "xlsx":
        raise SpreadsheetRejected(_l("The file is named .xlsx but is not an Excel workbook."))
    return "csv"


def check_workbook_archive(data: bytes, limits: ReadLimits) -> None:
    """Refuse a zip that is not an .xlsx, holds macros, or would expand beyond the limits.

    Python's zipfile never returns more than an entry's declared size (and then fails its CRC), so
    checking the declared sizes bounds what openpyxl can be made to inflate.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            content_types = archive.read("[Content_Types].xml") if _has(entries, "[Content_Types].xml") else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError):
        raise SpreadsheetRejected(_l("The workbook is damaged and cannot be read.")) from None
    names = {entry.filename for entry in entries}
    if len(entries) > limits.max_zip_entries:
        raise SpreadsheetRejected(_l("The workbook has too many parts to be a plain spreadsheet."))
    if sum(entry.file_size for entry in entries) > limits.max_uncompressed_bytes or any(
        _ratio_too_high(entry, limits) for entry in entries
    ):
        raise SpreadsheetRejected(_l("The workbook expands to more data than an import may hold."))
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise SpreadsheetRejected(_l("The file is named .xlsx but is not an Excel workbook."))
    if any(_MACRO_PARTS.search(name) for name in names) or b"macroEnabled" in content_types:
        raise SpreadsheetRejected(_l("Macro-enabled workbooks are not accepted. Save the file as .xlsx or .csv."))
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise SpreadsheetRejected(_l("Password-protected workbooks cannot be imported."))


def _has(entries: list[zipfile.ZipInfo], name: str) -> bool:
    return any(entry.filename == name and entry.file_size <= 1024 * 1024 for entry in entries)


def _ratio_too_high(entry: zipfile.ZipInfo, limits: ReadLimits) -> bool:
    if entry.file_size <= 1024 * 1024:
        return False
    return entry.file_size > limits.max_compression_ratio * max(entry.compress_size, 1)


# --- reading -------------------------------------------------------------------------------------


def read_upload(data: bytes, filename: str, limits: ReadLimits | None = None) -> Sheet:
    """Check and read an uploaded .csv or .xlsx into text cells.

    Blank rows and comment rows (first cell starting with "#") are dropped but keep their numbers,
    cells are stripped, and the first remaining row is the header.

    :raises SpreadsheetRejected: see `sniff`, plus undecodable text, too many rows or columns, no header.
    """
    limits = limits or ReadLimits()
    kind = sniff(data, filename, limits)
    raw = _read_xlsx(data, limits) if kind == "xlsx" else _read_csv(data, limits)
    return _to_sheet(raw, kind, limits)


def decode_text(data: bytes) -> str:
    """Text of a CSV: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (Chinese Excel's "CSV")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise SpreadsheetRejected(_l("The file's text encoding is not recognised. Save it as \"CSV UTF-8\"."))


def _delimiter(text: str) -> str:
    """Comma, unless the first meaningful line plainly uses tabs or semicolons instead."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            counts = {sep: line.count(sep) for sep in (",", "\t", ";")}
            best = max(counts, key=lambda sep: counts[sep])
            return best if counts[best] > counts[","] else ","
    return ","


def _read_csv(data: bytes, limits: ReadLimits) -> pd.DataFrame:
    text = decode_text(data).lstrip("\ufeff")
    if "\x00" in text:
        raise SpreadsheetRejected(_l("The file is not a text (CSV) file."))
    if text.lstrip()[:1] == "<":
        raise SpreadsheetRejected(_l("The file looks like a web page or XML, not a CSV file."))
    try:
        return pd.read_csv(
            io.StringIO(text), sep=_delimiter(text), header=None, names=range(limits.max_columns), dtype=str,
            keep_default_na=False, na_filter=False, skip_blank_lines=False,
            engine="c", quoting=csv.QUOTE_MINIMAL, nrows=limits.max_rows + 3,
        )
    except pd.errors.EmptyDataError:
        raise SpreadsheetRejected(_l("The file is empty.")) from None
    except (pd.errors.ParserError, ValueError):
        raise SpreadsheetRejected(
            _l("The CSV file cannot be read: a row has more than %(n)d cells or a quote is not closed.",
               n=limits.max_columns)
        ) from None


def cell_text(value: object) -> str:
    """One workbook cell as the text the user sees: dates as YYYY-MM-DD, 16.0 as 16, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _defuse() -> None:
    """defusedxml's patches of the standard library's XML parsers (openpyxl uses defusedxml's own as well)."""
    global _DEFUSED
    if not _DEFUSED:
        import defusedxml

        with warnings.catch_warnings():  # it imports its deprecated cElementTree shim while patching
            warnings.simplefilter("ignore", DeprecationWarning)
            defusedxml.defuse_stdlib()
        _DEFUSED = True


def _read_xlsx(data: bytes, limits: ReadLimits) -> pd.DataFrame:
    _defuse()  # before openpyxl parses anything: no entity expansion, no external DTDs
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as error:  # openpyxl raises many kinds (KeyError, ValueError, defusedxml's) for broken files
        raise _unreadable(error) from None
    try:
        rows = _worksheet_rows(workbook.worksheets[0], limits) if workbook.worksheets else []
    except SpreadsheetRejected:
        raise
    except Exception as error:
        raise _unreadable(error) from None
    finally:
        workbook.close()
    return pd.DataFrame(rows, columns=range(limits.max_columns), dtype=str)


def _unreadable(error: BaseException) -> SpreadsheetRejected:
    from defusedxml import DefusedXmlException

    while error is not None:
        if isinstance(error, DefusedXmlException):
            return SpreadsheetRejected(_l("The workbook contains XML constructs that are not allowed (entities "
                                          "or external references). Save it again from Excel as .xlsx."))
        error = error.__cause__ or error.__context__
    return SpreadsheetRejected(_l("The workbook is damaged and cannot be read."))


def _worksheet_rows(sheet, limits: ReadLimits) -> list[list[str]]:
    rows: list[list[str]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > limits.max_rows + 3:
            break  # enough to know the file is too long
        texts = [cell_text(v) for v in values]
        while texts and texts[-1] == "":
            texts.pop()
        if len(texts) > limits.max_columns:
            raise SpreadsheetRejected(_l("Row %(row)d has more than %(n)d cells.", row=number, n=limits.max_columns))
        rows.append(texts + [""] * (limits.max_columns - len(texts)))
    return rows


def _clean(series: pd.Series) -> pd.Series:
    stripped = series.str.strip()
    return stripped.where(~stripped.str.match(r"'[=+\-@]"), stripped.str.slice(1))


def _is_comment(first_cell: str) -> bool:
    return first_cell.startswith("#") and first_cell not in EXCEL_ERRORS


def _to_sheet(raw: pd.DataFrame, kind: str, limits: ReadLimits) -> Sheet:
    if len(raw) > limits.max_rows + 2:  # the header, a notes row and max_rows rows; more is never cut silently
        raise SpreadsheetRejected(
            _l("The file has more than %(n)d rows. Split it into smaller files.", n=limits.max_rows)
        )
    used = (raw != "").any(axis=0)
    width = int(used[used].index.max()) + 1 if used.any() else 1
    frame = raw.iloc[:, :width].apply(_clean) if len(raw) else raw.iloc[:, :width]
    frame.index = range(1, len(frame) + 1)  # the row numbers Excel shows
    keep = (frame != "").any(axis=1) & ~frame[0].map(_is_comment)
    frame = frame[keep]
    if frame.empty:
        raise SpreadsheetRejected(_l("The file has no header row."))
    header_row = frame.index[0]
    header = [h.lstrip("\ufeff").strip() for h in frame.loc[header_row]]
    while header and header[-1] == "":
        header.pop()
    rest = frame.drop(index=header_row)
    beyond = rest.iloc[:, len(header):]
    overflow = [int(n) for n in beyond.index[(beyond != "").any(axis=1)]] if beyond.shape[1] else []
    body = rest.iloc[:, : len(header)]
    body.columns = range(len(header))
    if len(body) > limits.max_rows:
        raise SpreadsheetRejected(
            _l("The file has more than %(n)d rows. Split it into smaller files.", n=limits.max_rows)
        )
    return Sheet(header=header, frame=body, format=kind, header_row=int(header_row), overflow_rows=overflow)
