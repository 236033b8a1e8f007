"""The hand-written migration installs the same guards as the models: signatures append-only, issued text locked."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.core.ensure_database import drop, ensure
from app.extensions import db as _db
from config import TestConfig


@pytest.fixture
def migrated_app(tmp_path):
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        database = url.set(database=f"{url.database}_contracts_mig").render_as_string(hide_password=False)
        drop(database)
        ensure(database)
    else:
        database = f"sqlite:///{tmp_path / 'contracts-migration.sqlite'}"
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database)
    with application.app_context():
        upgrade()
        yield application
        _db.session.remove()
        _db.engine.dispose()
    if database.startswith("postgresql"):
        drop(database)


def test_migrated_tables_refuse_changing_a_signature_or_an_issued_text(migrated_app):
    from tests import factories
    from tests.general.contracts import factories as cf

    org = factories.make_district()
    contract = cf.signed(org.school_a)
    _db.session.commit()
    for statement in (
        "UPDATE contract_signatures SET ip = '10.0.0.1'",
        "DELETE FROM contract_signatures",
        "UPDATE contracts SET rendered_text = 'forged' WHERE id = :id",
        "UPDATE contracts SET status = 'draft' WHERE id = :id",
        "DELETE FROM contracts WHERE id = :id",
    ):
        with pytest.raises(sa.exc.DatabaseError):
            _db.session.execute(sa.text(statement), {"id": contract.id})
        _db.session.rollback()
    _db.session.execute(sa.text("UPDATE contracts SET party_email = 'x@example.test' WHERE id = :id"),
                        {"id": contract.id})
    _db.session.rollback()
    _db.session.remove()
    downgrade(revision="0005_people_and_classes")
    tables = set(sa.inspect(_db.engine).get_table_names())
    assert not {"contracts", "contract_signatures", "contract_templates"} & tables
    upgrade()
