"""Check 25 for the departure's parent notices: they are written in the confirmation's transaction. A rollback
leaves no notice, no outbox row and nothing enqueued; a broker that is down when the confirmation commits does not
fail it — the rows wait as pending and the beat sweep hands them out once the broker is back."""
from __future__ import annotations

import logging
import socket
import time
from datetime import date

import pytest
import sqlalchemy as sa
from celery import Celery
from celery import _state as celery_state

from app.core.errors import InvalidTransition
from app.extensions import db
from app.general.notifications import outbox, tasks
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment
from app.school.offboarding.models import CaseStatus, DepartureCase, ParentNotice
from app.school.offboarding.services import cases, notices, plan
from config import celery_settings
from tests import factories

TODAY = date(2026, 12, 7)
LAST_DAY = date(2027, 1, 8)
TEMPLATE = "offboarding/messages/parent_notice"


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("app.school.offboarding.services.cases.local_today", lambda: TODAY)
    monkeypatch.setattr("app.school.offboarding.services.plan.local_today", lambda: TODAY)


@pytest.fixture
def published(app, monkeypatch):
    """Enqueueing on, the dispatch messages recorded instead of published (as in tests/general/notifications)."""
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)
    monkeypatch.setattr(outbox, "publish", lambda notification_id, countdown=None: calls.append(
        (notification_id, countdown)))
    monkeypatch.setattr(outbox, "publish_chunk", lambda ids, countdown=None: calls.extend(
        (notification_id, countdown) for notification_id in ids))
    return calls


