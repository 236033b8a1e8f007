"""Downloadable templates of an import kind: the header, a notes row, an example row; .xlsx adds a notes sheet."""
from __future__ import annotations

from flask_babel import gettext as _

from app.core.imports.spec import ImportSpec
from app.core.spreadsheets import csv_bytes, xlsx_bytes


def _notes_row(spec: ImportSpec) -> list[str]:
    """One note under each column; the leading "#" makes the importer skip the row."""
    notes = [str(column.note) for column in spec.columns]
    notes[0] = "# " + notes[0]
    return notes


def template_csv(spec: ImportSpec) -> bytes:
    """UTF-8 CSV (with BOM, for Excel): header, notes (skipped on import), example rows."""
    header = [column.name for column in spec.columns]
    return csv_bytes(header, [_notes_row(spec), *spec.example_rows(None)])


def template_xlsx(spec: ImportSpec) -> bytes:
    """A workbook whose first sheet is the one imported (header and example), with a second sheet of notes."""
    header = [column.name for column in spec.columns]
    notes = [
        [column.name, str(column.label), _("yes") if column.required else _("no"), str(column.note),
         ", ".join(column.aliases), column.example]
        for column in spec.columns
    ]
    notes_header = [_("Column"), _("Meaning"), _("Required"), _("Notes"), _("Also accepted as header"), _("Example")]
    return xlsx_bytes(header, list(spec.example_rows(None)), title=str(spec.kind),
                      extra_sheets=[(_("Notes"), notes_header, notes)])
