"""Benchmark modules, run by `python -m bench` in the order of their `@benchmark(order=…)`.

To add one: write bench/benchmarks/<topic>.py with functions decorated `@benchmark(name, order=…)`
that take the Context (bench/context.py) and return a list of Figures, then list the module here.
"""
from __future__ import annotations

import importlib

MODULES = (
    "bench.benchmarks.staff_import",  # issue 3: 10,000-row staff sheet
    "bench.benchmarks.web_pages",  # issue 3: dashboard, staff list and profile at 20 concurrent users
    "bench.benchmarks.credentials",  # issue 4: reminder scan over ~40,000 credentials, compliance dashboard
    "bench.benchmarks.teaching",  # issue 5: district pay run vs the bare read, ledger generation, hours pages
    "bench.benchmarks.offboarding",  # issue 6: reassignment confirmed for ≈800 guardians, notices through 1 worker
)


def load_all() -> None:
    for name in MODULES:
        importlib.import_module(name)
