"""Import of a 10,000-row staff sheet through the import framework (DESIGN.md: ≤ 5 s).

The sheet goes the way an admin's file goes: `stage_upload` (read, check every row against the
database, preview) and, once confirmed, `run_job` (what the worker runs for a large file: read,
check, plan, bulk writes, audit, commit). Both are timed, for an .xlsx and a .csv of the same rows.
The 10,000 new people are deleted again after each run so that the district stays at its size.
"""
from __future__ import annotations

import time
from datetime import date, timedelta

from bench.context import Context
from bench.datagen.names import mobile, person
from bench.datagen.people import DEPARTMENTS
from bench.registry import NOT_AVAILABLE, Figure, benchmark
from bench.settings import BENCH_DOMAIN, bench_admin_email

IMPORT_TARGET = 5.0
ROWS = 10_000
PREFIX = "IMP"
FORMAT_BUDGET = 15.0  # seconds of runs per format (at least one run each)


def _framework():
    """(jobs module, StaffImport spec, context_for) or the reason they cannot be used yet."""
    try:
        from app.core.imports import jobs
        from app.school.imports_kinds import context_for
        from app.school.staff.imports import StaffImport
    except ImportError as error:
        return None, f"{NOT_AVAILABLE} ({error.name or error})"
    missing = [name for name in ("stage_upload", "confirm", "run_job") if not hasattr(jobs, name)]
    if missing:
        return None, f"{NOT_AVAILABLE} (app.core.imports.jobs lacks {', '.join(missing)})"
    return (jobs, StaffImport(), context_for), None


def staff_sheet(ctx: Context, spec, rows: int = ROWS) -> tuple[list[str], list[list[str]]]:
    """`rows` new staff members spread over every school, with departments and subjects of that school."""
    rng = ctx.random("staff-import")
    schools = ctx.rows("SELECT id, code FROM org_units WHERE kind = 'school' ORDER BY id")
    departments: dict[int, list[str]] = {}
    for school_id, code in ctx.rows("SELECT parent_id, code FROM org_units WHERE kind = 'department' ORDER BY id"):
        departments.setdefault(school_id, []).append(code)
    subjects = {spec.suffix: spec.subjects for spec in DEPARTMENTS}
    body = []
    for n in range(1, rows + 1):
        school_id, school_code = schools[n % len(schools)]
        department = rng.choice(departments.get(school_id) or [""])
        family, given, _english = person(rng)
        hired = date.today() - timedelta(days=rng.randint(30, 9000))
        values = {
            "school_code": school_code, "department_code": department, "employee_number": f"{PREFIX}{n:05d}",
            "family_name": family, "given_name": given, "email": f"imp{n:05d}@{BENCH_DOMAIN}",
            "phone": mobile(5_000_000 + n), "hired_on": hired.isoformat(), "probation_ends_on": "",
            "max_weekly_periods": str(rng.choice((12, 14, 16, 18))),
            "subjects": ";".join(subjects.get(department.rsplit("-", 1)[-1], ())[:1]),
        }
        body.append([values.get(column.name, column.example) for column in spec.columns])
    return [column.name for column in spec.columns], body


def _remove_imported(ctx: Context) -> None:
    """Delete the people a run imported (bench clean-up only: the app itself never deletes people)."""
    from app.extensions import db

    with ctx.app.app_context():
        db.session.execute(ctx.sql(f"DELETE FROM staff_subjects WHERE staff_id IN "
                                   f"(SELECT id FROM staff_members WHERE employee_number LIKE '{PREFIX}%')"))
        db.session.execute(ctx.sql(f"DELETE FROM staff_members WHERE employee_number LIKE '{PREFIX}%'"))
        db.session.commit()


def _one_run(ctx: Context, framework, data: bytes, filename: str) -> tuple[float, float]:
    """(preview seconds, apply seconds) of one upload → confirm → worker run."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.general.auth.models import User

    jobs, spec, context_for = framework
    with ctx.app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == bench_admin_email(1)))
        started = time.perf_counter()
        job = jobs.stage_upload(spec, data, filename, ctx=context_for(actor))
        db.session.commit()
        preview = time.perf_counter() - started
        if jobs.state(job) != "preview":
            errors = (job.result or {}).get("errors", [])[:3]
            raise RuntimeError(f"the sheet was rejected at preview: {errors}")
        outcome = jobs.confirm(job, token=job.params["token"], spec=spec, ctx=context_for(actor))
        db.session.commit()
        job_id = job.id
        started = time.perf_counter()
        if outcome == "queued":
            outcome = jobs.run_job(job_id, spec_for=lambda _kind: spec, context_for=context_for)
        applied = time.perf_counter() - started
        db.session.remove()
    if outcome != "applied":
        raise RuntimeError(f"the import was not applied: {outcome}")
    return preview, applied


def _figures(fmt: str, previews: list[float], applies: list[float], counted: int) -> list[Figure]:
    note = [f"{counted:,} staff members created per run, then removed again"] if counted else []
    return [
        Figure.from_samples(f"staff import {fmt}: upload + preview", previews, target=IMPORT_TARGET,
                            measure="median"),
        Figure.from_samples(f"staff import {fmt}: apply (worker)", applies, target=IMPORT_TARGET,
                            measure="median", notes=note),
    ]


@benchmark("staff import", order=10)
def staff_import(ctx: Context) -> list[Figure]:
    framework, why = _framework()
    if framework is None:
        return [Figure.unavailable(f"staff import, {ROWS:,} rows", why, target=IMPORT_TARGET)]
    from app.core.spreadsheets import csv_bytes, xlsx_bytes

    header, body = staff_sheet(ctx, framework[1])
    _remove_imported(ctx)
    figures = []
    for fmt, data in (("xlsx", xlsx_bytes(header, body)), ("csv", csv_bytes(header, body))):
        previews, applies, counted = [], [], 0
        budget_end = time.monotonic() + FORMAT_BUDGET
        for _run in range(ctx.options.import_runs):
            try:
                preview, applied = _one_run(ctx, framework, data, f"staff-{ROWS}.{fmt}")
                counted = ctx.scalars(f"SELECT COUNT(*) FROM staff_members WHERE employee_number LIKE '{PREFIX}%'")[0]
            finally:
                _remove_imported(ctx)
            previews.append(preview)
            applies.append(applied)
            if time.monotonic() > budget_end:
                break
        figures += _figures(fmt, previews, applies, counted)
    return figures
