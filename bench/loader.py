"""Writing a generated data set: PostgreSQL COPY through psycopg, else SQLAlchemy Core executemany in chunks."""
from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from bench.datagen import Dataset, Table

CHUNK = 5_000


@dataclass
class Written:
    table: str
    rows: int
    seconds: float


def _copy_postgres(engine: sa.Engine, tables: list[Table]) -> list[Written]:
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        written = []
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            for table in tables:
                started = time.perf_counter()
                columns = ", ".join(f'"{c}"' for c in table.columns)
                with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                    for row in table.rows:
                        copy.write_row(row)
                written.append(Written(table.name, len(table.rows), time.perf_counter() - started))
        conn.commit()
        return written
    finally:
        raw.close()


def _insert_core(engine: sa.Engine, metadata: sa.MetaData, tables: list[Table]) -> list[Written]:
    written = []
    for table in tables:
        started = time.perf_counter()
        target = metadata.tables[table.name]
        with engine.begin() as conn:
            for start in range(0, len(table.rows), CHUNK):
                chunk = table.rows[start:start + CHUNK]
                conn.execute(target.insert(), [dict(zip(table.columns, row, strict=True)) for row in chunk])
        written.append(Written(table.name, len(table.rows), time.perf_counter() - started))
    return written


def _reset_sequences(engine: sa.Engine, tables: list[Table]) -> None:
    """Rows came with explicit ids: move each id sequence past them so the app's own inserts do not collide."""
    with engine.begin() as conn:
        for table in tables:
            if table.columns[0] != "id":
                continue
            conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM \"{table.name}\"), false)"
            ))


def write(engine: sa.Engine, metadata: sa.MetaData, dataset: Dataset) -> list[Written]:
    """Write every table of `dataset` (already in dependency order), then refresh the planner's statistics."""
    tables = [t for t in dataset.tables.values() if t.rows]
    if engine.dialect.name == "postgresql":
        written = _copy_postgres(engine, tables)
        _reset_sequences(engine, tables)
    else:
        written = _insert_core(engine, metadata, tables)
    started = time.perf_counter()
    # PostgreSQL: VACUUM too, as autovacuum does to a freshly loaded table within a minute or so (13+ vacuums after
    # inserts): the visibility map is then set and index-only scans are planned as on a database in service.
    statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)
    written.append(Written("(vacuum, analyze)" if statement.startswith("VACUUM") else "(analyze)", 0,
                           time.perf_counter() - started))
    return written
