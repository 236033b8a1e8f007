"""A streaming reader for the cells of an .xlsx worksheet, as text.

Why not openpyxl: with defusedxml installed it parses through the pure-Python ElementTree parser, which
takes about four seconds for a 10,000-row sheet before any checking starts. This reader feeds the parts
to the C expat parser directly, with handlers that refuse any document type declaration — so no entity
can be declared (no "billion laughs") and nothing external can be referenced — and keeps only values.
It reads what imports need: the first worksheet, shared and inline strings (phonetic runs left out),
numbers, booleans, errors, and dates (a number whose cell format is a date, as openpyxl decides it).
"""
from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

# Built-in formats that are dates: the international ones, and those Excel shows as dates in Chinese,
# Japanese and Korean locales (27-36, 50-58), which openpyxl's table leaves out.
_DATE_FORMAT_IDS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)$")
_INTEGER = re.compile(r"-?\d+$")
_DEFAULT_SHEET = "xl/worksheets/sheet1.xml"


class UnsafeXml(ValueError):
    """A part declares a document type (and so could declare entities or reach outside the file)."""


class BadWorkbook(ValueError):
    """The workbook's parts are missing or not what they should be."""


_LOCAL_NAMES: dict[str, str] = {}


def _local(name: str) -> str:
    """The element's name without its namespace (transitional and strict OOXML use different ones)."""
    local = _LOCAL_NAMES.get(name)
    if local is None:
        local = _LOCAL_NAMES[name] = name.rsplit("}", 1)[-1]
    return local


def _refuse(*_args) -> None:
    raise UnsafeXml("document type declarations are not allowed")


