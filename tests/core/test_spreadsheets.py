"""Safe reading of uploads and neutralised writing (RELIABILITY.md checks 17, 18 and 20). Files are built here."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from app.core.spreadsheets import (
    ReadLimits,
    SpreadsheetRejected,
    csv_bytes,
    neutralise,
    read_upload,
    unneutralise,
    xlsx_bytes,
)

DANGEROUS = ["=1+1", "+41", "-2+3", "@SUM(A1)", "\tX", "\rX", "\nX", "\x00X"]


def _xlsx(rows: list[list], sheet_title: str = "Data") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, extra: dict[str, bytes] | None = None, drop: set[str] = frozenset(),
           replace: dict[str, bytes] | None = None) -> bytes:
    """Rebuild a workbook's zip with parts added, dropped or replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename in drop:
                continue
            target.writestr(item.filename, (replace or {}).get(item.filename, source.read(item.filename)))
        for name, content in (extra or {}).items():
            target.writestr(name, content)
    return out.getvalue()


# --- reading as text -----------------------------------------------------------------------------------


def test_csv_keeps_leading_zeros_and_na_as_text():
    data = pd.DataFrame({"code": ["007", "NA", "null", ""], "n": ["1", "N/A", "nan", "x"]}, dtype=str)
    sheet = read_upload(data.to_csv(index=False).encode(), "people.csv")
    assert sheet.header == ["code", "n"]
    assert sheet.frame[0].tolist() == ["007", "NA", "null", ""]
    assert sheet.frame[1].tolist() == ["1", "N/A", "nan", "x"]


def test_xlsx_keeps_text_cells_and_reads_numbers_and_dates_as_text():
    data = _xlsx([["code", "n", "day", "when"], ["007", 16.0, date(2026, 9, 1), datetime(2026, 9, 1, 8, 30)],
                  ["NA", 3.5, "2026-09-02", None]])
    sheet = read_upload(data, "people.xlsx")
    assert sheet.format == "xlsx"
    assert sheet.frame.values.tolist() == [["007", "16", "2026-09-01", "2026-09-01 08:30:00"],
                                           ["NA", "3.5", "2026-09-02", ""]]


def test_bom_is_stripped_from_the_first_header():
    sheet = read_upload("\ufeffemployee_number,name\n007,王芳\n".encode(), "staff.csv")
    assert sheet.header == ["employee_number", "name"]
    assert sheet.frame.values.tolist() == [["007", "王芳"]]


def test_gb18030_csv_from_chinese_excel_is_read():
    sheet = read_upload("工号,姓名\n007,王芳\n".encode("gb18030"), "staff.csv")
    assert sheet.header == ["工号", "姓名"]
    assert sheet.frame.values.tolist() == [["007", "王芳"]]


def test_cells_are_stripped_and_blank_and_comment_rows_skipped_but_counted():
    text = "# notes row\nname , code\n  Wang  , 007 \n\n#N/A,1\n# another note\nLi,8\n"
    sheet = read_upload(text.encode(), "a.csv")
    assert sheet.header_row == 2
    assert sheet.header == ["name", "code"]
    assert sheet.frame.index.tolist() == [3, 5, 7]  # the row numbers Excel shows
    assert sheet.frame.values.tolist() == [["Wang", "007"], ["#N/A", "1"], ["Li", "8"]]


def test_a_cell_neutralised_by_our_export_reads_back_as_typed():
    sheet = read_upload(b"phone,name\n'+86 138,'=x\n", "a.csv")
    assert sheet.frame.values.tolist() == [["+86 138", "=x"]]


def test_rows_wider_than_the_header_are_reported():
    sheet = read_upload(b"a,b\n1,2\n3,4,5\n", "a.csv")
    assert sheet.overflow_rows == [3]


def test_semicolon_and_tab_separated_files_are_read():
    assert read_upload(b"a;b\n1;2\n", "a.csv").frame.values.tolist() == [["1", "2"]]
    assert read_upload(b"a\tb\n1\t2\n", "a.csv").frame.values.tolist() == [["1", "2"]]


def test_too_many_rows_are_refused_never_cut():
    rows = "\n".join(str(n) for n in range(12))
    with pytest.raises(SpreadsheetRejected, match="more than 10 rows"):
        read_upload(f"n\n{rows}\n".encode(), "a.csv", ReadLimits(max_rows=10))
    assert len(read_upload(f"n\n{rows}\n".encode(), "a.csv", ReadLimits(max_rows=12))) == 12


