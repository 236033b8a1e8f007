"""`python -m bench` (`make bench`): generate or reuse the district, run every registered benchmark, print figures.

Figures are printed, never asserted; the exit status is non-zero only when the bench itself could
not run (no database, generation failed).
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback

from bench.settings import choose_database, prepare_environment


def parse_args(argv: list[str] | None):
    from bench.context import Options
    from bench.generate import add_arguments

    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--reuse", action="store_true", help="use the existing bench database as it is")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only benchmarks whose name contains TEXT (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and stop")
    parser.add_argument("--duration", type=float, default=defaults.duration, help="measured seconds per web page")
    parser.add_argument("--warmup", type=float, default=defaults.warmup)
    parser.add_argument("--users", type=int, default=defaults.users, help="concurrent web users")
    parser.add_argument("--think", type=float, default=defaults.think,
                        help="mean seconds each web user pauses between requests, each pause drawn between "
                             "0.5 and 1.5 times it (default 0: back to back)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="threads per gunicorn worker")
    parser.add_argument("--http", action="store_true", help="serve plain HTTP (SESSION_COOKIE_SECURE=false)")
    parser.add_argument("--import-runs", type=int, default=defaults.import_runs)
    return parser.parse_args(argv)


def _options(args):
    from bench.context import Options

    return Options(duration=args.duration, warmup=args.warmup, users=args.users, think=args.think, workers=args.workers,
                   threads=args.threads, https=not args.http, import_runs=args.import_runs, seed=args.seed)


def _run(benchmarks, ctx) -> list:
    from bench.registry import Figure

    figures = []
    for bench in benchmarks:
        started = time.perf_counter()
        print(f"… {bench.name}", flush=True)
        try:
            figures += bench.func(ctx)
        except Exception as error:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            figures.append(Figure(bench.name, status=f"failed: {type(error).__name__}: {str(error)[:200]}"))
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return figures


def machine_line(ctx) -> str:
    """CPUs, load and database version: figures from a busy 2-CPU box and a quiet server are not alike."""
    import os
    import platform

    try:
        version = ctx.scalars("SHOW server_version")[0] if ctx.url.startswith("postgresql") else (
            "SQLite " + ctx.scalars("SELECT sqlite_version()")[0])
    except Exception as error:  # the line is informative only
        version = f"unknown ({type(error).__name__})"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}; "
            f"database {version} (web server, database and load generator share this machine)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()
    from bench import report
    from bench.context import Context
    from bench.generate import redact, run_from_args
    from bench.registry import registered

    benchmarks = [b for b in registered() if not args.only or any(t in b.name for t in args.only)]
    if args.list:
        print("\n".join(b.name for b in benchmarks))
        return 0
    url = choose_database(args.database)
    if args.reuse:
        print(f"reusing {redact(url)}")
    else:
        print("== generating the district ==", flush=True)
        print("\n".join(run_from_args(args).lines()), flush=True)
    print("\n== benchmarks ==", flush=True)
    ctx = Context(url, _options(args))
    try:
        machine = machine_line(ctx)
        figures = _run(benchmarks, ctx)
    finally:
        ctx.close()
    print("\n== figures ==")
    print(machine)
    print(report.table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
