"""A real `celery worker` subprocess that a test can start, wait for, kill (by PID) and restart."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.health import WorkerHeartbeat
from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc (the prefork pool's processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _is_ours(pid: int, marker: str) -> bool:
    """A PID may be reused once its process exits: only signal a process whose command line names our queue."""
    try:
        return marker in (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


class CeleryWorker:
    """One worker process with a single prefork child, on the test's Redis database and private queue."""

    def __init__(self, app, *, broker_url: str, queue: str, overrides: dict, log_path: Path):
        self.app, self.queue, self.log_path = app, queue, log_path
        self.env = {
            **os.environ,
            "STAFFROOM_ENV": "test",
            "STAFFROOM_TEST_BROKER_URL": broker_url,
            "STAFFROOM_TEST_QUEUE": queue,
            "STAFFROOM_TEST_OVERRIDES": json.dumps(overrides),
            "PYTHONPATH": str(ROOT),
        }
        self.proc: subprocess.Popen | None = None
        self.heartbeat_name = f"it-{secrets.token_hex(6)}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "tests.integration.worker_app:celery", "worker",
            "--pool", "prefork", "--concurrency", "1", "--queues", self.queue,
            "--hostname", f"{self.heartbeat_name}@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]

    def start(self) -> None:
        """Start the worker and wait until it has answered a canary."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- worker log (tail) ---\n{self.log_tail()}", pytrace=False)

    def canary(self, timeout: float = READY_TIMEOUT) -> float:
        """A task round-trip through the broker into the database (check 27); returns the seconds it took."""
        nonce, started = secrets.token_hex(8), time.monotonic()
        self.app.extensions["celery"].send_task("core.canary", args=[nonce, self.heartbeat_name], queue=self.queue)
        self.wait_for(lambda: getattr(db.session.get(WorkerHeartbeat, self.heartbeat_name), "nonce", None) == nonce,
                      timeout, "the worker to answer a canary")
        return time.monotonic() - started

    def wait_ready(self) -> None:
        with self.app.app_context():
            self.canary(READY_TIMEOUT)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str):
        """Poll `predicate` (in a fresh transaction each time) until it is true; fail clearly on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            db.session.rollback()
            result = predicate()
            if result:
                return result
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"the worker exited (code {self.proc.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def children(self) -> list[int]:
        return child_pids(self.proc.pid) if self.proc else []

    def kill_child(self) -> int:
        """SIGKILL the pool process (the one running the task); the worker replaces it."""
        [child] = self.children()
        _kill(child)
        return child

    def wait_for_new_child(self, old: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [pid for pid in self.children() if pid != old]
            if fresh:
                return fresh[0]
            time.sleep(0.1)
        self.fail("the worker did not replace its killed pool process")

    def shutdown(self, sig: int, timeout: float = 30.0) -> None:
        """Send SIGTERM (warm: finish the running task) or SIGQUIT (cold: stop at once); wait for the exit."""
        if self.proc is None:
            return
        children = self.children()
        _kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the worker did not exit within {timeout:.0f}s of signal {sig}")
        for pid in children:
            if _is_ours(pid, self.queue):
                _kill(pid)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole worker: the main process and its pool, each by PID."""
        if self.proc is None:
            return
        children = self.children()
        _kill(self.proc.pid)
        for pid in children:
            if _is_ours(pid, self.queue):
                _kill(pid)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown; SIGKILL (by PID) what has not exited in time."""
        if self.proc is None:
            return
        children = self.children()
        _kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(self.proc.pid)
            self.proc.wait(timeout=10)
        for pid in children:
            if _is_ours(pid, self.queue):
                _kill(pid)
        self.proc = None
