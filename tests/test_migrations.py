"""The committed migrations build the same schema as the models, on SQLite and PostgreSQL, and undo cleanly."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.core.ensure_database import drop, ensure
from app.core.models import include_in_comparison, quiet_about_uncompared_indexes
from app.extensions import db as _db
from config import TestConfig


@pytest.fixture
def fresh_app(tmp_path):
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        database = url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
        drop(database)
        ensure(database)
    else:
        database = f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database)
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()
    if database.startswith("postgresql"):
        drop(database)


def _drift(connection) -> list:
    """What differs between the migrated database and the models (as `flask db check` compares them: indexes
    built only on PostgreSQL are compared in the PostgreSQL pass)."""
    dialect = connection.dialect.name
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_in_comparison(dialect)})
    with quiet_about_uncompared_indexes(_db.metadata, dialect):
        return compare_metadata(context, _db.metadata)


def test_migrations_build_the_models_schema_with_no_drift(fresh_app):
    with fresh_app.app_context():
        upgrade()
        with _db.engine.connect() as connection:
            assert _drift(connection) == []


def test_migrated_audit_table_refuses_update_and_delete(fresh_app):
    with fresh_app.app_context():
        upgrade()
        from app.general.audit.services import record, verify_chain

        record("test.migrated", actor="system")
        _db.session.commit()
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(sa.exc.DatabaseError):
                _db.session.execute(sa.text(statement))
            _db.session.rollback()
        assert verify_chain(os.devnull).ok


def test_every_migration_downgrades_to_an_empty_database(fresh_app):
    with fresh_app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(sa.inspect(_db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
