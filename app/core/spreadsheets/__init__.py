"""Spreadsheet plumbing shared by imports and exports: safe reading of uploads, neutralised writing."""
from app.core.spreadsheets.reading import (
    CSV_MIMETYPE,
    EXCEL_ERRORS,
    XLSX_MIMETYPE,
    ReadLimits,
    Sheet,
    SpreadsheetRejected,
    check_workbook_archive,
    decode_text,
    read_upload,
    sniff,
)
from app.core.spreadsheets.writing import csv_bytes, neutralise, unneutralise, xlsx_bytes

__all__ = [
    "CSV_MIMETYPE", "EXCEL_ERRORS", "XLSX_MIMETYPE", "ReadLimits", "Sheet", "SpreadsheetRejected",
    "check_workbook_archive", "csv_bytes", "decode_text", "neutralise", "read_upload", "sniff", "unneutralise",
    "xlsx_bytes",
]
