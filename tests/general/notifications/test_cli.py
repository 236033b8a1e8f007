"""`flask notifications sweep` and `flask notifications status`."""
from __future__ import annotations

from app.general.notifications.services import notify

NOTICE = "notifications/messages/notice"


def _pending(db, key):
    row = notify(template=NOTICE, channel="email", key=key, address=f"{key}@example.test",
                 context={"subject": "S", "body": "B"})
    db.session.commit()
    return row


def test_status_counts_rows_by_status_and_channel(app, db):
    _pending(db, "c1")
    _pending(db, "c2")
    notify(template=NOTICE, channel="sms", key="c3", address="", context={"subject": "S", "body": "B"})
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["notifications", "status"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["pending", "email", "2"] in lines and ["failed", "sms", "1"] in lines


def test_status_of_an_empty_outbox(app, db, monkeypatch):
    from app.general.notifications import queries

    monkeypatch.setattr(queries, "status_counts", lambda: [])
    result = app.test_cli_runner().invoke(args=["notifications", "status"])
    assert result.exit_code == 0 and "empty" in result.output


def test_sweep_enqueues_every_due_row_now(app, db, published):
    rows = [_pending(db, "s1"), _pending(db, "s2")]
    published.clear()
    result = app.test_cli_runner().invoke(args=["notifications", "sweep"])
    assert result.exit_code == 0, result.output
    assert "2 notification(s) due, 2 enqueued" in result.output
    assert sorted(i for i, _ in published) == sorted(r.id for r in rows)


def test_sweep_fails_loudly_when_the_broker_is_down(app, db, monkeypatch):
    from app.general.notifications import outbox

    _pending(db, "s3")
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("broker away")

    monkeypatch.setattr(outbox, "publish", down)
    result = app.test_cli_runner().invoke(args=["notifications", "sweep"])
    assert result.exit_code == 1 and "run the sweep again" in result.output
