"""Credentials at district scale (~40,000): the daily reminder scan and the compliance dashboard.

DESIGN.md: the scan ≤ 2 s and a second run the same day creates no new notifications; the district-wide
compliance dashboard p95 ≤ 150 ms at 20 users. The scan is timed in-process (as the beat task runs it: the
service, then one commit); what the runs wrote (reminder log, notifications) is removed again afterwards so
that the next bench run measures a first run too.
"""
from __future__ import annotations

import random
import time
from datetime import timedelta

from bench.benchmarks.web_pages import measure_pages
from bench.context import Context
from bench.registry import Figure, benchmark
from bench.web import PageRequest

SCAN_TARGET = 2.0
PAGE_TARGET = 0.150
COMPLIANCE_MARK = 'id="compliance-chart"'


def _highest(ctx: Context, table: str) -> int:
    return ctx.scalars(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0]  # noqa: S608 (our table names)


def _timed_scan(ctx: Context, scan, on) -> tuple[float, int, int]:
    """(seconds, notifications created, reminders logged) of one scan and its commit."""
    from app.extensions import db

    notifications, reminders = _highest(ctx, "notifications"), _highest(ctx, "credential_reminders")
    with ctx.app.app_context():
        started = time.perf_counter()
        scan(on)
        db.session.commit()
        seconds = time.perf_counter() - started
    made = ctx.scalars("SELECT COUNT(*) FROM notifications WHERE id > :n", n=notifications)[0]
    logged = ctx.scalars("SELECT COUNT(*) FROM credential_reminders WHERE id > :n", n=reminders)[0]
    return seconds, made, logged


def _clean_up(ctx: Context, notifications_before: int) -> None:
    """Remove what the scans wrote (bench only): the reminder log and the notifications they queued."""
    from app.extensions import db

    with ctx.app.app_context():
        db.session.execute(ctx.sql("DELETE FROM credential_reminders"))
        db.session.execute(ctx.sql("DELETE FROM notifications WHERE id > :n"), {"n": notifications_before})
        db.session.commit()


@benchmark("credentials: reminder scan", order=40)
def reminder_scan(ctx: Context) -> list[Figure]:
    """The daily scan over every credential, twice on the same day (the second must create nothing)."""
    first_name, second_name = "credentials: reminder scan, first run", "credentials: reminder scan, second run"
    next_name = "credentials: reminder scan, next day"
    from app.school.credentials.services.reminders import send_credential_reminders as scan
    from app.school.staff.queries import local_today

    with ctx.app.app_context():
        on = local_today()
    credentials = ctx.scalars("SELECT COUNT(*) FROM credentials")[0]
    before = _highest(ctx, "notifications")
    _clean_up(ctx, before)
    try:
        first = _timed_scan(ctx, scan, on)
        second = _timed_scan(ctx, scan, on)
        following = _timed_scan(ctx, scan, on + timedelta(days=1))
    finally:
        _clean_up(ctx, before)
    size = f"{credentials} credentials, scan day {on.isoformat()}"
    return [
        Figure.from_samples(first_name, [first[0]], target=SCAN_TARGET, measure="max",
                            notes=[size, f"first run: {first[1]} notifications created, {first[2]} reminders logged"]),
        Figure.from_samples(second_name, [second[0]], target=SCAN_TARGET, measure="max",
                            errors=second[1] + second[2],
                            notes=[f"second run: {second[1]} notifications created (must be 0), "
                                   f"{second[2]} reminders logged"]),
        Figure.from_samples(next_name, [following[0]], target=SCAN_TARGET, measure="max",
                            notes=[f"the day after (a normal day): {following[1]} notifications created, "
                                   f"{following[2]} reminders logged"]),
    ]


@benchmark("web: compliance dashboard", order=26)
def compliance_dashboard(ctx: Context) -> list[Figure]:
    """The district-wide compliance page as a district admin sees it; some requests filter or page the list."""
    name = "web: compliance /credentials/compliance (district)"
    if not ctx.route_exists("/credentials/compliance"):
        return [Figure.unavailable(name, target=PAGE_TARGET)]
    schools = ctx.scalars("SELECT id FROM org_units WHERE kind = 'school' ORDER BY id")
    types = ctx.scalars("SELECT id FROM credential_types WHERE required_for != 'none' ORDER BY id")
    credentials = ctx.scalars("SELECT COUNT(*) FROM credentials")[0]
    staff = ctx.scalars("SELECT COUNT(*) FROM staff_members WHERE status != 'departed'")[0]

    def pick(rng: random.Random) -> PageRequest:
        draw = rng.random()
        if draw < 0.6 or not types:
            return PageRequest("/credentials/compliance", COMPLIANCE_MARK)
        if draw < 0.75:
            return PageRequest(f"/credentials/compliance?page={rng.randint(2, 20)}", COMPLIANCE_MARK)
        if draw < 0.9:
            problem = rng.choice(("missing", "expired", "expiring_30", "expiring_60", "expiring_90"))
            return PageRequest(f"/credentials/compliance?problem={problem}&type={rng.choice(types)}",
                               COMPLIANCE_MARK)
        return PageRequest(f"/credentials/compliance?school={rng.choice(schools)}", COMPLIANCE_MARK)

    return measure_pages(ctx, name, pick, target=PAGE_TARGET, notes=[
        f"{staff} current staff, {credentials} credentials; 60% the whole district's first page, "
        "the rest later pages, problem/type filters or one school"])
