"""The benchmark registry: functions that take a Context and return Figures.

A later issue adds its benchmarks by writing a module under bench/benchmarks/ with functions
decorated `@benchmark(...)` and listing the module in bench/benchmarks/__init__.py:MODULES.
Figures are printed, never asserted: nothing here fails a build.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

NOT_AVAILABLE = "not available yet"


@dataclass
class Figure:
    """One line of the results table. Times are in seconds; `target` applies to the `measure` statistic."""

    name: str
    n: int = 0
    median: float | None = None
    p95: float | None = None
    max: float | None = None
    target: float | None = None
    measure: str = "p95"
    errors: int = 0
    status: str | None = None  # set when there is nothing to measure: "not available yet", "failed: …"
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_samples(cls, name: str, samples: Sequence[float], *, target: float | None = None,
                     measure: str = "p95", errors: int = 0, notes: list[str] | None = None) -> Figure:
        ordered = sorted(samples)
        figure = cls(name, n=len(ordered), target=target, measure=measure, errors=errors, notes=list(notes or []))
        if ordered:
            figure.median = statistics.median(ordered)
            figure.p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
            figure.max = ordered[-1]
        return figure

    @classmethod
    def unavailable(cls, name: str, why: str = NOT_AVAILABLE, *, target: float | None = None) -> Figure:
        return cls(name, target=target, status=why)

    @property
    def verdict(self) -> str:
        """ok / over / errors, or the status when nothing was measured."""
        if self.status:
            return self.status
        if self.errors:
            return "errors"
        if self.target is None:
            return ""
        value = getattr(self, self.measure)
        if value is None:
            return "no data"
        return "ok" if value <= self.target else "over"


@dataclass(frozen=True)
class Benchmark:
    name: str
    func: Callable[..., list[Figure]]
    order: int


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, order: int = 100) -> Callable:
    """Register `func(ctx) -> list[Figure]` under `name`; lower `order` runs first."""

    def decorator(func: Callable[..., list[Figure]]) -> Callable[..., list[Figure]]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = Benchmark(name, func, order)
        return func

    return decorator


def registered() -> list[Benchmark]:
    """Every benchmark of the listed modules, in run order."""
    from bench.benchmarks import load_all

    load_all()
    return sorted(REGISTRY.values(), key=lambda b: (b.order, b.name))
