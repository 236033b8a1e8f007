"""SQLite settings for the embedded default: foreign keys on, WAL, a busy timeout, real SAVEPOINTs."""
from __future__ import annotations

import sqlalchemy as sa


def configure(engine: sa.Engine, begin_mode: str = "IMMEDIATE") -> None:
    """Turn on foreign keys and WAL for every SQLite connection of this engine."""
    if engine.dialect.name != "sqlite":
        return
    if begin_mode not in {"IMMEDIATE", "DEFERRED"}:
        raise ValueError(f"SQLITE_BEGIN_MODE must be IMMEDIATE or DEFERRED, not {begin_mode!r}")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling breaks SAVEPOINT (releasing one commits the outer work):
        # take it over, as SQLAlchemy documents, and emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE: a transaction takes the write lock when it starts, so concurrent writers queue on
        # busy_timeout instead of failing with "database is locked" when a read snapshot goes stale
        # (WAL cannot upgrade an old snapshot to a write). SQLite allows one writer at a time anyway.
        connection.exec_driver_sql(f"BEGIN {begin_mode}")
