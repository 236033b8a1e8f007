"""Row builders for the bench district: plain tuples in column order, with explicit ids.

Everything is derived from one seed through named random streams (`Dataset.rng("guardians")`),
so one section can change without shifting the rows of another, and the same seed, scale and
academic year always give the same rows.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Scale:
    """How big the district is. The default is DESIGN.md's district scale."""

    schools: int = 50
    departments: int = 6  # per school, at most len(DEPARTMENTS)
    staff: int = 10_000
    classes: int = 4_000
    students: int = 160_000
    guardians: int = 250_000
    bench_admins: int = 20
    staff_account_share: float = 0.95  # teachers with a portal account
    parent_account_share: float = 0.10  # guardians with a portal account


FULL = Scale()
SMALL = Scale(schools=2, staff=50, classes=8, students=120, guardians=190, bench_admins=2)


@dataclass
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


@dataclass
class Dataset:
    """Every table's rows, in the order they must be written (parents before children)."""

    seed: int
    scale: Scale
    year_start: date
    password_hash: str
    tables: dict[str, Table] = field(default_factory=dict)

    def rng(self, stream: str) -> random.Random:
        """A random stream of its own for one section (string seeds are stable across runs and hash seeds)."""
        return random.Random(f"staffroom-bench|{self.seed}|{stream}")

    def table(self, name: str, columns: tuple[str, ...]) -> Table:
        if name not in self.tables:
            self.tables[name] = Table(name, columns)
        return self.tables[name]

    def add(self, name: str, row: tuple) -> int:
        """Append a row whose first column is the id, and return that id."""
        table = self.tables[name]
        table.rows.append(row)
        return row[0]

    def next_id(self, name: str) -> int:
        return len(self.tables[name].rows) + 1

    @property
    def academic_year(self) -> str:
        return f"{self.year_start.year}-{self.year_start.year + 1}"

    @property
    def created_at(self) -> datetime:
        """One fixed timestamp for every created_at: the data set does not depend on when it was made."""
        return datetime(self.year_start.year, 8, 20, 2, 0, tzinfo=UTC)

    def counts(self) -> dict[str, int]:
        return {name: len(table.rows) for name, table in self.tables.items()}


def academic_year_start(today: date) -> date:
    """1 September of the academic year `today` falls in."""
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole numbers (the first ones take the remainder)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
