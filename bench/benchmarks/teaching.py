"""Teaching hours and pay at district scale (issue 5): ~155,000 timetable slots and a month of ~650,000 lessons.

- the district's pay for the month: `payruns.compute` over all schools (read + pandas, nothing written), and
  `calculate_run` of every school's run one after another, each committed (lines written, audited), ≤ 5 s;
- the bare read of the same lesson rows with psycopg, and each pay figure as a ratio of it (goal ≤ 3×);
- ledger generation of one school's term: a first run (from an empty ledger) and a second (adds nothing);
- the hours pages: the admins' overview of a school or department, and the teacher's own "My hours" (teachers log
  in with their password), plus the hours functions in-process.

The teaching rows are made on first use (bench/datagen/teaching.py) and kept: run this bench on a database of its
own, e.g. `python -m bench --database postgresql://postgres@127.0.0.1/staffroom_bench_teach --only teaching`.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

from bench.context import Context
from bench.registry import Figure, benchmark
from bench.web import PageRequest

PAY_TARGET = 5.0
RATIO_GOAL = 3.0
PAGE_TARGET = 0.150  # DESIGN.md's list-page p95
REPEATS = 3
HOURS_MARK = 'id="hours"'
MY_HOURS_MARK = 'id="weeks"'


@dataclass
class Facts:
    month: date
    school_ids: list[int]
    lessons: int
    slots: int
    note: str


_FACTS: dict[str, Facts] = {}


def _generate(ctx: Context) -> str:
    """Write the teaching rows (COPY) when the database has none; says what was done."""
    from app.extensions import db
    from bench import loader
    from bench.datagen.teaching import build_teaching

    with ctx.app.app_context():
        started = time.perf_counter()
        with db.engine.connect() as conn:
            teaching = build_teaching(conn, ctx.options.seed)
        built = time.perf_counter() - started
        written = loader.write(db.engine, db.metadata, teaching.dataset)
    seconds = sum(w.seconds for w in written)
    counts = teaching.dataset.counts()
    return (f"teaching rows generated: {counts['timetable_slots']} slots, {counts['lessons']} lessons, "
            f"{counts['absences']} absences, {counts['bonus_awards']} awards ({teaching.unplaced} weekly periods "
            f"found no free place); built in {built:.1f} s, written in {seconds:.1f} s")


def facts(ctx: Context) -> Facts:
    """The teaching data (made once) and its month."""
    if ctx.url in _FACTS:
        return _FACTS[ctx.url]
    note = "teaching rows reused"
    if not ctx.scalars("SELECT COUNT(*) FROM terms")[0]:
        note = _generate(ctx)
        print(f"  {note}", flush=True)
    from bench.datagen.teaching import month_of

    start = ctx.scalars("SELECT MIN(starts_on) FROM terms")[0]
    month = month_of(start)
    found = Facts(month, ctx.scalars("SELECT id FROM org_units WHERE kind = 'school' ORDER BY id"),
                  ctx.scalars("SELECT COUNT(*) FROM lessons WHERE day >= :f AND day < :l", f=month,
                              l=(month + timedelta(days=32)).replace(day=1))[0],
                  ctx.scalars("SELECT COUNT(*) FROM timetable_slots")[0], note)
    _FACTS[ctx.url] = found
    return found


def _bare_read(ctx: Context, month: date) -> float:
    """Seconds to fetch the month's taught lessons fully with psycopg (no pandas, no ORM)."""
    from app.extensions import db
    from app.school.teaching.calendar import month_bounds

    first, last = month_bounds(month)
    with ctx.app.app_context():
        raw = db.engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute("SELECT taught_by_id, school_id, day, kind, periods, class_id FROM lessons "
                               "WHERE day BETWEEN %s AND %s AND kind <> 'cancelled'", (first, last))
                rows = cursor.fetchall()
                seconds = time.perf_counter() - started
        finally:
            raw.close()
    assert rows
    return seconds


