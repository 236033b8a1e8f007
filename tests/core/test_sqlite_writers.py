"""The embedded SQLite default queues concurrent writers instead of failing (RELIABILITY F13)."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.audit.services import record, verify_chain
from config import TestConfig


def test_concurrent_read_then_write_transactions_all_commit_on_sqlite(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'writers.sqlite'}",
                     SQLITE_BEGIN_MODE="IMMEDIATE")
    with app.app_context():
        _db.create_all()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(10):
                    _db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))  # read first ...
                    record("test.sqlite_writer", subject_type="Writer", subject_id=n, changes={"i": i}, actor="system")
                    _db.session.commit()  # ... then write, while seven others do the same
                _db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        assert _db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 80
        assert verify_chain(str(tmp_path / "none.jsonl")).ok
        _db.session.remove()
        _db.engine.dispose()