# --- refusing what is not a plain spreadsheet ------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    b"PK\x03\x04 not really a zip",
    b"plain,text\n1,2\n",
])
def test_a_file_renamed_xlsx_that_is_no_workbook_is_refused(content):
    with pytest.raises(SpreadsheetRejected):
        read_upload(content, "staff.xlsx")


def test_html_renamed_csv_is_refused():
    with pytest.raises(SpreadsheetRejected, match="web page"):
        read_upload(b"<html><body><table><tr><td>1</td></tr></table></body></html>", "staff.csv")


@pytest.mark.parametrize("name", ["staff.xlsm", "staff.xls", "staff.pdf", "staff", "staff.html"])
def test_other_extensions_are_refused(name):
    with pytest.raises(SpreadsheetRejected):
        read_upload(_xlsx([["a"], ["1"]]), name)


def test_a_workbook_named_csv_is_refused():
    with pytest.raises(SpreadsheetRejected, match=r"\.xlsx"):
        read_upload(_xlsx([["a"], ["1"]]), "staff.csv")


def test_a_macro_enabled_workbook_is_refused_even_when_named_xlsx():
    macro = _rezip(_xlsx([["a"], ["1"]]), extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 VBA project"})
    with pytest.raises(SpreadsheetRejected, match="Macro"):
        read_upload(macro, "staff.xlsx")


def test_excel4_macro_sheets_are_refused():
    macro = _rezip(_xlsx([["a"], ["1"]]), extra={"xl/macrosheets/sheet1.xml": b"<xm/>"})
    with pytest.raises(SpreadsheetRejected, match="Macro"):
        read_upload(macro, "staff.xlsx")


def test_old_or_encrypted_workbooks_are_refused():
    with pytest.raises(SpreadsheetRejected, match="password"):
        read_upload(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "staff.xlsx")


def test_a_zip_bomb_is_refused_before_parsing():
    bomb = _rezip(_xlsx([["a"], ["1"]]), extra={"xl/media/zeros.bin": b"\x00" * (40 * 1024 * 1024)})
    assert len(bomb) < 200 * 1024  # small on the wire, 40 MiB inflated
    with pytest.raises(SpreadsheetRejected, match="expands"):
        read_upload(bomb, "staff.xlsx")  # the compression ratio gives it away
    with pytest.raises(SpreadsheetRejected, match="expands"):
        read_upload(bomb, "staff.xlsx", ReadLimits(max_compression_ratio=10**9, max_uncompressed_bytes=10 * 2**20))


def test_a_workbook_with_too_many_parts_is_refused():
    many = _rezip(_xlsx([["a"], ["1"]]), extra={f"xl/media/{n}.txt": b"x" for n in range(400)})
    with pytest.raises(SpreadsheetRejected, match="too many parts"):
        read_upload(many, "staff.xlsx")


def test_xml_entity_expansion_is_refused_by_defusedxml():
    data = _xlsx([["a"], ["1"]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    body = sheet.split("?>", 1)[1] if sheet.startswith("<?xml") else sheet
    bombed = _rezip(data, replace={"xl/worksheets/sheet1.xml": (laughs + body).encode()})
    with pytest.raises(SpreadsheetRejected, match="not allowed"):
        read_upload(bombed, "staff.xlsx")


def test_an_empty_file_is_refused():
    with pytest.raises(SpreadsheetRejected, match="empty"):
        read_upload(b"", "staff.csv")


# --- writing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_export_neutralises_each_dangerous_first_character(value):
    text = csv_bytes(["h"], [[value]]).decode("utf-8-sig")
    _header, (cell,) = csv.reader(io.StringIO(text, newline=""))
    assert cell == "'" + value


@pytest.mark.parametrize("value", DANGEROUS)
def test_xlsx_export_neutralises_each_dangerous_first_character_and_writes_text(value):
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["h"], [[value]])))
    cell = workbook.active["A2"]
    assert cell.data_type == "s"
    assert cell.value.startswith("'")
    assert cell.value[1:] in {value.replace("\x00", ""), value.replace("\r", "\n")}  # XML reads CR as LF


def test_header_cells_are_neutralised_too():
    assert csv_bytes(["=cmd"], []).decode("utf-8-sig").startswith("'=cmd")


def test_safe_values_are_left_alone():
    assert neutralise("王芳") == "王芳"
    assert neutralise(-5) == -5
    assert unneutralise("'=1") == "=1"
    assert unneutralise("'hello") == "'hello"


def test_xlsx_export_keeps_dates_and_numbers_typed():
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["d", "n", "s"], [[date(2026, 9, 1), 16, "007"]])))
    d, n, s = workbook.active[2]
    assert d.value.date() == date(2026, 9, 1)
    assert n.value == 16
    assert s.value == "007" and s.data_type == "s"
