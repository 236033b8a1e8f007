"""Offboarding at district scale (issue 6): a departing teacher's reassignment confirmed, then every parent notice
dispatched by one real Celery worker through an SMS gateway stub on loopback.

For each sample a different teacher of a different school is given classes until their guardians number ≈ 800
(the generated classes have 40 students and ~72 guardians each, so ~11 classes; their own classes count too);
the affected guardians are set to prefer SMS so that every notice crosses the gateway. This set-up is written with
plain SQL and is not timed. Then, through the services: the admin files the resignation, the head approves, the
handover starts, the best-ranked colleague who has room is chosen for every assignment (with an override reason
when they lack the credential), and

- `plan.confirm` + commit is timed: every assignment ends and restarts with its new teacher, every guardian's
  notice and outbox rows are written, and the commit publishes the dispatch messages to Redis (chunks of 50 rows),
  as in production (target ≤ 1 s);
- dispatch: ONE `celery worker` process (prefork pool of one, production's Celery settings, Redis broker, a
  private queue) delivers the notices over HTTP to the gateway stub (tests/stubs/sms_gateway.py) served by this
  process; notices per second from the start of the commit to the last `sent_at` (target ≥ 200/s);
- exactly once: the gateway counts requests per idempotency key (duplicates must be 0); at the end every notice
  is enqueued once more (a re-run, a second press) and must reach the gateway 0 more times.

Needs Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/13) and PostgreSQL or SQLite; the cases it makes are
kept, so run it on a database of its own, e.g. `python -m bench --database
postgresql://postgres@127.0.0.1/staffroom_bench_offboarding --only offboarding` (add `--reuse` after the first run).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.context import Context
from bench.registry import Figure, benchmark
from bench.settings import OUT_DIR, ROOT

CONFIRM_TARGET = 1.0
RATE_TARGET = 200.0  # notices per second with one worker
SAMPLES = int(os.environ.get("BENCH_OFFBOARDING_SAMPLES", "5"))
POOL = os.environ.get("BENCH_OFFBOARDING_POOL", "solo")  # one process: solo, or prefork with a pool of one
GUARDIANS_WANTED = 800
READY_TIMEOUT = 60.0
DRAIN_TIMEOUT = 120.0
GATEWAY_TOKEN = "bench-sms-token"  # noqa: S105 (a loopback stub's token)
NAME_CONFIRM = "offboarding: plan.confirm + commit (≈800 guardians)"
NAME_RATE = "offboarding: dispatch time per SMS notice (1 worker)"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


@dataclass
class Sample:
    case_id: int
    school_id: int
    classes: int
    assignments: int
    guardians: int
    notices: int
    sms: int
    confirm: float  # plan.confirm (flushed, not committed)
    commit: float  # the commit, publishing the dispatch tasks
    cpu: float  # CPU seconds of this process in confirm + commit (the database server's work not included)
    dispatch: float | None = None  # from the start of the commit to the last sent_at
    worker_cpu: float | None = None  # CPU seconds the worker spent on this case's notices

    @property
    def total(self) -> float:
        return self.confirm + self.commit

    @property
    def rate(self) -> float | None:
        return self.sms / self.dispatch if self.dispatch else None


# --- the worker and the app that publishes to it ----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Worker:
    """One `celery worker` process (a prefork pool of one) on the bench database and the private queue."""

    def __init__(self, env: dict, queue: str, log_path: Path):
        self.env, self.queue, self.log_path = env, queue, log_path
        self.name = f"bench-offboarding-{secrets.token_hex(4)}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "bench.offboarding_worker:celery", "worker",
                   "--pool", POOL, "--concurrency", "1", "--queues", self.queue, "--hostname",
                   f"{self.name}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                   "--without-heartbeat"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker process and its pool so far (from /proc)."""
        if self.proc is None:
            return 0.0
        total = 0
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        children = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in children:
            try:
                cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes()
            except OSError:
                continue
            if self.queue.encode() in cmdline:
                os.kill(pid, signal.SIGKILL)
        self.proc = None


@contextmanager
def _publishing_app(url: str, queue: str):
    """The bench app with Celery on Redis and publishing on commit; the process's Celery state is put back."""
    from celery import _state as celery_state

    from bench.database import _logging_kept, dispose
    from bench.offboarding_worker import build_app

    current, default = celery_state.get_current_app(), celery_state.default_app
    with _logging_kept():
        app = build_app(url, REDIS_URL, queue)
        try:
            yield app
        finally:
            dispose(app)
            current.set_current()
            celery_state.set_default_app(default)


