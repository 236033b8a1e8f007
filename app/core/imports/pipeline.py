"""The import pipeline: header → rows → duplicates → database checks (a plan) → bulk writes.

Nothing is written until every row has passed; a file with any problem raises ImportRejected listing
every problem found (row, column as headed in the file, message).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext

from app.core.errors import ImportRejected
from app.core.imports.fields import RowReader
from app.core.imports.spec import ImportContext, ImportSpec, ParsedRow, Plan, Progress, RowErrors, header_key
from app.core.spreadsheets import Sheet

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500


def _nothing(_done: int) -> None:
    return None


@dataclass
class Header:
    """Which file column holds which spec column, and the text the file uses for it (for the report)."""

    positions: dict[str, int]
    display: dict[str, str]
    ignored: list[str]


def map_header(spec: ImportSpec, sheet: Sheet, errors: RowErrors) -> Header:
    """Match the file's headers to the spec's columns (case-insensitive, aliases such as 工号 allowed)."""
    lookup = {key: column.name for column in spec.columns for key in column.keys()}
    positions: dict[str, int] = {}
    display: dict[str, str] = {}
    ignored: list[str] = []
    for position, text in enumerate(sheet.header):
        name = lookup.get(header_key(text)) if text else None
        if name is None:
            if text:
                ignored.append(text)
            continue
        if name in positions:
            errors.add(sheet.header_row, text, _("This column appears twice (as “%(first)s” too).",
                                                 first=display[name]))
            continue
        positions[name], display[name] = position, text
    for column in spec.columns:
        if column.required and column.name not in positions:
            errors.add(sheet.header_row, column.name, _("This required column is missing."))
    return Header(positions, display, ignored)


def parse_rows(spec: ImportSpec, sheet: Sheet, header: Header, errors: RowErrors, ctx: ImportContext,
               progress: Progress = _nothing) -> list[ParsedRow]:
    """Run the spec's per-row rules over every data row (no database access)."""
    names = list(header.positions)
    frame = sheet.frame.iloc[:, [header.positions[n] for n in names]]
    present = frozenset(names)
    overflow = set(sheet.overflow_rows)
    rows: list[ParsedRow] = []
    for count, (number, *cells) in enumerate(frame.itertuples(name=None), start=1):
        reader = RowReader(int(number), dict(zip(names, cells, strict=True)), errors, present)
        if number in overflow:
            reader.error("", _("This row has more cells than the header has columns."))
        data = spec.parse_row(reader, ctx)
        rows.append(ParsedRow(int(number), data, reader.ok, present))
        if count % PROGRESS_EVERY == 0:
            progress(count)
    progress(len(rows))
    return rows


def check_duplicates(spec: ImportSpec, rows: list[ParsedRow], errors: RowErrors) -> None:
    """A natural key (e.g. employee number in a school) may appear on one row of the file only."""
    if not spec.key_columns:
        return
    first_row: dict[tuple, int] = {}
    for row in rows:
        key = spec.row_key(row.data)
        if key is None:
            continue
        if key in first_row:
            errors.add(row.number, spec.key_columns[-1],
                       _("Same %(what)s as row %(row)d.", what=spec.key_label, row=first_row[key]))
            row.ok = False
        else:
            first_row[key] = row.number


def rejection(errors: RowErrors, header: Header | None = None) -> ImportRejected:
    """The ImportRejected for these problems, columns named as the file heads them."""
    display = header.display if header else {}
    rows = [(row, display.get(column, column), message) for row, column, message in errors.sorted()]
    bad_rows = len(errors.rows)
    message = ngettext(
        "The file was not imported: %(num)d row has problems. Nothing was changed.",
        "The file was not imported: %(num)d rows have problems. Nothing was changed.",
        bad_rows,
    )
    return ImportRejected(message, rows)


@dataclass
class Checked:
    """The rows of a file after the checks that need no database."""

    header: Header
    rows: list[ParsedRow]
    errors: RowErrors


def check_rows(spec: ImportSpec, sheet: Sheet, ctx: ImportContext, progress: Progress = _nothing) -> Checked:
    """Header, per-row rules and duplicates within the file (no database access).

    :raises ImportRejected: when a required column is missing or there are no rows (row problems are kept
    for `plan_rows`, so that the report lists them together with the database problems).
    """
    errors = RowErrors()
    header = map_header(spec, sheet, errors)
    if errors:
        raise rejection(errors, header)  # without the columns the rows cannot be read
    if not len(sheet):
        errors.add(sheet.header_row, "", _("The file has a header but no rows."))
        raise rejection(errors, header)
    rows = parse_rows(spec, sheet, header, errors, ctx, progress)
    check_duplicates(spec, rows, errors)
    return Checked(header, rows, errors)


def dump_checked(checked: Checked) -> bytes:
    """The checked rows of a file that passed, as JSON: the preview keeps them so the apply need not redo them."""
    header = checked.header
    return json.dumps({
        "header": {"positions": header.positions, "display": header.display, "ignored": header.ignored},
        "rows": [[row.number, row.data] for row in checked.rows],
    }, default=_encode, ensure_ascii=False, separators=(",", ":")).encode()


def load_checked(blob: bytes) -> Checked:
    """The inverse of `dump_checked` (every row passed: `dump_checked` is only called for such files)."""
    content = json.loads(blob, object_hook=_decode)
    header = Header(**content["header"])
    present = frozenset(header.positions)
    return Checked(header, [ParsedRow(number, data, True, present) for number, data in content["rows"]], RowErrors())


def _encode(value):
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__} in a checked row")


def _decode(value: dict):
    return date.fromisoformat(value["$date"]) if len(value) == 1 and "$date" in value else value


def plan_rows(spec: ImportSpec, checked: Checked, ctx: ImportContext) -> Plan:
    """The database checks (in bulk) and the plan of what applying the file does.

    :raises ImportRejected: with every problem found, when there is any.
    """
    plan = spec.plan(checked.rows, ctx, checked.errors)
    plan.rows = len(checked.rows)
    if checked.errors:
        raise rejection(checked.errors, checked.header)
    if checked.header.ignored:
        plan.warnings.append(_("These columns are not used and were ignored: %(names)s.",
                               names=", ".join(checked.header.ignored)))
    return plan


def analyse(spec: ImportSpec, sheet: Sheet, ctx: ImportContext, progress: Progress = _nothing) -> Plan:
    """Check the whole file and return the plan. :raises ImportRejected: every problem found."""
    return plan_rows(spec, check_rows(spec, sheet, ctx, progress), ctx)
