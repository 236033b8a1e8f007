"""The results table."""
from __future__ import annotations

from bench.registry import Figure

HEADER = ("benchmark", "n", "median", "p95", "max", "target", "errors", "result")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _target(figure: Figure) -> str:
    if figure.target is None:
        return "-"
    return f"{figure.measure} ≤ {seconds(figure.target)}"


STATUS_WIDTH = 40


def _verdict(figure: Figure) -> str:
    verdict = figure.verdict
    return verdict if len(verdict) <= STATUS_WIDTH else verdict[: STATUS_WIDTH - 1] + "…"


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    return [(f.name, str(f.n) if f.n else "-", seconds(f.median), seconds(f.p95), seconds(f.max), _target(f),
             str(f.errors) if not f.status else "-", _verdict(f)) for f in figures]


def table(figures: list[Figure]) -> str:
    """A fixed-width table, then each figure's notes."""
    body = rows(figures)
    widths = [max(len(r[i]) for r in [HEADER, *body]) for i in range(len(HEADER))]
    align = ["<", ">", ">", ">", ">", ">", ">", "<"]

    def line(cells) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True)).rstrip()

    out = [line(HEADER), line("-" * w for w in widths), *(line(r) for r in body)]
    notes = [f"  {f.name}: {note}" for f in figures
             for note in ([f.status] if f.status and len(f.status) > STATUS_WIDTH else []) + f.notes]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)