def _wait(predicate, timeout: float, what: str, worker: Worker):
    from app.extensions import db

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        db.session.rollback()  # no transaction (on SQLite: no write lock) is held while sleeping
        if value:
            return value
        if not worker.alive():
            raise RuntimeError(f"the worker exited while waiting for {what} (log: {worker.log_path})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what} (log: {worker.log_path})")
        time.sleep(0.1)  # the dispatch time is read from sent_at: polling only needs to notice the end


def _canary(app, worker: Worker) -> None:
    from app.core.health import WorkerHeartbeat
    from app.extensions import db

    nonce = secrets.token_hex(8)
    app.extensions["celery"].send_task("core.canary", args=[nonce, worker.name], queue=worker.queue)
    _wait(lambda: getattr(db.session.get(WorkerHeartbeat, worker.name), "nonce", None) == nonce, READY_TIMEOUT,
          "the worker to answer a canary", worker)


# --- set-up (not timed) -----------------------------------------------------------------------------------------


def _guardians_by_class(school_id: int) -> dict[int, set[int]]:
    from app.extensions import db

    rows = db.session.execute(sa.text(
        "SELECT e.class_id, sg.guardian_id FROM enrollments e JOIN student_guardians sg ON sg.student_id = "
        "e.student_id JOIN school_classes c ON c.id = e.class_id WHERE c.school_id = :s AND e.ends_on IS NULL"),
        {"s": school_id})
    found: dict[int, set[int]] = {}
    for class_id, guardian_id in rows:
        found.setdefault(class_id, set()).add(guardian_id)
    return found


def _departing_teacher(rng, school_id: int, used: set[int]):
    """An active teacher of the school with an account and classes, given classes until ≈ 800 guardians."""
    from app.extensions import db
    from app.school.staff.models import StaffMember

    ids = [i for i in db.session.scalars(sa.text(
        "SELECT DISTINCT s.id FROM staff_members s JOIN assignments a ON a.staff_id = s.id AND a.ends_on IS NULL "
        "AND a.starts_on <= CURRENT_DATE WHERE s.school_id = :s AND s.status = 'active' AND s.user_id IS NOT NULL "
        "ORDER BY s.id"), {"s": school_id})
        if i not in used]
    staff = db.session.get(StaffMember, rng.choice(ids))
    by_class = _guardians_by_class(school_id)
    own = set(db.session.scalars(sa.text("SELECT class_id FROM assignments WHERE staff_id = :t AND ends_on IS NULL "
                                         "AND starts_on <= CURRENT_DATE"), {"t": staff.id}))
    guardians = set().union(*(by_class.get(c, set()) for c in own))
    others = [c for c in sorted(by_class) if c not in own]
    rng.shuffle(others)
    moved = []
    for class_id in others:
        if len(guardians) >= GUARDIANS_WANTED:
            break
        assignment_id = db.session.scalar(sa.text(
            "SELECT id FROM assignments WHERE class_id = :c AND role = 'subject' AND ends_on IS NULL "
            "AND starts_on <= CURRENT_DATE ORDER BY weekly_periods, id LIMIT 1"), {"c": class_id})
        if assignment_id is None:
            continue
        moved.append(assignment_id)
        own.add(class_id)
        guardians |= by_class[class_id]
    if moved:
        db.session.execute(sa.text("UPDATE assignments SET staff_id = :t WHERE id IN :ids")
                           .bindparams(sa.bindparam("ids", expanding=True)), {"t": staff.id, "ids": moved})
    db.session.execute(sa.text("UPDATE guardians SET preferred_channel = 'sms' WHERE id IN :ids AND phone IS NOT "
                               "NULL").bindparams(sa.bindparam("ids", expanding=True)), {"ids": sorted(guardians)})
    db.session.commit()
    return staff, len(own)


