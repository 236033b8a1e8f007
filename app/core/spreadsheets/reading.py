"""Reading uploads safely.

An upload is checked before any parser sees it: the name must be .csv or .xlsx and the content must be
what the name says (an .html renamed .xlsx is refused); a workbook must be a real Office Open XML zip
without macros, within entry-count, size and compression-ratio limits (zip bombs); its XML may declare
no document type (xlsx.py), and defusedxml guards the standard library's parsers as well. Every cell
is read as text, so `007` and `NA` survive unchanged.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field

import pandas as pd
from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.core.spreadsheets import xlsx

# What Excel writes into a cell whose formula failed; such a first cell is data, not a comment.
EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!"})

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted (password-protected) workbook
_DEFUSED = False
# Parts that carry executable content: VBA projects, Excel 4.0 macro sheets, ActiveX controls.
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
        frame = pd.read_csv(
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
    frame.index = range(1, len(frame) + 1)  # the row numbers Excel shows (blank lines count)
    return frame


def _defuse() -> None:
    """defusedxml's patches of the standard library's XML parsers, for any other XML parsed in this process."""
    global _DEFUSED
    if not _DEFUSED:
        import defusedxml

        with warnings.catch_warnings():  # it imports its deprecated cElementTree shim while patching
            warnings.simplefilter("ignore", DeprecationWarning)
            defusedxml.defuse_stdlib()
        _DEFUSED = True


def _read_xlsx(data: bytes, limits: ReadLimits) -> pd.DataFrame:
    """The first worksheet's cells as text, indexed by Excel's row numbers (expat, no DTD allowed: see xlsx.py)."""
    _defuse()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            rows = list(xlsx.read_rows(archive, max_rows=limits.max_rows + 3, max_columns=limits.max_columns))
    except xlsx.UnsafeXml:
        raise SpreadsheetRejected(_l("The workbook contains XML constructs that are not allowed (entities "
                                     "or external references). Save it again from Excel as .xlsx.")) from None
    except (xlsx.BadWorkbook, zipfile.BadZipFile, KeyError, ValueError, IndexError, OSError, EOFError):
        raise SpreadsheetRejected(_l("The workbook is damaged and cannot be read.")) from None
    width = max((len(cells) for _n, cells in rows), default=1)
    frame = pd.DataFrame([cells + [""] * (width - len(cells)) for _n, cells in rows], columns=range(width),
                         index=[n for n, _cells in rows], dtype=str)
    return frame if len(frame) else pd.DataFrame({0: pd.Series([], dtype=str)})


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
