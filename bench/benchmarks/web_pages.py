"""Page latencies at district scale: 20 concurrent admins on gunicorn (DESIGN.md: p95 ≤ 150 ms, zero errors)."""
from __future__ import annotations

import random
import re
from collections.abc import Callable

from bench.context import Context
from bench.registry import Figure, benchmark
from bench.web import PageRequest, run_load

PAGE_TARGET = 0.150
BASELINE_SECONDS = 3.0
LIST_PAGE_SIZE = 25  # app.school.staff.views.manage.PER_PAGE
STAFF_LINK = re.compile(r'href="/staff/\d+')


def measure_pages(ctx: Context, name: str, pick: Callable[[random.Random], PageRequest], *,
                  target: float = PAGE_TARGET, notes: list[str] | None = None) -> list[Figure]:
    """A one-user baseline, then every logged-in user loading pages from `pick`; a figure for each.

    Later benchmarks of other pages call this with their own `pick`.
    """
    users = ctx.web_users()
    opts = ctx.options
    single = run_load(users[:1], pick, duration=min(BASELINE_SECONDS, opts.duration), warmup=0.5, seed=opts.seed)
    result = run_load(users, pick, duration=opts.duration, warmup=opts.warmup, seed=opts.seed, think=opts.think)
    pause = f", {opts.think:g} s mean pause between requests" if opts.think else ", no pause between requests"
    extra = [f"{len(users)} users{pause}, {opts.duration:g} s measured after {opts.warmup:g} s warm-up, "
             f"{result.throughput:.0f} requests/s"]
    extra += [f"{count} × {reason}" for reason, count in (result.reasons + single.reasons).most_common(5)]
    return [
        Figure.from_samples(f"{name} (1 user)", single.samples, errors=single.errors),
        Figure.from_samples(f"{name} ({len(users)} users)", result.samples, target=target, errors=result.errors,
                            notes=extra + list(notes or [])),
    ]


@benchmark("web: login", order=20)
def login(ctx: Context) -> list[Figure]:
    """Starts the server and logs the bench admins in (the pages below reuse these sessions)."""
    ctx.web_users()
    ctx.login_figure.notes.append(ctx.server().description)
    return [ctx.login_figure]


@benchmark("web: dashboard", order=21)
def dashboard(ctx: Context) -> list[Figure]:
    """The admin dashboard (the district admin sees all 50 schools listed)."""
    return measure_pages(ctx, "web: dashboard", lambda rng: PageRequest("/", "<code class=\"small\">BS01</code>"))


@benchmark("web: staff list", order=22)
def staff_list(ctx: Context) -> list[Figure]:
    """Pages of the district-wide list (mostly the first 20, some deep ones), a school filter, a name search."""
    name = "web: staff list /staff/"
    if not ctx.route_exists("/staff/"):
        return [Figure.unavailable(name, target=PAGE_TARGET)]
    schools = ctx.scalars("SELECT id FROM org_units WHERE kind = 'school' ORDER BY id")
    families = ctx.scalars("SELECT DISTINCT family_name FROM staff_members ORDER BY family_name LIMIT 20")
    current = ctx.scalars("SELECT COUNT(*) FROM staff_members WHERE status != 'departed'")[0]
    last_page = max(21, current // LIST_PAGE_SIZE)

    def pick(rng: random.Random) -> PageRequest:
        draw = rng.random()
        if draw < 0.5:
            return PageRequest(f"/staff/?page={rng.randint(1, 20)}", STAFF_LINK)
        if draw < 0.6:
            return PageRequest(f"/staff/?page={rng.randint(21, last_page)}", STAFF_LINK)
        if draw < 0.85:
            return PageRequest(f"/staff/?school={rng.choice(schools)}&page={rng.randint(1, 3)}", STAFF_LINK)
        return PageRequest(f"/staff/?q={rng.choice(families)}", STAFF_LINK)

    return measure_pages(ctx, name, pick)


@benchmark("web: staff profile", order=23)
def staff_profile(ctx: Context) -> list[Figure]:
    """Profiles of random staff members (teachers with assignments, heads, on-notice and departed staff)."""
    name = "web: staff profile /staff/<id>"
    if not ctx.route_exists("/staff/1"):
        return [Figure.unavailable(name, target=PAGE_TARGET)]
    numbers = dict(ctx.rows("SELECT id, employee_number FROM staff_members ORDER BY id"))
    chosen = random.Random(ctx.options.seed).sample(sorted(numbers), min(500, len(numbers)))
    return measure_pages(ctx, name, lambda rng: PageRequest(f"/staff/{(i := rng.choice(chosen))}", numbers[i]),
                         notes=[f"{len(chosen)} different profiles, each must show its employee number"])
