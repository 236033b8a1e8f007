"""Bulk writes for imports: multi-row INSERT … RETURNING and executemany UPDATE, in chunks with progress."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from app.extensions import db

CHUNK = 1000


class Steps:
    """Turns "n of the plan's writes done" into "rows done" for a job's progress."""

    def __init__(self, rows: int, writes: int, progress: Callable[[int], None]):
        self.rows, self.writes, self.progress, self.done = rows, max(writes, 1), progress, 0

    def advance(self, n: int) -> None:
        self.done += n
        self.progress(min(self.rows, self.rows * self.done // self.writes))


def insert_returning_ids(table: sa.Table, rows: Sequence[dict], steps: Steps | None = None) -> list[int]:
    """Insert `rows` and return their new ids in the same order (one multi-row statement per chunk)."""
    ids: list[int] = []
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids.extend(db.session.scalars(stmt, list(chunk)).all())
        if steps:
            steps.advance(len(chunk))
    return ids


def insert_many(table: sa.Table, rows: Sequence[dict], steps: Steps | None = None) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        db.session.execute(sa.insert(table), list(chunk))
        if steps:
            steps.advance(len(chunk))


def update_many(table: sa.Table, rows: Sequence[dict], fields: Sequence[str], steps: Steps | None = None,
                **extra) -> None:
    """UPDATE by id with executemany: each row dict holds `b_id` and `b_<field>` for every field in `fields`."""
    if not rows:
        return
    stmt = (sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values(**{name: sa.bindparam(f"b_{name}") for name in fields}, **extra))
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        db.session.execute(stmt, list(chunk))
        if steps:
            steps.advance(len(chunk))


def bump_versions(table: sa.Table, ids: Sequence[int]) -> None:
    """Raise the optimistic-lock version of these rows: a form opened before the import then refuses to save."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        db.session.execute(sa.update(table).where(table.c.id.in_(ids[start:start + CHUNK]))
                           .values(version=table.c.version + 1))


def in_chunks(column: sa.ColumnElement, values, query: Callable[[sa.ColumnElement], sa.Select], size: int = CHUNK):
    """Run `query(column IN chunk)` over the values in chunks (SQLite's parameter limit) and yield the rows."""
    values = sorted(set(values))
    for start in range(0, len(values), size):
        yield from db.session.execute(query(column.in_(values[start:start + size])))


def lock_rows(table: sa.Table, ids) -> None:
    """PostgreSQL: lock these rows until commit, in id order (the order the services lock in: no deadlock)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the import's transaction holds the database's only write lock
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        db.session.execute(sa.select(table.c.id).where(table.c.id.in_(ids[start:start + CHUNK]))
                           .order_by(table.c.id).with_for_update())