def _open_case(staff, admin):
    """Resignation filed, approved by a head of the school, handover started, a replacement chosen per line."""
    from app.extensions import db
    from app.general.auth.models import Role
    from app.general.contracts.services.common import admins_of
    from app.school.offboarding.services import cases, plan
    from app.school.staff.queries import local_today

    head = admins_of(staff.scope_unit, roles=(Role.HEAD,))[0]
    notice = cases.notice_for(staff, "resignation", local_today(), cases.labour_contract(staff))
    case = cases.submit(staff, kind="resignation", last_working_day=max(notice.earliest, local_today() + timedelta(
        days=1)), actor=admin)
    cases.approve(case, actor=head)
    cases.start_handover(case, actor=admin)
    db.session.commit()
    given: dict[int, int] = {}  # periods handed to each colleague so far (the lines were ranked before)
    for line in plan.lines(case, shown=1000):
        periods = line.assignment.weekly_periods
        room = [c for c in line.candidates if c.free and c.spare - given.get(c.staff.id, 0) >= periods]
        best = room[0] if room else line.candidates[0]
        given[best.staff.id] = given.get(best.staff.id, 0) + periods
        plan.choose(case, line.assignment, best.staff, actor=admin,
                    override_reason=None if best.qualified else "bench: interim until a qualified teacher starts")
    db.session.commit()
    return case


def _sms_rows(case_id: int) -> sa.Select:
    from app.general.notifications.models import Notification

    return sa.select(Notification).where(Notification.idempotency_key.like(f"departure:{case_id}:guardian:%"),
                                         Notification.channel == "sms")


def _one_case(rng, school_id: int, used: set[int], admin, worker: Worker) -> Sample:
    from app.core.models import utcnow
    from app.extensions import db
    from app.general.notifications.models import Notification, Status
    from app.school.offboarding.services import plan

    staff, classes = _departing_teacher(rng, school_id, used)
    used.add(staff.id)
    case = _open_case(staff, admin)
    assignments = len(case.plan)
    worker_cpu = worker.cpu_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    written = plan.confirm(case, actor=admin)
    confirmed = time.perf_counter()
    wall = utcnow()
    db.session.commit()
    committed = time.perf_counter()
    cpu = time.process_time() - cpu
    sms = db.session.scalar(sa.select(sa.func.count()).select_from(_sms_rows(case.id).subquery()))
    notices = db.session.scalar(sa.text("SELECT COUNT(*) FROM notifications WHERE idempotency_key LIKE :k"),
                                {"k": f"departure:{case.id}:guardian:%"})
    sample = Sample(case.id, school_id, classes, assignments, written, notices, sms, confirmed - started,
                    committed - confirmed, cpu)

    def done() -> bool:
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(_sms_rows(case.id).where(
            Notification.status.in_([Status.PENDING, Status.SENDING])).subquery()))
        return waiting == 0

    _wait(done, DRAIN_TIMEOUT, f"case {case.id}'s notices to go out", worker)
    last = db.session.scalar(sa.select(sa.func.max(Notification.sent_at)).where(
        Notification.idempotency_key.like(f"departure:{case.id}:guardian:%"), Notification.channel == "sms"))
    if last is not None and last.tzinfo is None:
        wall = wall.replace(tzinfo=None)
    sample.dispatch = (last - wall).total_seconds() if last is not None else None
    sample.worker_cpu = worker.cpu_seconds() - worker_cpu
    return sample