def _parse(archive: zipfile.ZipFile, name: str, start: Callable, end: Callable | None = None,
           text: Callable | None = None) -> None:
    """Stream one part through expat; element and attribute names arrive without their namespace."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    try:
        with archive.open(name) as stream:
            parser.ParseFile(stream)
    except expat.ExpatError as error:
        raise BadWorkbook(f"{name}: {error}") from None


def _attrs(attributes: dict) -> dict:
    return {_local(key): value for key, value in attributes.items()}


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> tuple[str, bool]:
    """The path of the first worksheet, and whether the workbook counts dates from 1904."""
    found: dict = {"rid": None, "date1904": False}

    def start(name, attributes):
        local, attrs = _local(name), _attrs(attributes)
        if local == "sheet" and found["rid"] is None:
            found["rid"] = attrs.get("id")
        elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
            found["date1904"] = True

    _parse(archive, "xl/workbook.xml", start)
    targets: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in names:
        _parse(archive, "xl/_rels/workbook.xml.rels",
               lambda name, a: targets.__setitem__(a.get("Id"), a.get("Target", "")) if _local(name) == "Relationship"
               else None)
    target = targets.get(found["rid"] or "")
    if not target:
        return _DEFAULT_SHEET, found["date1904"]
    path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return path, found["date1904"]


class _StringsReader:
    """Collects the shared strings: rich-text runs joined, phonetic guides (<rPh>) left out."""

    def __init__(self):
        self.strings: list[str] = []
        self.parts: list[str] | None = None
        self.in_text = False
        self.phonetic = 0

    def start(self, name, _attributes):
        local = _local(name)
        if local == "si":
            self.parts = []
        elif local == "rPh":
            self.phonetic += 1
        elif local == "t":
            self.in_text = not self.phonetic

    def end(self, name):
        local = _local(name)
        if local == "si":
            self.strings.append("".join(self.parts or ()))
            self.parts = None
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "t":
            self.in_text = False

    def data(self, text):
        if self.in_text and self.parts is not None:
            self.parts.append(text)


def _shared_strings(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    if "xl/sharedStrings.xml" not in names:
        return []
    reader = _StringsReader()
    _parse(archive, "xl/sharedStrings.xml", reader.start, reader.end, reader.data)
    return reader.strings


def _date_styles(archive: zipfile.ZipFile, names: set[str]) -> set[int]:
    """Indexes of the cell formats (the `s` attribute of a cell) that show a number as a date or time."""
    if "xl/styles.xml" not in names:
        return set()
    custom: dict[int, str] = {}
    formats: list[int] = []
    state = {"in_cell_xfs": False}

    def start(name, attributes):
        local, attrs = _local(name), _attrs(attributes)
        if local == "numFmt":
            custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            state["in_cell_xfs"] = True
        elif local == "xf" and state["in_cell_xfs"]:
            formats.append(int(attrs.get("numFmtId", "0")))

    def end(name):
        if _local(name) == "cellXfs":
            state["in_cell_xfs"] = False

    _parse(archive, "xl/styles.xml", start, end)
    dates = set()
    for index, format_id in enumerate(formats):
        code = custom.get(format_id) or BUILTIN_FORMATS.get(format_id, "")
        if format_id in _DATE_FORMAT_IDS or (code and is_date_format(code)):
            dates.add(index)
    return dates


def _column_index(ref: str | None, fallback: int) -> int:
    match = _CELL_REF.match(ref or "")
    if not match:
        return fallback
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _number_text(value: str) -> str:
    if _INTEGER.match(value):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _date_text(value: str, epoch) -> str:
    moment = from_excel(float(value), epoch)
    if hasattr(moment, "hour") and not hasattr(moment, "date"):  # a time of day
        return moment.isoformat()
    if moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.date().isoformat()
    return moment.isoformat(sep=" ")


class _SheetReader:
    """Collects (row number, [cell texts]) from the worksheet's SAX events."""

    def __init__(self, strings: list[str], date_styles: set[int], epoch, max_rows: int, max_columns: int):
        self.strings, self.date_styles, self.epoch = strings, date_styles, epoch
        self.max_rows, self.max_columns = max_rows, max_columns
        self.rows: list[tuple[int, list[str]]] = []
        self.row_number = 0
        self.cells: dict[int, str] = {}
        self.cell: dict | None = None
        self.text: list[str] = []
        self.collect = False
        self.phonetic = 0  # inside <rPh>: a reading guide, not part of the value
        self.next_column = 0

    def start(self, name, attributes):
        local = _local(name)
        if local == "c":  # unprefixed attributes (r, t, s) carry no namespace
            style = attributes.get("s", "")
            column = _column_index(attributes.get("r"), self.next_column)  # no r: the cell after the last one
            self.next_column = column + 1
            self.cell = {"col": column, "t": attributes.get("t", "n"), "s": int(style) if style.isdigit() else 0,
                         "v": None, "is": []}
        elif local == "row":
            number = attributes.get("r", "")
            self.row_number = int(number) if number.isdigit() else self.row_number + 1
            self.cells, self.next_column = {}, 0
        elif local in ("v", "t") and self.cell is not None and not self.phonetic:
            self.collect, self.text = True, []
        elif local == "rPh":
            self.phonetic += 1

    def end(self, name):
        local = _local(name)
        if local == "v" and self.cell is not None:
            self.cell["v"], self.collect = "".join(self.text), False
        elif local == "t" and self.cell is not None and self.collect:
            self.cell["is"].append("".join(self.text))
            self.collect = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "c" and self.cell is not None:
            self._finish_cell()
        elif local == "row":
            self._finish_row()

    def data(self, text):
        if self.collect:
            self.text.append(text)

    def _finish_cell(self):
        cell, self.cell = self.cell, None
        if cell["col"] >= self.max_columns:
            raise BadWorkbook(f"row {self.row_number} has more than {self.max_columns} cells")
        value = self._value(cell)
        if value:
            self.cells[cell["col"]] = value

    def _value(self, cell: dict) -> str:
        kind, raw = cell["t"], cell["v"]
        if kind == "inlineStr":
            return "".join(cell["is"])
        if raw is None:
            return ""
        if kind == "s":
            index = int(raw)
            return self.strings[index] if 0 <= index < len(self.strings) else ""
        if kind == "b":
            return "TRUE" if raw.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return raw[:10] if kind == "d" and raw.endswith("T00:00:00") else raw
        if cell["s"] in self.date_styles:
            return _date_text(raw, self.epoch)
        return _number_text(raw)

    def _finish_row(self):
        if not self.cells:
            return
        if len(self.rows) >= self.max_rows:
            raise _TooManyRows()
        width = max(self.cells) + 1
        self.rows.append((self.row_number, [self.cells.get(i, "") for i in range(width)]))


class _TooManyRows(Exception):
    pass


def read_rows(archive: zipfile.ZipFile, *, max_rows: int, max_columns: int) -> Iterator[tuple[int, list[str]]]:
    """(row number as Excel shows it, cell texts) of the first worksheet's non-empty rows, at most `max_rows`.

    :raises UnsafeXml: a part declares a document type. :raises BadWorkbook: missing or malformed parts, or a
    row wider than `max_columns`.
    """
    names = set(archive.namelist())
    sheet, date1904 = _first_sheet(archive, names)
    if sheet not in names:
        raise BadWorkbook(f"the first worksheet ({sheet}) is missing")
    reader = _SheetReader(_shared_strings(archive, names), _date_styles(archive, names),
                          CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900, max_rows, max_columns)
    try:
        _parse(archive, sheet, reader.start, reader.end, reader.data)
    except _TooManyRows:
        pass  # the caller sees max_rows rows and refuses the file as too long
    return iter(reader.rows)
