"""A departure's parent notices through Redis to a real `celery worker` subprocess (checks 21 and 25-27 for the
departure flow): the confirmation of the reassignment plan commits, and every guardian's notice reaches the
loopback SMS gateway or SMTP sink exactly once — when the admin presses "confirm" twice, and when the worker is
killed (SIGKILL, by PID) in the middle of the deliveries and restarted. The beat task `offboarding.tick`, run by
the worker, then moves the case to "parents notified".

Every row here is really committed (the worker is another process); the scene deletes what it wrote afterwards
(audit events stay: that table refuses DELETE).
"""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, DomainError, InvalidTransition
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.auth.models import User
from app.general.notifications import tasks
from app.general.notifications.backends import delivery_key
from app.general.notifications.models import Notification
from app.school.offboarding.models import CaseStatus, DepartureCase, ParentNotice
from app.school.offboarding.services import access, cases, notices, plan
from app.school.staff.queries import local_today
from tests import factories

# PostgreSQL only: the scene commits, and the audit log it leaves (append-only, never deleted) names its cases and
# assignments by id; SQLite hands deleted ids out again, so later tests' cases would inherit that history.
pytestmark = [pytest.mark.redis, pytest.mark.postgres]

TIMEOUT = 60
SKIP = {AuditEvent.__tablename__}  # append-only


class Scene:
    """A school with a departing teacher of Maths in two classes (and homeroom of one), a colleague who takes
    everything over, and the guardians of the classes' students: some by SMS, some by e-mail, one with a child in
    each class. The case is approved and in handover, with the plan chosen, so that confirming it is one press."""

    def __init__(self, committed_db, before: dict[str, int]):
        self._before = before
        tag = committed_db.prefix[-8:]
        district = factories.make_unit("district", "Departure District", code=f"D-{tag}")
        self.school = factories.make_unit("school", "Departure School", district, code=f"S-{tag}")
        maths = factories.make_subject(f"M{tag}", f"Maths {tag}")
        self.admin = factories.make_user("admin", unit=self.school, email=f"{committed_db.prefix}-admin@example.test")
        self.head = factories.make_user("head", unit=self.school, email=f"{committed_db.prefix}-head@example.test")
        self.leaving_user = factories.make_user("teacher", unit=self.school,
                                                email=f"{committed_db.prefix}-leaving@example.test")
        self.leaving = factories.make_staff(self.school, user=self.leaving_user, family_name="Wang",
                                            given_name="Fang", subjects=[maths])
        self.colleague = factories.make_staff(self.school, family_name="Chen", given_name="Jing", subjects=[maths],
                                              max_weekly_periods=30)
        classes = [factories.make_class(self.school, name=f"7({n}) {tag}") for n in (2, 3)]
        for school_class in classes:
            factories.make_assignment(school_class, self.leaving, subject=maths, weekly_periods=5)
        factories.make_assignment(classes[0], self.leaving, weekly_periods=2)
        self.guardian_ids = []
        for n in range(4):
            for c, school_class in enumerate(classes):
                student = factories.make_student(self.school, school_class=school_class, given_name=f"Kid{n}{c}")
                by_sms = (n + c) % 2 == 0
                guardian = factories.make_guardian(
                    student, phone=f"+8613900000{n}{c}" if by_sms else None,
                    preferred_channel="sms" if by_sms else "email", locale="en" if n % 2 else "zh")
                self.guardian_ids.append(guardian.id)
        twins = [factories.make_student(self.school, school_class=c, given_name=f"Twin{i}")
                 for i, c in enumerate(classes)]
        self.guardian_ids.append(factories.make_guardian(*twins, phone="+8613800000009", preferred_channel="sms",
                                                         locale="en").id)
        today = local_today()
        case = cases.submit(self.leaving, kind="resignation", last_working_day=today + timedelta(days=60),
                            actor=self.leaving_user, given_on=today)
        cases.approve(case, actor=self.head)
        cases.start_handover(case, actor=self.admin)
        for line in plan.lines(case):
            plan.choose(case, line.assignment, self.colleague, actor=self.admin)
        db.session.commit()
        self.case_id = case.id
        self.admin_id = self.admin.id

    # --- reading what the worker did (a fresh transaction each time) ----------------------------------------

    def case(self) -> DepartureCase:
        db.session.rollback()
        return db.session.scalar(sa.select(DepartureCase).where(DepartureCase.id == self.case_id)
                                 .execution_options(populate_existing=True))

    def deliveries(self) -> list[tuple[str, str, str]]:
        """(idempotency key, channel, status) of every outbox row of the case's notices."""
        db.session.rollback()
        rows = db.session.execute(sa.select(Notification.idempotency_key, Notification.channel, Notification.status)
                                  .where(Notification.idempotency_key.like(f"departure:{self.case_id}:guardian:%"))
                                  .order_by(Notification.idempotency_key)).all()
        db.session.rollback()
        return [tuple(row) for row in rows]

    def all_sent(self) -> bool:
        rows = self.deliveries()
        return len(rows) == len(self.guardian_ids) and all(status == "sent" for _k, _c, status in rows)

    def quiet(self) -> bool:
        db.session.rollback()
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.id > self._before["notifications"], Notification.status.in_(["pending", "sending"])))
        db.session.rollback()
        return waiting == 0

    def notices(self) -> int:
        db.session.rollback()
        return db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice).where(
            ParentNotice.case_id == self.case_id))

    def confirm(self, expected_version: int | None = None) -> int:
        """The admin presses "confirm" on a page that showed `expected_version` (default: the current one), in
        the view's transaction: commit, or roll back on a DomainError."""
        case = self.case()
        version = case.version if expected_version is None else expected_version
        try:
            written = plan.confirm(case, actor=db.session.get(User, self.admin_id), expected_version=version)
            db.session.commit()
        except DomainError:
            db.session.rollback()
            raise
        return written


