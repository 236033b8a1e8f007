"""What an import kind declares (columns, row rules, database checks, writes) and what it produces (a plan).

A spec is a plain object; the pipeline drives it: header → `parse_row` per row → duplicates within the
file → `plan` (database checks in bulk, one query per check) → `apply` (bulk writes, no commit).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

ACTIONS = ("create", "update", "end", "unchanged")
PREVIEW_ROWS = 20


def header_key(text: str) -> str:
    """How headers are compared: case-insensitive, width-folded, blanks/dashes as underscores, no trailing *."""
    text = unicodedata.normalize("NFKC", text).strip().rstrip("*").strip().casefold()
    return "_".join(text.replace("-", " ").replace("_", " ").split())


@dataclass(frozen=True)
class Column:
    """One column of an import: its canonical name (the template header), label, aliases and notes."""

    name: str
    label: Any  # lazy string
    required: bool = False
    aliases: tuple[str, ...] = ()
    note: Any = ""
    example: str = ""

    def keys(self) -> set[str]:
        return {header_key(self.name), header_key(str(self.label)), *(header_key(a) for a in self.aliases)}


class RowErrors:
    """Problems found in a file, as (row number the user sees, column, message)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, str]] = []
        self.rows: set[int] = set()

    def add(self, row: int, column: str, message: Any) -> None:
        self.items.append((row, column, str(message)))
        self.rows.add(row)

    def flag(self, row: ParsedRow, column: str, message: Any) -> None:
        """Report a problem found by a database check; the row takes no further part in the plan."""
        self.add(row.number, column, message)
        row.ok = False

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[tuple[int, str, str]]:
        return sorted(self.items, key=lambda item: item[0])


@dataclass
class ParsedRow:
    """One data row: its number, its cleaned values (None where a value was bad) and whether all were good."""

    number: int
    data: dict[str, Any]
    ok: bool = True
    present: frozenset[str] = frozenset()  # the columns the file has (an absent column keeps stored values)


@dataclass
class PreviewRow:
    row: int
    action: str
    label: str
    details: str = ""


@dataclass
class Plan:
    """What applying the file will do. `work` is the spec's own payload for `apply`."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    preview: list[PreviewRow] = field(default_factory=list)
    work: Any = None
    unit_ids: set[int] = field(default_factory=set)  # the schools the file touches (the job's scope)
    warnings: list[str] = field(default_factory=list)
    rows: int = 0  # data rows in the file (progress is counted in rows)

    def count(self, entity: str, action: str, n: int = 1) -> None:
        bucket = self.counts.setdefault(entity, dict.fromkeys(ACTIONS, 0))
        bucket[action] += n

    def show(self, row: int, action: str, label: str, details: str = "") -> None:
        if len(self.preview) < PREVIEW_ROWS:
            self.preview.append(PreviewRow(row, action, label, details))

    @property
    def changes(self) -> int:
        return sum(n for bucket in self.counts.values() for action, n in bucket.items() if action != "unchanged")

    def summary(self) -> dict:
        """JSON-safe counts and first rows, stored on the job for the preview and result pages."""
        return {
            "counts": self.counts,
            "preview": [vars(p) for p in self.preview],
            "warnings": [str(w) for w in self.warnings],
        }


@dataclass
class ImportContext:
    """Who imports, on which day, and which org units they may write to. `lock` is set when the plan is about
    to be applied: specs then lock the rows their checks rely on (PostgreSQL `FOR UPDATE`) before reading them."""

    actor: Any
    today: date
    allowed: Callable[[Any], bool]
    lock: bool = False


Progress = Callable[[int], None]


class ImportSpec:
    """Base of an import kind. Subclasses set the class attributes and implement the four steps."""

    kind: ClassVar[str]
    title: ClassVar[Any]
    description: ClassVar[Any] = ""
    columns: ClassVar[tuple[Column, ...]]
    entities: ClassVar[dict[str, Any]] = {}  # entity name -> label, in the order the counts are shown
    key_columns: ClassVar[tuple[str, ...]] = ()  # one row per value of these within a file
    key_label: ClassVar[Any] = ""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def parse_row(self, row, ctx: ImportContext) -> dict[str, Any]:
        """Clean one row through `row` (a RowReader); problems go to the reader, bad values come back None."""
        raise NotImplementedError

    def row_key(self, data: dict[str, Any]) -> tuple | None:
        """The natural key of a row within the file (None when a key value is missing or bad)."""
        values = tuple(data.get(name) for name in self.key_columns)
        return None if not values or any(v in (None, "") for v in values) else values

    def plan(self, rows: list[ParsedRow], ctx: ImportContext, errors: RowErrors) -> Plan:
        """Check the rows against the database (in bulk) and decide what is created, updated or ended."""
        raise NotImplementedError

    def apply(self, plan: Plan, ctx: ImportContext, progress: Progress) -> None:
        """Write the plan with bulk statements (the caller's transaction; never commits)."""
        raise NotImplementedError

    def example_rows(self, ctx: ImportContext | None) -> Iterable[list[str]]:
        """Rows for the downloadable template (one example by default)."""
        return [[c.example for c in self.columns]]
