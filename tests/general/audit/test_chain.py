"""The audit chain: appends link up; `verify` passes on a clean chain and names the first bad link."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit import services
from app.general.audit.models import AuditEvent
from app.general.audit.services import record, verify_chain, write_checkpoint


@pytest.fixture
def chain(db):
    """Three fresh events on top of whatever the database already holds; returns their seqs."""
    events = [record(f"test.step{i}", subject_type="Thing", subject_id=i, changes={"n": i}, actor="system")
              for i in range(1, 4)]
    return [e.seq for e in events]


@pytest.fixture
def unprotected(db):
    """Lift the append-only triggers inside the test's transaction (rolled back afterwards)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
    return db


def _raw_update(at_seq: int, **values) -> None:
    _db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == at_seq).values(**values))
    _db.session.expire_all()


def test_appended_events_link_to_the_one_before(chain):
    first, second, third = (
        _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == s)) for s in chain
    )
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert [second.seq, third.seq] == [first.seq + 1, first.seq + 2]
    assert verify_chain().ok


def test_hash_is_keyed_not_a_plain_digest(chain):
    event = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == chain[0]))
    plain = hashlib.sha256(event.prev_hash.encode() + services.canonical(event)).hexdigest()
    assert event.hash != plain
    assert event.hash == services.compute_hash(b"test-audit-key-that-is-long-enough-0123456789", event.prev_hash, event)


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_database_refuses_to_change_or_remove_an_event(chain, statement):
    savepoint = _db.session.begin_nested()
    with pytest.raises(sa.exc.DatabaseError):
        if statement == "update":
            _db.session.execute(sa.update(AuditEvent).where(AuditEvent.seq == chain[0]).values(action="forged"))
        else:
            _db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == chain[0]))
    savepoint.rollback()


def test_verify_names_an_edited_row(chain, unprotected):
    _raw_update(chain[1], changes={"n": 999})
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == chain[1]
    assert "keyed hash" in result.reason


def test_verify_names_a_deleted_middle_row(chain, unprotected):
    _db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == chain[1]))
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == chain[1]
    assert "missing" in result.reason


def test_verify_names_swapped_rows(chain, unprotected):
    a, b = chain[1], chain[2]
    _raw_update(a, seq=-1)
    _raw_update(b, seq=a)
    _raw_update(-1, seq=b)
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == a


def test_verify_names_a_chain_recomputed_without_the_key(chain, unprotected):
    """Someone who can write the table edits a row and recomputes every hash after it (no key)."""
    prev = _db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == chain[0]))
    _raw_update(chain[1], changes={"n": "forged"})
    for seq in chain[1:]:
        event = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == seq))
        forged = hmac.new(b"guessed-key", prev.encode() + services.canonical(event), hashlib.sha256).hexdigest()
        _raw_update(seq, prev_hash=prev, hash=forged)
        prev = forged
    result = verify_chain()
    assert not result.ok and result.first_bad_seq == chain[1]


def test_verify_reports_disabled_triggers(chain, unprotected):
    result = verify_chain()
    assert not result.ok
    assert "trigger" in result.reason


def test_verify_detects_a_truncated_tail_against_the_checkpoint(chain, unprotected, tmp_path):
    path = str(tmp_path / "checkpoints.jsonl")
    entry = write_checkpoint(path)
    assert entry["seq"] == chain[2]
    _db.session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == chain[2]))
    result = verify_chain(path)
    assert not result.ok and "truncated" in result.reason
    assert result.first_bad_seq == chain[2]


def test_forged_checkpoint_line_is_refused(chain, tmp_path):
    path = tmp_path / "checkpoints.jsonl"
    write_checkpoint(str(path))
    line = json.loads(path.read_text())
    line["seq"] += 100
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(ValueError, match="not authentic"):
        verify_chain(str(path))


def test_verify_command_exits_zero_on_a_clean_chain_and_one_naming_the_bad_row(app, chain, unprotected, tmp_path):
    runner = app.test_cli_runner()
    checkpoints = str(tmp_path / "none.jsonl")
    if _db.session.get_bind().dialect.name == "sqlite":  # put the triggers back for the clean run
        for stmt in services.SQLITE_TRIGGERS:
            _db.session.execute(sa.text(stmt))
    else:
        _db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    ok = runner.invoke(args=["audit", "verify", "--checkpoints", checkpoints])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    unprotected_again = _db.session.get_bind().dialect.name
    if unprotected_again == "sqlite":
        _db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
    else:
        _db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    _raw_update(chain[1], action="forged")
    bad = runner.invoke(args=["audit", "verify", "--checkpoints", checkpoints])
    assert bad.exit_code == 1
    assert f"event #{chain[1]}" in bad.output


@pytest.mark.postgres
def test_concurrent_writers_make_one_gapless_unforked_chain(app):
    """8 writers × 50 appends, each in its own transaction, on PostgreSQL (check 23)."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(50):
                    record("test.concurrent", subject_type="Writer", subject_id=n, changes={"i": i}, actor="system")
                    _db.session.commit()
                _db.session.remove()
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    with app.app_context():
        before = _db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context():
        seqs = list(_db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))
        assert len(seqs) == before + 400
        assert seqs == list(range(1, len(seqs) + 1))
        prevs = list(_db.session.scalars(sa.select(AuditEvent.prev_hash)))
        assert len(prevs) == len(set(prevs)), "two events claim the same predecessor: the chain forked"
        assert verify_chain().ok
        _db.session.remove()