@pytest.fixture
def broker_down(app, monkeypatch):
    """Enqueueing on, through a real Celery app whose Redis broker is a closed port: Redis is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    previous_current, previous_default = celery_state.get_current_app(), celery_state.default_app
    down = Celery("broker-down", set_as_current=False)
    down.config_from_object(celery_settings(f"redis://127.0.0.1:{closed_port}/0"))
    monkeypatch.setitem(app.config, "NOTIFY_ENQUEUE_ON_COMMIT", True)
    monkeypatch.setitem(app.extensions, "celery", down)
    yield down
    down.close()
    previous_current.set_current()
    celery_state.set_default_app(previous_default)


def _ready_to_confirm(d) -> DepartureCase:
    """A resignation approved, in handover, with a colleague chosen for every assignment; committed."""
    case = cases.submit(d.leaving, kind="resignation", last_working_day=LAST_DAY, actor=d.leaving_user,
                        given_on=TODAY)
    cases.approve(case, actor=d.head)
    cases.start_handover(case, actor=d.admin)
    for line in plan.lines(case):
        plan.choose(case, line.assignment, d.colleague, actor=d.admin)
    db.session.commit()
    return case


def _notice_rows(case_id: int) -> tuple[int, list[Notification]]:
    db.session.expire_all()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice).where(
        ParentNotice.case_id == case_id))
    rows = list(db.session.scalars(sa.select(Notification).where(
        Notification.template == TEMPLATE, Notification.idempotency_key.like(f"departure:{case_id}:guardian:%"))))
    return count, rows


def _assignments_of(staff_id: int) -> list[int]:
    return sorted(db.session.scalars(sa.select(Assignment.id).where(Assignment.staff_id == staff_id)))


def test_a_confirmation_rolled_back_leaves_no_notice_and_enqueues_nothing(departure, published):
    d = departure
    case = _ready_to_confirm(d)
    case_id, colleague_before = case.id, _assignments_of(d.colleague.id)
    published.clear()
    written = plan.confirm(case, actor=d.admin)
    assert written == len(d.guardians) + 1
    count, rows = _notice_rows(case_id)
    assert count == written and len(rows) == written  # inside the transaction they are there ...
    assert published == []  # ... and nothing is enqueued before the commit
    db.session.rollback()
    db.session.commit()  # a later commit must not dispatch the rolled-back rows either
    assert _notice_rows(case_id) == (0, [])
    assert published == []
    case = db.session.get(DepartureCase, case_id)
    assert case.status == CaseStatus.HANDOVER and case.reassigned_at is None
    assert _assignments_of(d.colleague.id) == colleague_before  # the plan was not applied either


def test_a_failure_after_the_notices_were_written_rolls_them_back_with_the_rest(departure, published, monkeypatch):
    d = departure
    case = _ready_to_confirm(d)
    case_id = case.id
    published.clear()
    real = notices.write_notices

    def write_then_fail(case, *, actor):
        real(case, actor=actor)
        raise InvalidTransition("something went wrong at the last step")

    monkeypatch.setattr(notices, "write_notices", write_then_fail)
    with pytest.raises(InvalidTransition):
        plan.confirm(case, actor=d.admin)
    db.session.rollback()  # what every caller does on a DomainError
    db.session.commit()
    assert _notice_rows(case_id) == (0, [])
    assert published == []
    assert db.session.get(DepartureCase, case_id).status == CaseStatus.HANDOVER


def test_a_committed_confirmation_enqueues_each_notice_once_after_the_commit(departure, published):
    """The positive control of the two tests above."""
    d = departure
    case = _ready_to_confirm(d)
    published.clear()
    written = plan.confirm(case, actor=d.admin)
    assert published == []
    db.session.commit()
    _count, rows = _notice_rows(case.id)
    assert len(rows) == written
    assert sorted(i for i, _countdown in published) == sorted(r.id for r in rows)


def test_redis_down_at_the_confirmation_commits_and_the_sweep_hands_the_notices_out_later(
        app, departure, broker_down, monkeypatch, caplog):
    d = departure
    case = _ready_to_confirm(d)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        written = plan.confirm(case, actor=d.admin)
        db.session.commit()  # the broker is away: the commit must neither fail nor hang
        elapsed = time.monotonic() - started
    assert elapsed < 10, f"the confirmation waited {elapsed:.1f}s for a broker that is down"
    assert "the sweep will pick it up" in caplog.text
    db.session.refresh(case)
    assert case.status == CaseStatus.REASSIGNED
    count, rows = _notice_rows(case.id)
    assert count == written and len(rows) == written
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    assert notices.delivery_counts(case)["pending"] == written
    assert not notices.all_dispatched(case)

    calls: list[int] = []  # the broker is back: beat's sweep publishes the waiting rows
    monkeypatch.setattr(outbox, "publish", lambda notification_id, countdown=None: calls.append(notification_id))
    monkeypatch.setattr(outbox, "publish_chunk", lambda ids, countdown=None: calls.extend(ids))
    assert tasks.sweep_pending.run(grace_seconds=0) >= written
    assert {r.id for r in rows} <= set(calls)
    assert len([i for i in calls if i in {r.id for r in rows}]) == written  # each once


def test_redis_down_the_confirm_request_still_succeeds(app, client, departure, broker_down, monkeypatch):
    """The same through the page: the admin's POST is answered with the deliveries page, not an error."""
    d = departure
    case = _ready_to_confirm(d)
    factories.log_in(client, d.admin)
    started = time.monotonic()
    response = client.post(f"/departures/{case.id}/plan/confirm", data={"version": str(case.version)})
    elapsed = time.monotonic() - started
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith(f"/departures/{case.id}/deliveries")
    assert elapsed < 10, f"the request waited {elapsed:.1f}s for a broker that is down"
    count, rows = _notice_rows(case.id)
    assert count == len(d.guardians) + 1 and {r.status for r in rows} == {"pending"}
    assert db.session.get(DepartureCase, case.id).status == CaseStatus.REASSIGNED

    calls: list[int] = []
    monkeypatch.setattr(outbox, "publish", lambda notification_id, countdown=None: calls.append(notification_id))
    monkeypatch.setattr(outbox, "publish_chunk", lambda ids, countdown=None: calls.extend(ids))
    tasks.sweep_pending.run(grace_seconds=0)
    assert sorted(i for i in calls if i in {r.id for r in rows}) == sorted(r.id for r in rows)
