"""`python -m bench.generate`: a fresh database filled with a seeded, deterministic district.

The schema comes from the committed migrations (`flask db upgrade` semantics); rows are built in
memory as tuples with explicit ids and written with PostgreSQL COPY (or Core executemany on
SQLite). Every account shares one argon2id hash of BENCH_PASSWORD, made once with a salt derived
from the seed (hashing per user would take hours, and a fixed salt keeps the rows deterministic).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from bench.datagen import FULL, SMALL, Dataset, Scale, academic_year_start
from bench.settings import BENCH_PASSWORD, choose_database, prepare_environment

DEFAULT_SEED = 2026


@dataclass
class Report:
    url: str
    counts: dict[str, int]
    build_seconds: dict[str, float]
    write_seconds: dict[str, float]
    migrate_seconds: float
    total_seconds: float
    unfilled_posts: int
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"database: {redact(self.url)}", f"schema (migrations): {self.migrate_seconds:6.2f} s",
               "building rows in memory:"]
        out += [f"  {name:<20} {secs:6.2f} s" for name, secs in self.build_seconds.items()]
        out += ["writing:", f"  {'table':<20} {'rows':>9} {'seconds':>8} {'rows/s':>9}"]
        for name, secs in self.write_seconds.items():
            rows = self.counts.get(name, 0)
            rate = f"{rows / secs:9.0f}" if rows and secs else " " * 9
            out.append(f"  {name:<20} {rows:>9} {secs:8.2f} {rate}")
        out.append(f"  {'total':<20} {sum(self.counts.values()):>9} {sum(self.write_seconds.values()):8.2f}")
        out.append(f"teaching posts left empty (no teacher with room): {self.unfilled_posts}")
        out += self.notes
        out.append(f"generated in {self.total_seconds:.1f} s")
        return out


def redact(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def bench_password_hash(seed: int) -> str:
    """One argon2id hash of BENCH_PASSWORD with the app's parameters and a salt derived from the seed."""
    from argon2 import PasswordHasher
    from argon2.low_level import hash_secret

    params = PasswordHasher()  # the same defaults as app.general.auth.passwords, so no rehash at login
    salt = hashlib.sha256(f"bench-salt|{seed}".encode()).digest()[: params.salt_len]
    return hash_secret(BENCH_PASSWORD.encode(), salt, time_cost=params.time_cost, memory_cost=params.memory_cost,
                       parallelism=params.parallelism, hash_len=params.hash_len, type=params.type).decode()


def build_dataset(scale: Scale, seed: int, year_start: date) -> tuple[Dataset, dict[str, float], int]:
    """Every row of the district, with the time each section took and the teaching posts left empty."""
    from bench.datagen.classes import build_classes
    from bench.datagen.credentials import build_credentials
    from bench.datagen.families import build_families
    from bench.datagen.people import build_people

    timings: dict[str, float] = {}

    def timed(name: str, step: Callable):
        started = time.perf_counter()
        value = step()
        timings[name] = time.perf_counter() - started
        return value

    ds = Dataset(seed=seed, scale=scale, year_start=year_start, password_hash=timed("password hash (once)",
                                                                                   lambda: bench_password_hash(seed)))
    people = timed("org, accounts, staff", lambda: build_people(ds))
    classes = timed("classes, assignments", lambda: build_classes(ds, people))
    timed("students, families", lambda: build_families(ds, people, classes))
    timed("credentials, training", lambda: build_credentials(ds, people))
    return ds, timings, classes.unfilled


def _record_generation(app, report: Report, seed: int, scale: Scale) -> None:
    """One audit event saying where the data came from (the chain starts here)."""
    from app.extensions import db
    from app.general.audit.services import SYSTEM, record

    with app.app_context():
        record("bench.generated", actor=SYSTEM,
               changes={"seed": seed, "scale": dataclasses.asdict(scale), "counts": report.counts})
        db.session.commit()


def _ensure_empty(app) -> None:
    import sqlalchemy as sa

    from app.extensions import db

    with app.app_context():
        if db.session.scalar(sa.text("SELECT COUNT(*) FROM org_units")):
            raise SystemExit("the database already holds data: run with --fresh (the default) to recreate it")


def generate(url: str, *, scale: Scale = FULL, seed: int = DEFAULT_SEED, year_start: date | None = None,
             fresh: bool = True, allow_any_name: bool = False) -> Report:
    """Recreate the database at `url` (when `fresh`), migrate it, fill it, and say how long each part took."""
    from bench import database, loader

    started = time.perf_counter()
    year_start = year_start or academic_year_start(date.today())
    if fresh:
        database.recreate(url, allow_any_name=allow_any_name)
    with database.temporary_app(url) as app:
        migrate_started = time.perf_counter()
        database.migrate(app)
        migrate_seconds = time.perf_counter() - migrate_started
        if not fresh:
            _ensure_empty(app)
        dataset, build_seconds, unfilled = build_dataset(scale, seed, year_start)
        from app.extensions import db

        with app.app_context():
            written = loader.write(db.engine, db.metadata, dataset)
        report = Report(url, dataset.counts(), build_seconds, {w.table: w.seconds for w in written}, migrate_seconds,
                        0.0, unfilled)
        _record_generation(app, report, seed, scale)
    report.total_seconds = time.perf_counter() - started
    return report


def parse_scale(args: argparse.Namespace) -> Scale:
    scale = SMALL if args.scale == "small" else FULL
    overrides = {name: getattr(args, name) for name in ("schools", "staff", "classes", "students", "guardians",
                                                  "bench_admins") if getattr(args, name) is not None}
    return dataclasses.replace(scale, **overrides)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's options (shared with `python -m bench`)."""
    parser.add_argument("--database", help="SQLAlchemy URL (default: DATABASE_URL, else PostgreSQL "
                                           "staffroom_bench on 127.0.0.1 when reachable, else bench/out/*.sqlite)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    for name in ("schools", "staff", "classes", "students", "guardians", "bench_admins"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name,
                            help=f"override the number of {name.replace('_', ' ')}")
    parser.add_argument("--academic-year", type=int, metavar="YYYY",
                        help="first calendar year of the academic year (default: the current one)")
    parser.add_argument("--fresh", action=argparse.BooleanOptionalAction, default=True,
                        help="drop and recreate the database first (default on)")
    parser.add_argument("--i-mean-it", action="store_true", dest="allow_any_name",
                        help="allow recreating a database whose name does not contain 'bench'")


def run_from_args(args: argparse.Namespace) -> Report:
    url = choose_database(args.database)
    year = date(args.academic_year, 9, 1) if args.academic_year else None
    return generate(url, scale=parse_scale(args), seed=args.seed, year_start=year, fresh=args.fresh,
                    allow_any_name=args.allow_any_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    prepare_environment()
    from bench.database import UnsafeDatabase

    try:
        report = run_from_args(args)
    except UnsafeDatabase as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
