"""`python -m app.core.devrun` (what `make run` starts): gunicorn, a Celery worker and Celery beat.

Each runs as a child process from this virtualenv; their output lines are prefixed with the
process name. Ctrl-C or SIGTERM stops all three cleanly; if one dies the others are stopped and
the launcher exits non-zero.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

STOP_TIMEOUT = 20.0  # seconds a process gets to finish its work after SIGTERM before it is killed
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class ProcessSpec:
    """One child process: a short name for the output prefix and its command line."""

    name: str
    argv: tuple[str, ...]


def venv_bin() -> Path:
    """The directory of this interpreter (the virtualenv's bin/, symlinks not resolved)."""
    return Path(sys.executable).parent


def build_commands(host: str, port: int, *, bin_dir: Path, instance_dir: Path) -> list[ProcessSpec]:
    """The three processes of the embedded default: web, worker and beat."""
    return [
        ProcessSpec("web", (
            str(bin_dir / "gunicorn"), "wsgi:app",
            "--bind", f"{host}:{port}", "--workers", "2",
            "--access-logfile", "-", "--graceful-timeout", "15",
        )),
        ProcessSpec("worker", (
            str(bin_dir / "celery"), "-A", "wsgi:celery", "worker", "--loglevel=info", "--concurrency=2",
        )),
        ProcessSpec("beat", (
            str(bin_dir / "celery"), "-A", "wsgi:celery", "beat",
            "--schedule", str(instance_dir / "celerybeat-schedule"), "--loglevel=info",
        )),
    ]


class Supervisor:
    """Starts the children, prefixes their output, and stops them all when asked or when one dies."""

    def __init__(self, specs: list[ProcessSpec], *, out: TextIO = sys.stdout, env: dict | None = None,
                 cwd: str | Path | None = None, stop_timeout: float = STOP_TIMEOUT):
        self.specs = specs
        self.out = out
        self.env = env
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.processes: dict[str, subprocess.Popen] = {}
        self._pumps: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._width = max((len(spec.name) for spec in specs), default=0)

    def say(self, name: str, line: str) -> None:
        """Print one line with the name of the process it came from."""
        with self._lock:
            self.out.write(f"{name:<{self._width}} | {line.rstrip()}\n")
            self.out.flush()

    def request_stop(self, *_args) -> None:
        """Signal handler: ask the main loop to stop everything."""
        self._stop_requested.set()

    def start(self) -> None:
        """Start every child in its own session, with a thread that copies its output line by line."""
        for spec in self.specs:
            process = subprocess.Popen(  # noqa: S603 (argv is built from our own constants)
                list(spec.argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, text=True, encoding="utf-8", errors="replace", bufsize=1,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
            )
            self.processes[spec.name] = process
            pump = threading.Thread(target=self._pump, args=(spec.name, process), daemon=True)
            pump.start()
            self._pumps.append(pump)
            self.say("run", f"started {spec.name} (pid {process.pid})")

    def _pump(self, name: str, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self.say(name, line)

    def first_exited(self) -> tuple[str, int] | None:
        """The name and exit code of a child that has ended, if any."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def wait(self, on_tick: Callable[[], None] | None = None) -> int:
        """Run until a stop is requested (exit 0) or a child ends (exit non-zero); then stop the rest."""
        status = 0
        while True:
            if self._stop_requested.is_set():
                self.say("run", "stopping (interrupted)")
                break
            exited = self.first_exited()
            if exited is not None:
                name, code = exited
                self.say("run", f"{name} exited with code {code}; stopping the others")
                status = code or 1
                break
            if on_tick is not None:
                on_tick()
            time.sleep(POLL_INTERVAL)
        self.stop()
        return status

    def stop(self) -> None:
        """SIGTERM every child still running, wait for them, SIGKILL whatever is left of their groups."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("run", f"{name} did not stop within {self.stop_timeout:.0f}s; killing it")
                self._kill_group(process)
        for pump in self._pumps:
            pump.join(timeout=5)
        for name, process in self.processes.items():
            self.say("run", f"{name} stopped (exit code {process.returncode})")

    @staticmethod
    def _kill_group(process: subprocess.Popen) -> None:
        """Kill the process group we created for a child that is still running (its leader not yet reaped)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()


def port_open(host: str, port: int) -> bool:
    """True once something accepts connections on host:port (the web server is up)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def banner(host: str, port: int) -> str:
    """The address and the demo logins, read from the database by app.school.demo."""
    from app import create_app
    from app.school import demo

    try:
        app = create_app()
        with app.app_context():
            logins = demo.login_text()
    except Exception as exc:  # the servers run on; only the greeting lacks the logins
        logins = f"(could not read the demo logins: {exc})"
    url = f"http://{host}:{port}/"
    rule = "=" * 72
    return f"{rule}\nStaffroom is running at {url}   (Ctrl-C stops web, worker and beat)\n\n{logins}\n{rule}"


def main() -> int:
    """Run web, worker and beat until Ctrl-C/SIGTERM (exit 0) or until one of them ends (exit non-zero)."""
    from config import INSTANCE_DIR

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STAFFROOM_ENV": os.environ.get("STAFFROOM_ENV", "development")}
    root = Path(__file__).resolve().parent.parent.parent
    supervisor = Supervisor(build_commands(host, port, bin_dir=venv_bin(), instance_dir=INSTANCE_DIR),
                            env=env, cwd=root)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    supervisor.start()
    announced = False

    def announce_when_listening() -> None:
        nonlocal announced
        if not announced and port_open(host, port):
            announced = True
            text = banner(host, port)
            for line in text.splitlines():
                supervisor.say("run", line)

    return supervisor.wait(on_tick=announce_when_listening)


if __name__ == "__main__":
    sys.exit(main())