def _queue_length(queue: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def _replay(app, case_ids: list[int], worker: Worker, gateway) -> tuple[int, int]:
    """Every SMS notice of the bench's cases enqueued once more: (enqueued, requests that reached the gateway)."""
    from app.extensions import db
    from app.general.notifications import outbox

    ids = []
    for case_id in case_ids:
        ids += [row.id for row in db.session.scalars(_sms_rows(case_id))]
    before = len(gateway.state.requests)
    outbox.enqueue(ids)
    _wait(lambda: _queue_length(worker.queue) == 0, DRAIN_TIMEOUT, "the replayed tasks to be taken", worker)
    time.sleep(1.0)  # the last task taken finishes
    return len(ids), len(gateway.state.requests) - before


def _cleanup_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(queue)
    finally:
        client.close()


@benchmark("offboarding: reassignment and parent notices", order=60)
def offboarding(ctx: Context) -> list[Figure]:
    from app.extensions import db
    from app.general.auth.models import User
    from tests.stubs.sms_gateway import SmsGateway

    try:
        _queue_length("bench-probe")
    except Exception as error:  # no Redis: nothing to measure the worker with
        return [Figure.unavailable(NAME_CONFIRM, f"failed: Redis at {REDIS_URL}: {type(error).__name__}")]
    queue = f"bench-offboarding-{secrets.token_hex(4)}"
    rng = ctx.random("offboarding")
    samples: list[Sample] = []
    OUT_DIR.mkdir(parents=True, exist_ok=True)  # bench/out/ is not in a fresh clone
    log_path = OUT_DIR / "offboarding-worker.log"
    with SmsGateway(GATEWAY_TOKEN) as gateway, _publishing_app(ctx.url, queue) as app:
        env = {**os.environ, "BENCH_DATABASE_URL": ctx.url, "BENCH_BROKER_URL": REDIS_URL, "BENCH_QUEUE": queue,
               "BENCH_SMS_URL": gateway.url, "BENCH_SMS_TOKEN": GATEWAY_TOKEN, "PYTHONPATH": str(ROOT)}
        worker = Worker(env, queue, log_path)
        worker.start()
        try:
            with app.app_context():
                _canary(app, worker)
                admin = db.session.scalar(sa.select(User).where(User.email.like("bench-admin-%"))
                                          .order_by(User.id).limit(1))
                schools = list(db.session.scalars(sa.text("SELECT id FROM org_units WHERE kind = 'school' "
                                                          "ORDER BY id")))
                used: set[int] = set()
                for school_id in rng.sample(schools, min(SAMPLES, len(schools))):
                    sample = _one_case(rng, school_id, used, admin, worker)
                    samples.append(sample)
                    print(f"  case {sample.case_id}: {sample.classes} classes, {sample.assignments} assignments, "
                          f"{sample.guardians} guardians, confirm {sample.confirm * 1000:.0f} ms + commit "
                          f"{sample.commit * 1000:.0f} ms (CPU {sample.cpu * 1000:.0f} ms); {sample.sms} SMS in "
                          f"{sample.dispatch:.2f} s ({sample.rate:.0f}/s; worker CPU "
                          f"{sample.worker_cpu / sample.sms * 1000:.1f} ms a notice)", flush=True)
                replayed, replay_requests = _replay(app, [s.case_id for s in samples], worker, gateway)
        finally:
            worker.stop()
            _cleanup_queue(queue)
        keys = Counter(gateway.state.keys_requested())
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    return _figures(samples, keys, duplicates, replayed, replay_requests, len(gateway.state.requests))


def _median(values) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _figures(samples: list[Sample], keys: Counter, duplicates: int, replayed: int, replay_requests: int,
             requests: int) -> list[Figure]:
    sms_total = sum(s.sms for s in samples)
    totals = [s.total for s in samples]
    rates = [s.rate for s in samples if s.rate]
    overall = sms_total / sum(s.dispatch for s in samples if s.dispatch)
    worker_cpu = sum(s.worker_cpu or 0 for s in samples) / sms_total
    size = (f"{len(samples)} teachers of different schools, {min(s.classes for s in samples)}–"
            f"{max(s.classes for s in samples)} classes ({min(s.assignments for s in samples)}–"
            f"{max(s.assignments for s in samples)} assignments), {min(s.guardians for s in samples)}–"
            f"{max(s.guardians for s in samples)} guardians each")
    return [
        Figure.from_samples(NAME_CONFIRM, totals, target=CONFIRM_TARGET, measure="max", notes=[
            size, f"p50 {_median(totals) * 1000:.0f} ms, max {max(totals) * 1000:.0f} ms; confirm (flush) median "
            f"{_median(s.confirm for s in samples) * 1000:.0f} ms, commit (publishing the dispatch chunks to Redis) "
            f"median {_median(s.commit for s in samples) * 1000:.0f} ms; CPU of this process median "
            f"{_median(s.cpu for s in samples) * 1000:.0f} ms (the database server's not included)"]),
        Figure.from_samples(NAME_RATE, [s.dispatch / s.sms for s in samples if s.dispatch and s.sms],
                            target=1 / RATE_TARGET, measure="max", errors=duplicates + replay_requests, notes=[
            f"{sms_total} SMS through the loopback gateway stub by one celery worker ({POOL} pool, Redis): "
            f"{overall:.0f} notices/s overall, per case {min(rates):.0f}–{max(rates):.0f}/s (target ≥ "
            f"{RATE_TARGET:.0f}/s); from the start of the commit to the last sent_at",
            f"the worker's own CPU: {worker_cpu * 1000:.1f} ms a notice (≈ {1 / worker_cpu:.0f}/s if it had a core "
            "to itself; the database server's and the gateway's work not included)" if worker_cpu else
            "the worker's CPU time could not be read",
            f"gateway: {requests} requests for {len(keys)} idempotency keys, duplicates {duplicates}; every notice "
            f"enqueued again afterwards ({replayed} tasks): {replay_requests} more requests"]),
    ]
