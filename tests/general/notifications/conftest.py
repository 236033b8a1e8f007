"""Fixtures for the outbox tests: the memory backend's outbox, and a recorder standing in for the broker."""
from __future__ import annotations

import pytest

from app.general.notifications import backends, outbox


@pytest.fixture
def sent():
    """What the memory backends delivered during the test."""
    backends.SENT.clear()
    yield backends.SENT
    backends.SENT.clear()


@pytest.fixture
def published(app, monkeypatch):
    """Turn enqueueing on, but record the dispatch messages instead of publishing them to a broker."""
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)
    monkeypatch.setattr(outbox, "publish", lambda notification_id, countdown=None: calls.append(
        (notification_id, countdown)))
    monkeypatch.setattr(outbox, "publish_chunk", lambda ids, countdown=None: calls.extend(
        (notification_id, countdown) for notification_id in ids))
    return calls
