"""Creating the bench database from scratch and building the app bound to it."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from bench.settings import BENCH_AUDIT_KEY, BENCH_SECRET_KEY, OUT_DIR


class UnsafeDatabase(RuntimeError):
    """Refusal to drop a database that does not look like a bench database."""


def is_bench_name(url: str) -> bool:
    """Only databases (or SQLite files) whose name says "bench" are ever dropped by the generator."""
    target = sa.make_url(url)
    name = Path(target.database or "").name if target.get_backend_name() == "sqlite" else target.database or ""
    return "bench" in name.lower()


def recreate(url: str, *, allow_any_name: bool = False) -> None:
    """Drop and create the database named in `url` (PostgreSQL) or delete the SQLite file.

    :raises UnsafeDatabase: when the name does not contain "bench" and `allow_any_name` is off.
    """
    if not (allow_any_name or is_bench_name(url)):
        raise UnsafeDatabase(f"refusing to recreate {sa.make_url(url).database!r}: its name does not contain "
                             "'bench' (pass --i-mean-it to drop it anyway)")
    target = sa.make_url(url)
    if target.get_backend_name() == "postgresql":
        from app.core.ensure_database import drop, ensure

        drop(url)
        ensure(url)
        return
    if target.get_backend_name() != "sqlite" or target.database in (None, "", ":memory:"):
        raise UnsafeDatabase(f"the bench needs PostgreSQL or a SQLite file, not {url!r}")
    path = Path(target.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def bench_config():
    """A config for in-process work on the bench database: fixed bench keys, nothing sent anywhere."""
    from config import Config

    class BenchConfig(Config):
        SECRET_KEY = BENCH_SECRET_KEY
        AUDIT_HMAC_KEY = BENCH_AUDIT_KEY
        AUDIT_CHECKPOINT_PATH = str(OUT_DIR / "audit-checkpoints.jsonl")
        MAIL_BACKEND = "memory"
        SMS_BACKEND = "memory"
        NOTIFY_ENQUEUE_ON_COMMIT = False
        WTF_CSRF_ENABLED = False
        LOG_LEVEL = "WARNING"

    return BenchConfig


def make_app(url: str):
    """The Staffroom app bound to the bench database (create_app with the bench config)."""
    from app import create_app

    return create_app(bench_config(), SQLALCHEMY_DATABASE_URI=url)


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Alembic's env.py runs logging.config.fileConfig, which disables every logger that exists and replaces
    the root handlers: put them back, so that running the generator inside a process (a test) changes nothing."""
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    loggers = {name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
               for name, lg in logging.Logger.manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.setLevel(root_state[0])
        root.handlers[:] = root_state[1]
        for name, (disabled, level, handlers, propagate) in loggers.items():
            logger = logging.getLogger(name)
            logger.disabled, logger.level, logger.propagate = disabled, level, propagate
            logger.handlers[:] = handlers


def migrate(app) -> None:
    """`flask db upgrade`: build the schema from the committed migrations, exactly as production does."""
    from flask_migrate import upgrade

    with app.app_context(), _logging_kept():
        upgrade()


def dispose(app) -> None:
    """Close the app's connections (before dropping the database or handing it to another process)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def temporary_app(url: str) -> Iterator:
    """An app on the bench database that leaves no trace in the process: its connections are closed, and
    the Celery app and the logging set-up that were there before are put back."""
    from celery import _state as celery_state

    current, default = celery_state.get_current_app(), celery_state.default_app
    with _logging_kept():  # create_app sets the root logger's level too
        app = make_app(url)
        try:
            yield app
        finally:
            dispose(app)
            current.set_current()  # Celery() makes itself current (a thread-local) and create_app the default
            celery_state.set_default_app(default)