def _compute(ctx: Context, found: Facts) -> tuple[float, float, int]:
    """(load seconds, pandas seconds, lines) of the whole district's month, nothing written."""
    from app.extensions import db
    from app.school.teaching import engine
    from app.school.teaching.payinputs import load_month

    with ctx.app.app_context():
        started = time.perf_counter()
        inputs = load_month(found.school_ids, found.month)
        loaded = time.perf_counter()
        lines = engine.calculate(inputs)
        done = time.perf_counter()
        db.session.rollback()
    return loaded - started, done - loaded, len(lines)


def _calculate_all(ctx: Context, found: Facts) -> tuple[float, int, int]:
    """Seconds to calculate (and commit) every school's open run of the month; (seconds, lines, lessons)."""
    from app.extensions import db
    from app.general.audit.services import SYSTEM
    from app.general.org.models import OrgUnit
    from app.school.teaching.models import PayRun
    from app.school.teaching.services import payruns

    with ctx.app.app_context():
        for school_id in found.school_ids:  # opening is its own step (a button), not timed
            payruns.open_run(db.session.get(OrgUnit, school_id), found.month, SYSTEM)
        db.session.commit()
        run_ids = [payruns.latest_run(school_id, found.month).id for school_id in found.school_ids]
        db.session.commit()
        lines = lessons = 0
        started = time.perf_counter()
        for run_id in run_ids:
            result = payruns.calculate_run(db.session.get(PayRun, run_id), SYSTEM)
            db.session.commit()
            lines, lessons = lines + result.lines, lessons + result.lessons
        return time.perf_counter() - started, lines, lessons


def _calculate_month(ctx: Context, found: Facts) -> tuple[float, int]:
    """Seconds to calculate (and commit) every school's run of the month at once, as the payroll office's
    "Calculate every school" does; (seconds, lines). Approved or locked runs would be skipped: the bench's are open."""
    from app.extensions import db
    from app.general.audit.services import SYSTEM
    from app.general.org.models import OrgUnit
    from app.school.teaching.services import payruns

    with ctx.app.app_context():
        schools = [db.session.get(OrgUnit, school_id) for school_id in found.school_ids]
        started = time.perf_counter()
        done = payruns.calculate_month(schools, found.month, SYSTEM)
        db.session.commit()
        seconds = time.perf_counter() - started
        return seconds, sum(run.line_count for run in done.runs)


@benchmark("teaching: district pay run", order=50)
def pay_run(ctx: Context) -> list[Figure]:
    """The month's pay of all 50 schools against the bare read of the same lessons."""
    found = facts(ctx)
    size = f"{found.lessons} lessons in {found.month:%Y-%m}, {len(found.school_ids)} schools; {found.note}"
    bare = [_bare_read(ctx, found.month) for _n in range(REPEATS)]
    computed = [_compute(ctx, found) for _n in range(REPEATS)]
    runs = [_calculate_all(ctx, found) for _n in range(2)]
    months = [_calculate_month(ctx, found) for _n in range(REPEATS)]
    base = statistics.median(bare)
    compute_total = [load + calc for load, calc, _lines in computed]
    run_total = [seconds for seconds, _lines, _lessons in runs]
    loads, calcs = statistics.median(c[0] for c in computed), statistics.median(c[1] for c in computed)
    return [
        Figure.from_samples("teaching: bare read of the month's lessons (psycopg, fetchall)", bare,
                            measure="median", notes=[size]),
        Figure.from_samples("teaching: pay compute, whole district (load + pandas)", compute_total,
                            target=PAY_TARGET, measure="median",
                            notes=[f"load_month {loads:.2f} s + engine {calcs:.2f} s, {computed[0][2]} lines; "
                                   f"{statistics.median(compute_total) / base:.1f}× the bare read (medians; "
                                   f"goal ≤ {RATIO_GOAL:g}×)"]),
        Figure.from_samples("teaching: pay runs calculated, 50 schools one by one (committed)", run_total,
                            target=PAY_TARGET, measure="max",
                            notes=[f"calculate_run + commit per school: {runs[0][1]} lines, {runs[0][2]} periods; "
                                   f"{statistics.median(run_total) / base:.1f}× the bare read (medians; "
                                   f"goal ≤ {RATIO_GOAL:g}×); "
                                   "the first sample replaced lines from an earlier bench run or made new ones"]),
        Figure.from_samples("teaching: pay runs calculated, every school at once (committed)",
                            [seconds for seconds, _lines in months], target=PAY_TARGET, measure="median",
                            notes=[f"payruns.calculate_month (the pay runs page's \"Calculate every school\"): "
                                   f"{months[0][1]} lines in {len(found.school_ids)} runs; "
                                   f"{statistics.median(s for s, _l in months) / base:.1f}× the bare read (medians; "
                                   f"goal ≤ {RATIO_GOAL:g}×)"]),
    ]


