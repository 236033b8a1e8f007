"""Fixtures for real-worker tests: a Redis database claimed for this run, loopback SMTP and SMS stand-ins,
the application in-process (writes and enqueues), a `celery worker` subprocess, and committed data.

These tests commit for real (a worker in another process must see the rows), so they never use the
rolled-back `db` fixture: `committed_db` works in the app context and deletes its own rows afterwards
(audit events stay: that table refuses DELETE).
"""
from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import _state as celery_state

from app.core.health import WorkerHeartbeat
from app.extensions import db
from app.general.auth.models import User
from app.general.notifications.models import Notification
from tests import factories
from tests.integration.worker import CeleryWorker
from tests.integration.worker_app import build_app
from tests.stubs.sms_gateway import SmsGateway
from tests.stubs.smtp_sink import SmtpSink

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
LOCK_KEY = "staffroom:test-run"
SMS_TOKEN = "integration-sms-token"


@pytest.fixture(scope="session")
def redis_db():
    """A Redis database number nobody else is using, held for this run and emptied afterwards."""
    import redis

    token = secrets.token_hex(8)
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
        if client.set(LOCK_KEY, token, nx=True, ex=6 * 3600):
            if client.dbsize() == 1:
                try:
                    yield number
                finally:
                    if client.get(LOCK_KEY) == token.encode():
                        client.flushdb()
                    client.close()
                return
            client.delete(LOCK_KEY)
        client.close()
    pytest.fail("no free Redis database (1-15) for this test run")


@pytest.fixture(scope="session")
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def sms_gateway():
    with SmsGateway(SMS_TOKEN) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def integration_settings(app, redis_db, smtp_sink, sms_gateway) -> dict:
    """Configuration shared by the in-process app and the worker: broker, queue, loopback backends, fast retries."""
    return {
        "broker_url": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        "queue": f"staffroom-test-{secrets.token_hex(6)}",
        "overrides": {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],  # the database the `app` fixture built
            "MAIL_BACKEND": "tests.stubs.backends:PoisonAwareSmtp",
            "MAIL_SERVER": smtp_sink.host, "MAIL_PORT": smtp_sink.port, "MAIL_TIMEOUT": 10,
            "SMS_BACKEND": "http", "SMS_GATEWAY_URL": sms_gateway.url, "SMS_GATEWAY_TOKEN": SMS_TOKEN,
            "SMS_TIMEOUT": 30,
            "NOTIFY_MAX_ATTEMPTS": 3, "NOTIFY_BACKOFF_SECONDS": 1,
            # Short, so that a test need not wait ten minutes for the sweep to reclaim a killed worker's row.
            "NOTIFY_STALE_SENDING_SECONDS": 2,
        },
    }


@contextlib.contextmanager
def celery_current(celery_app):
    """Make `celery_app` the one shared tasks (`canary.delay`) resolve to, for the duration of the block."""
    with _celery_current_app_kept():
        celery_app.set_current()
        yield celery_app


@contextlib.contextmanager
def _celery_current_app_kept():
    """create_app makes its Celery app the current/default one; put the previous one back afterwards."""
    previous_current, previous_default = celery_state.get_current_app(), celery_state.default_app
    try:
        yield
    finally:
        previous_current.set_current()
        celery_state.set_default_app(previous_default)


def _build(settings: dict, broker_url: str | None = None):
    return build_app(broker_url or settings["broker_url"], settings["queue"], **settings["overrides"])


def _close(application) -> None:
    application.extensions["celery"].close()
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def integration_app(app, integration_settings):
    """The web side, in-process: same database as the worker (the `app` fixture created the schema), Redis broker."""
    with _celery_current_app_kept():  # other tests' shared tasks must not resolve to this app
        application = _build(integration_settings)
    yield application
    _close(application)


@pytest.fixture
def app_with_broker_down(integration_settings):
    """The web side with its broker pointing at a closed port: Redis is down as far as it knows."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with _celery_current_app_kept():
        application = _build(integration_settings, broker_url=f"redis://127.0.0.1:{closed_port}/0")
    yield application
    _close(application)


@pytest.fixture(scope="session")
def celery_worker_process(integration_app, integration_settings, tmp_path_factory):
    """A real `celery worker` subprocess, ready (it answered a canary) before any test uses it."""
    log_path = Path(tmp_path_factory.mktemp("celery-worker")) / "worker.log"
    worker = CeleryWorker(integration_app, broker_url=integration_settings["broker_url"],
                          queue=integration_settings["queue"], overrides=integration_settings["overrides"],
                          log_path=log_path)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker(celery_worker_process, sms_gateway, smtp_sink):
    """The running worker, with stand-ins reset to well-behaved; restarted if a test left it dead."""
    _reset_stubs(sms_gateway, smtp_sink)
    if celery_worker_process.proc is None:
        celery_worker_process.start()
    yield celery_worker_process
    _reset_stubs(sms_gateway, smtp_sink)
    if celery_worker_process.proc is None:
        celery_worker_process.start()


def _reset_stubs(gateway: SmsGateway, sink: SmtpSink) -> None:
    gateway.state.mode, sink.state.mode = "ok", "ok"
    gateway.state.script.clear()
    gateway.state.release.set()  # let any request still held by a "hang" go
    gateway.state.release.clear()
    gateway.state.hanging.clear()


class CommittedData:
    """Writes that are really committed, remembered so that they can be deleted at the end of the test."""

    def __init__(self):
        self.prefix = f"it-{secrets.token_hex(4)}"
        self.user_ids: list[int] = []
        self.heartbeats: list[str] = ["cli"]

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def user(self, role: str = "parent", **kwargs) -> User:
        user = factories.make_user(role, email=f"{self.prefix}-{len(self.user_ids)}@example.test", **kwargs)
        self.user_ids.append(user.id)
        return user

    def notification(self, key: str) -> Notification | None:
        """The row as the worker left it; the read transaction is ended so no stale snapshot is kept."""
        db.session.rollback()
        row = db.session.scalar(
            sa.select(Notification).where(Notification.idempotency_key == key).execution_options(populate_existing=True)
        )
        if row is not None:
            db.session.expunge(row)
        db.session.rollback()
        return row

    def cleanup(self) -> None:
        db.session.rollback()
        db.session.execute(sa.delete(Notification).where(Notification.idempotency_key.startswith(self.prefix)))
        if self.user_ids:
            db.session.execute(sa.delete(User).where(User.id.in_(self.user_ids)))
        db.session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.name.in_(self.heartbeats)))
        db.session.commit()


@pytest.fixture
def committed_db(integration_app):
    """The integration app's context with a real, committing session; the test's rows are deleted afterwards."""
    with integration_app.app_context():
        data = CommittedData()
        try:
            yield data
        finally:
            data.cleanup()
            db.session.remove()


@pytest.fixture
def private_redis():
    """A Redis server of our own (so that the test may pause it), killed by PID afterwards."""
    import shutil
    import signal
    import socket
    import subprocess
    import time

    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
                    client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("the private redis-server did not start")
                time.sleep(0.1)
        yield port, proc
    finally:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        proc.wait(timeout=10)


@pytest.fixture
def app_on_private_redis(private_redis, integration_settings):
    """The web side with its broker on the private Redis server."""
    port, _proc = private_redis
    with _celery_current_app_kept():
        application = _build(integration_settings, broker_url=f"redis://127.0.0.1:{port}/0")
    yield application
    _close(application)
