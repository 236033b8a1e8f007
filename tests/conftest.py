"""Shared fixtures: the app, a database rolled back after each test, clients, users by role.

The database is TEST_DATABASE_URL (PostgreSQL in CI's second pass) or a SQLite file in a
temporary directory. Tests marked `postgres` run only on PostgreSQL; tests marked `redis` and
`browser` need those services and are skipped when absent unless STAFFROOM_REQUIRE_SERVICES=1,
in which case a missing service fails the run.
"""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g, request_started
from sqlalchemy import orm

_TMP = Path(tempfile.mkdtemp(prefix="staffroom-tests-"))
os.environ.setdefault("TEST_DATABASE_URL", f"sqlite:///{_TMP / 'test.sqlite'}")


def _private_postgres_database() -> str | None:
    """On PostgreSQL each test run gets its own database (<name>_<pid>), so concurrent runs never collide."""
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        return None
    from app.core.ensure_database import ensure

    private = url.set(database=f"{url.database}_{os.getpid()}")
    ensure(private.render_as_string(hide_password=False))
    os.environ["TEST_DATABASE_URL"] = private.render_as_string(hide_password=False)
    return private.database


# Before anything imports config.py (choosing the private database does): its paths are read at import.
os.environ["STAFFROOM_ENV"] = "test"
os.environ.setdefault("STAFFROOM_INSTANCE", str(_TMP / "instance"))
os.environ.setdefault("AUDIT_CHECKPOINT_PATH", str(_TMP / "audit-checkpoints.jsonl"))
_PRIVATE_DB = _private_postgres_database()

from app import create_app  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from config import TestConfig  # noqa: E402
from tests import factories  # noqa: E402
from tests.stubs.network import block_outside_network  # noqa: E402,F401  (autouse: no test reaches the network)

REQUIRE_SERVICES = os.environ.get("STAFFROOM_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config, items):
    dialect = sa.make_url(os.environ["TEST_DATABASE_URL"]).get_backend_name()
    redis_up = _reachable("127.0.0.1", 6379)
    chromium = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")).exists()
    for item in items:
        if "postgres" in item.keywords and dialect != "postgresql":
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass"))
        if "redis" in item.keywords and not redis_up and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason="Redis is not reachable on 127.0.0.1:6379"))
        if "browser" in item.keywords and not chromium and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason="Chromium is not installed at /usr/bin/chromium"))


def pytest_sessionfinish(session, exitstatus):
    if _PRIVATE_DB:
        from app.core.ensure_database import drop

        drop(os.environ["TEST_DATABASE_URL"])


def _reset_schema(app) -> None:
    with app.app_context():
        engine = _db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            _db.drop_all()
        _db.create_all()


def _compile_translations() -> None:
    """Compile the .po catalogues (make does this too; a plain `pytest` run must not depend on it)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(__file__).resolve().parent.parent.glob("translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src, mo.open("wb") as dst:
                write_mo(dst, read_po(src))


@pytest.fixture(scope="session")
def app():
    _compile_translations()
    # config.py was imported before the private database was chosen: pass the URL explicitly
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=os.environ["TEST_DATABASE_URL"])
    _reset_schema(application)
    yield application


@pytest.fixture
def db(app):
    """A session bound to one outer transaction that is rolled back after the test."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        if connection.dialect.name == "sqlite" and not connection.connection.driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN")  # pysqlite defers BEGIN: without it a test's commit() would stick
        original = _db.session
        factory = orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        _db.session = orm.scoped_session(factory, scopefunc=lambda: "test")
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_g_per_request():
    """Requests run inside the test's app context, so `g` would outlive a request: Flask-Login's cached
    user, Flask-WTF's token and Flask-Babel's locale would leak into the next request. Start each empty."""

    def _clear(_sender, **_extra):
        vars(g._get_current_object()).clear()

    request_started.connect(_clear)
    yield
    request_started.disconnect(_clear)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def org(db):
    """A district with two schools (A and B), each with a department."""
    return factories.make_district()


@pytest.fixture
def login_as(client, db, org):
    """Log the test client in as a fresh user of `role` scoped to school A (second factor passed)."""

    def _login(role: str = "admin", *, unit=None, user=None, fresh: bool = True):
        user = user or factories.make_user(role=role, unit=unit or org.school_a)
        factories.log_in(client, user, fresh=fresh)
        return user

    return _login