@benchmark("teaching: ledger generation", order=51)
def ledger_generation(ctx: Context) -> list[Figure]:
    """generate_term for the school with the largest timetable: from an empty ledger, then again (adds nothing).
    Everything is rolled back afterwards, so the month's lessons stay as generated."""
    from app.extensions import db
    from app.general.audit.services import SYSTEM
    from app.school.teaching.models import Term
    from app.school.teaching.services import ledger

    facts(ctx)
    term_id, slots = ctx.rows("SELECT term_id, COUNT(*) FROM timetable_slots GROUP BY term_id "
                              "ORDER BY COUNT(*) DESC, term_id LIMIT 1")[0]
    with ctx.app.app_context():
        try:
            term = db.session.get(Term, term_id)
            scope = f"one school's term: {slots} weekly slots, {term.starts_on} – {term.ends_on}"
            db.session.execute(ctx.sql("DELETE FROM lessons WHERE term_id = :t"), {"t": term_id})
            term.generated_at = None  # a first generation fills the whole term
            started = time.perf_counter()
            first = ledger.generate_term(term, SYSTEM)
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            second = ledger.generate_term(term, SYSTEM)
            second_seconds = time.perf_counter() - started
        finally:
            db.session.rollback()
    return [
        Figure.from_samples("teaching: ledger generation, first run", [first_seconds], measure="max",
                            notes=[f"{scope}; {first.added} lessons added (flushed, rolled back: commit not timed)"]),
        Figure.from_samples("teaching: ledger generation, second run", [second_seconds], measure="max",
                            errors=second.added + second.removed + second.moved,
                            notes=[f"added {second.added}, removed {second.removed}, moved {second.moved} (must be 0), "
                                   f"kept {second.kept}"]),
    ]


@benchmark("teaching: hours functions", order=52)
def hours_functions(ctx: Context) -> list[Figure]:
    """app.school.teaching.hours in-process: a teacher's weeks over the term, a school's month overview."""
    from app.extensions import db
    from app.general.org.models import OrgUnit
    from app.school.staff.models import StaffMember
    from app.school.teaching import hours
    from app.school.teaching.calendar import month_bounds

    found = facts(ctx)
    rng = ctx.random("teaching-hours")
    teacher_ids = rng.sample(ctx.scalars("SELECT DISTINCT taught_by_id FROM lessons WHERE taught_by_id IS NOT NULL "
                                         "AND day >= :f", f=found.month), 50)
    start, end = ctx.rows("SELECT MIN(starts_on), MAX(ends_on) FROM terms")[0]
    first, last = month_bounds(found.month)
    mine, overview = [], []
    with ctx.app.app_context():
        for staff_id in teacher_ids:
            staff = db.session.get(StaffMember, staff_id)
            started = time.perf_counter()
            hours.my_hours(staff, start, end)
            mine.append(time.perf_counter() - started)
        for school_id in rng.sample(found.school_ids, 10):
            unit = db.session.get(OrgUnit, school_id)
            started = time.perf_counter()
            hours.department_overview(unit, first, last)
            overview.append(time.perf_counter() - started)
        db.session.rollback()
    return [
        Figure.from_samples("teaching: hours.my_hours (a teacher's term by week)", mine,
                            notes=["50 teachers, in-process, one at a time"]),
        Figure.from_samples("teaching: hours.department_overview (a school's month)", overview,
                            notes=["10 schools, in-process, one at a time"]),
    ]


