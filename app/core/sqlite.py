"""SQLite settings for the embedded default: foreign keys on, WAL, a busy timeout, real SAVEPOINTs."""
from __future__ import annotations

import sqlalchemy as sa


def configure(engine: sa.Engine) -> None:
    """Turn on foreign keys and WAL for every SQLite connection of this engine."""
    if engine.dialect.name != "sqlite":
        return

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
        connection.exec_driver_sql("BEGIN")
