"""The generic spreadsheet import framework: specs, the checking pipeline, and import jobs."""
from app.core.imports.fields import RowReader, parse_date
from app.core.imports.spec import Column, ImportContext, ImportSpec, ParsedRow, Plan, RowErrors

__all__ = ["Column", "ImportContext", "ImportSpec", "ParsedRow", "Plan", "RowErrors", "RowReader", "parse_date"]