@benchmark("web: teaching hours overview", order=53)
def hours_page(ctx: Context) -> list[Figure]:
    """The admins' hours overview: a school's or a department's month, sometimes the whole term."""
    from bench.benchmarks.web_pages import measure_pages

    name = "web: hours overview /teaching/hours"
    if not ctx.route_exists("/teaching/hours"):
        return [Figure.unavailable(name, target=PAGE_TARGET)]
    found = facts(ctx)
    month = found.month.strftime("%Y-%m")
    departments = ctx.scalars("SELECT id FROM org_units WHERE kind = 'department' ORDER BY id")
    terms = ctx.rows("SELECT school_id, id FROM terms ORDER BY school_id")

    def pick(rng: random.Random) -> PageRequest:
        draw = rng.random()
        if draw < 0.5:
            return PageRequest(f"/teaching/hours?unit={rng.choice(found.school_ids)}&month={month}", HOURS_MARK)
        if draw < 0.8:
            return PageRequest(f"/teaching/hours?unit={rng.choice(departments)}&month={month}", HOURS_MARK)
        school_id, term_id = rng.choice(terms)
        return PageRequest(f"/teaching/hours?unit={school_id}&term={term_id}", HOURS_MARK)

    return measure_pages(ctx, name, pick, target=PAGE_TARGET, notes=[
        f"{found.lessons} lessons in {month}; 50% a school's month (~200 teachers), 30% a department's month, "
        "20% a school's whole term (only the month is generated)"])


def _teacher_users(ctx: Context, count: int) -> list:
    """`count` teachers with lessons and an account, logged in with their password (teachers have no second
    factor)."""
    from bench.settings import BENCH_PASSWORD
    from bench.web import WebUser

    found = facts(ctx)
    rows = ctx.rows("SELECT u.email, u.display_name FROM users u JOIN staff_members s ON s.user_id = u.id "
                    "WHERE u.is_active AND u.role = 'teacher' "
                    "AND s.id IN (SELECT taught_by_id FROM lessons WHERE day = :d) "
                    "ORDER BY u.id LIMIT :n", d=found.month + timedelta(days=2), n=count)
    server = ctx.server()
    users = []
    for email, display_name in rows:
        user = WebUser(server.base_url, server.verify, email, display_name)
        user.log_in(BENCH_PASSWORD, None, None)
        users.append(user)
    return users


@benchmark("web: my hours", order=54)
def my_hours_page(ctx: Context) -> list[Figure]:
    """A teacher's own hours page: the current term by week (only November has lessons) or one month."""
    from bench.web import run_load

    name = "web: my hours /teaching/my-hours"
    if not ctx.route_exists("/teaching/my-hours"):
        return [Figure.unavailable(name, target=PAGE_TARGET)]
    found = facts(ctx)
    opts = ctx.options
    users = _teacher_users(ctx, opts.users)
    month = found.month.strftime("%Y-%m")

    def pick(rng: random.Random) -> PageRequest:
        if rng.random() < 0.5:
            return PageRequest(f"/teaching/my-hours?month={month}", MY_HOURS_MARK)
        return PageRequest("/teaching/my-hours", MY_HOURS_MARK)

    single = run_load(users[:1], pick, duration=min(5.0, opts.duration), warmup=0.5, seed=opts.seed)
    result = run_load(users, pick, duration=opts.duration, warmup=opts.warmup, seed=opts.seed, think=opts.think)
    notes = [f"{len(users)} teachers logged in (password only), {opts.duration:g} s measured, "
             f"{result.throughput:.0f} requests/s; half the month, half the current term"]
    notes += [f"{count} × {reason}" for reason, count in (result.reasons + single.reasons).most_common(5)]
    return [Figure.from_samples(f"{name} (1 user)", single.samples, errors=single.errors),
            Figure.from_samples(f"{name} ({len(users)} users)", result.samples, target=PAGE_TARGET,
                                errors=result.errors, notes=notes)]
