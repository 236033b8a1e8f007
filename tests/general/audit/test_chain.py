"""The audit chain: appends link up, verify passes on a clean chain and names the first bad link."""
from __future__ import annotations

import sqlalchemy as sa

from app.general.audit.models import AuditEvent
from app.general.audit.services import record, verify_chain


def test_appended_events_link_to_the_one_before(db):
    first = record("test.first", subject_type="Thing", subject_id=1, actor="system")
    second = record("test.second", subject_type="Thing", subject_id=1, changes={"a": 1}, actor="system")
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert verify_chain().ok


def test_update_of_an_audit_row_is_refused_by_the_database(db):
    event = record("test.locked", actor="system")
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == event.id).values(action="x"))
        raised = False
    except sa.exc.DatabaseError:
        raised = True
    savepoint.rollback()
    assert raised