def _delete_since(before: dict[str, int]) -> None:
    """Delete every row written since the marks were taken (newest tables first), audit events excepted."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        if table.name in SKIP:
            continue
        if table.name in before:
            ids = sorted(db.session.scalars(sa.select(table.c.id).where(table.c.id > before[table.name])),
                         reverse=True)  # one by one, newest first: a school before its district (SQLite's
            for row_id in ids:          # RESTRICT acts at once, row by row)
                db.session.execute(sa.delete(table).where(table.c.id == row_id))
        elif table.name == "staff_subjects":
            db.session.execute(sa.delete(table).where(table.c.staff_id > before["staff_members"]))
    db.session.commit()


def _high_water_marks() -> dict[str, int]:
    """The highest id of every table now: what the scene writes lies above."""
    db.session.rollback()
    marks = {}
    for table in db.metadata.sorted_tables:
        if "id" in table.c and isinstance(table.c.id.type, sa.Integer) and table.name not in SKIP:
            marks[table.name] = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    return marks


def _forget_earlier_runs(scene, sms_gateway, smtp_sink) -> None:
    """On SQLite a deleted case's id comes back, and so do its notices' keys: drop what the stand-ins kept of an
    earlier test's case with the same keys (PostgreSQL's sequences never repeat an id)."""
    keys = {delivery_key(f"departure:{scene.case_id}:guardian:{g}:{channel}")
            for g in scene.guardian_ids for channel in ("sms", "email")}
    with sms_gateway.state.lock:
        sms_gateway.state.requests[:] = [r for r in sms_gateway.state.requests if r.get("idempotency_key") not in keys]
        for key in keys:
            sms_gateway.state.accepted.pop(key, None)
    with smtp_sink.state.lock:
        smtp_sink.state.received[:] = [r for r in smtp_sink.state.received if r.key not in keys]
        for key in keys:
            smtp_sink.state.delivered.pop(key, None)


@pytest.fixture
def scene(worker, committed_db, sms_gateway, smtp_sink):
    before = _high_water_marks()
    try:
        data = Scene(committed_db, before)
        _forget_earlier_runs(data, sms_gateway, smtp_sink)
        # The teacher's and heads' messages of the earlier steps go out first: the worker is idle when a test
        # begins (on SQLite a write during a test's read would make its own write fail, not wait).
        worker.wait_for(data.quiet, TIMEOUT, "the earlier steps' messages to be delivered")
        yield data
    finally:
        _delete_since(before)


def _stub_counts(scene, sms_gateway, smtp_sink) -> dict[str, int]:
    """Per idempotency key of the case: how many times the gateway or sink took it (accepted / received)."""
    accepted = list(sms_gateway.state.accepted)
    received = smtp_sink.state.keys_seen()
    counts = {}
    for key, channel, _status in scene.deliveries():
        counts[key] = (accepted if channel == "sms" else received).count(delivery_key(key))
    return counts


def _channels(scene) -> set[str]:
    return {channel for _key, channel, _status in scene.deliveries()}


def test_every_guardians_notice_reaches_the_gateway_or_the_sink_exactly_once(worker, scene, sms_gateway,
                                                                              smtp_sink):
    assert scene.confirm() == len(scene.guardian_ids)
    worker.wait_for(scene.all_sent, TIMEOUT, "every notice to be sent")
    assert _channels(scene) == {"sms", "email"}
    counts = _stub_counts(scene, sms_gateway, smtp_sink)
    assert len(counts) == len(scene.guardian_ids) and set(counts.values()) == {1}, counts
    requested = sms_gateway.state.keys_requested()
    sms_keys = [delivery_key(k) for k, channel, _s in scene.deliveries() if channel == "sms"]
    assert all(requested.count(key) == 1 for key in sms_keys)  # not even a duplicate request
    twin = [k for k, _c, _s in scene.deliveries() if k.startswith(f"departure:{scene.case_id}:guardian:"
                                                                  f"{scene.guardian_ids[-1]}:")]
    assert twin == [f"departure:{scene.case_id}:guardian:{scene.guardian_ids[-1]}:sms"]  # one notice, two children
    message = sms_gateway.state.accepted[delivery_key(twin[0])]
    assert message["to"] == "+8613800000009" and "Twin0" in message["text"] and "Twin1" in message["text"]


def _each_notice_went_out_once(worker, scene, sms_gateway, smtp_sink) -> None:
    worker.wait_for(scene.all_sent, TIMEOUT, "every notice to be sent")
    assert scene.notices() == len(scene.guardian_ids)
    assert len(scene.deliveries()) == len(scene.guardian_ids)
    worker.canary(timeout=TIMEOUT)  # one process, one queue: anything enqueued twice has run by now
    time.sleep(1)
    counts = _stub_counts(scene, sms_gateway, smtp_sink)
    assert len(counts) == len(scene.guardian_ids) and set(counts.values()) == {1}, counts
    assert scene.case().status == CaseStatus.REASSIGNED


def test_confirm_pressed_twice_in_a_row_confirms_once_and_each_notice_goes_out_once(worker, scene, sms_gateway,
                                                                                    smtp_sink):
    """Two admins have the plan open (the same version); both press confirm, one after the other."""
    shown = scene.case().version
    assert scene.confirm(expected_version=shown) == len(scene.guardian_ids)
    with pytest.raises(Conflict):
        scene.confirm(expected_version=shown)  # the second admin's page is stale
    with pytest.raises(InvalidTransition):
        scene.confirm()  # and a press from a freshly loaded page: the plan is no longer open
    _each_notice_went_out_once(worker, scene, sms_gateway, smtp_sink)


@pytest.mark.postgres  # two writers at the same instant: PostgreSQL's row lock makes the second wait, then refuse
def test_confirm_pressed_twice_at_once_confirms_once_and_each_notice_goes_out_once(worker, scene, integration_app,
                                                                                   sms_gateway, smtp_sink):
    barrier, outcomes = threading.Barrier(2), []

    def press():
        with integration_app.app_context():
            try:
                case = scene.case()
                barrier.wait(timeout=10)
                outcomes.append(("confirmed", plan.confirm(case, actor=db.session.get(User, scene.admin_id),
                                                           expected_version=case.version)))
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                outcomes.append(("refused", type(error)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcome for outcome, _detail in outcomes) == ["confirmed", "refused"], outcomes
    assert [detail for outcome, detail in outcomes if outcome == "refused"][0] in (Conflict, InvalidTransition)
    _each_notice_went_out_once(worker, scene, sms_gateway, smtp_sink)


def test_a_worker_killed_mid_dispatch_and_restarted_delivers_every_notice_once(worker, scene, integration_app,
                                                                              sms_gateway, smtp_sink):
    """F2 for a departure: the provider holds one SMS, the worker dies (SIGKILL by PID) with the rest waiting;
    after a restart and beat's sweep every notice is sent, and the delivery key makes the re-sent one count once."""
    sms_gateway.state.mode = "hang"
    written = scene.confirm()
    assert sms_gateway.state.hanging.wait(TIMEOUT), "no SMS reached the gateway"
    statuses = [status for _k, _c, status in scene.deliveries()]
    assert statuses.count("sending") == 1 and statuses.count("sent") < written  # mid-dispatch
    worker.kill()

    db.session.rollback()  # no read snapshot kept across the worker's writes (SQLite cannot write from a stale one)
    access.tick()  # the beat's pass meanwhile: notices are still on their way, so the case waits
    assert scene.case().status == CaseStatus.REASSIGNED

    sms_gateway.state.mode = "ok"
    sms_gateway.state.release.set()
    worker.start()  # waits for a canary round-trip
    time.sleep(integration_app.config["NOTIFY_STALE_SENDING_SECONDS"] + 0.5)
    db.session.rollback()
    tasks.sweep_pending.run(grace_seconds=0)  # what beat does every minute: the killed claim is re-sent
    worker.wait_for(scene.all_sent, TIMEOUT, "every notice to be sent after the restart")
    counts = _stub_counts(scene, sms_gateway, smtp_sink)
    assert len(counts) == written and set(counts.values()) == {1}, counts
    received = smtp_sink.state.keys_seen()
    assert all(received.count(delivery_key(k)) == 1 for k, channel, _s in scene.deliveries() if channel == "email")


def test_the_beat_task_on_the_worker_moves_the_case_to_parents_notified(worker, scene, integration_app):
    scene.confirm()
    worker.wait_for(scene.all_sent, TIMEOUT, "every notice to be sent")
    case = scene.case()
    assert case.status == CaseStatus.REASSIGNED and notices.all_dispatched(case)  # nobody has moved it yet
    integration_app.extensions["celery"].send_task("offboarding.tick", queue=worker.queue)
    worker.wait_for(lambda: scene.case().status == CaseStatus.PARENTS_NOTIFIED, TIMEOUT,
                    "the tick to mark the parents notified")
    case = scene.case()
    assert case.parents_notified_at is not None and case.access_revoked_at is None  # the last day is weeks away
    assert notices.delivery_counts(case) == {"pending": 0, "sent": len(scene.guardian_ids), "failed": 0,
                                             "acknowledged": 0, "total": len(scene.guardian_ids)}
