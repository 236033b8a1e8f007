"""SQLite settings for the embedded default: foreign keys on, WAL, a busy timeout."""
from __future__ import annotations

import sqlalchemy as sa


def configure(engine: sa.Engine) -> None:
    """Turn on foreign keys and WAL for every SQLite connection of this engine."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
