"""The `make run` launcher: the three commands it builds, and how it supervises its children."""
from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

from app.core import devrun


def test_it_builds_web_worker_and_beat_from_the_virtualenv(tmp_path):
    bin_dir = Path("/venv/bin")
    web, worker, beat = devrun.build_commands("192.0.2.10", 8123, bin_dir=bin_dir, instance_dir=tmp_path)
    assert (web.name, worker.name, beat.name) == ("web", "worker", "beat")
    assert web.argv[:2] == ("/venv/bin/gunicorn", "wsgi:app")
    assert "--bind" in web.argv and web.argv[web.argv.index("--bind") + 1] == "192.0.2.10:8123"
    assert web.argv[web.argv.index("--workers") + 1] == "2"
    assert worker.argv == ("/venv/bin/celery", "-A", "wsgi:celery", "worker", "--loglevel=info", "--concurrency=2")
    assert beat.argv[:4] == ("/venv/bin/celery", "-A", "wsgi:celery", "beat")
    assert beat.argv[beat.argv.index("--schedule") + 1] == str(tmp_path / "celerybeat-schedule")


def test_the_executables_come_from_this_interpreters_directory():
    assert devrun.venv_bin() == Path(sys.executable).parent
    for spec in devrun.build_commands("127.0.0.1", 5000, bin_dir=devrun.venv_bin(), instance_dir=Path("instance")):
        assert Path(spec.argv[0]).exists(), spec.argv[0]


def _python(name: str, code: str) -> devrun.ProcessSpec:
    return devrun.ProcessSpec(name, (sys.executable, "-c", code))


def test_when_one_child_dies_the_others_are_stopped_and_the_exit_is_non_zero():
    out = io.StringIO()
    supervisor = devrun.Supervisor(
        [_python("sleeper", "import time; time.sleep(60)"),
         _python("crasher", "print('bad config'); raise SystemExit(3)")],
        out=out, stop_timeout=10,
    )
    supervisor.start()
    assert supervisor.wait() == 3
    assert all(process.returncode is not None for process in supervisor.processes.values())
    assert "crasher | bad config" in out.getvalue()
    assert "crasher exited with code 3" in out.getvalue()


def test_a_stop_request_ends_every_child_and_exits_zero():
    out = io.StringIO()
    supervisor = devrun.Supervisor(
        [_python("one", "import time; print('ready', flush=True); time.sleep(60)"),
         _python("two", "import time; time.sleep(60)")],
        out=out, stop_timeout=10,
    )
    supervisor.start()
    threading.Timer(0.5, supervisor.request_stop).start()
    assert supervisor.wait() == 0
    assert [p.returncode for p in supervisor.processes.values()] == [-15, -15]  # SIGTERM, not a kill
    assert "one | ready" in out.getvalue()
