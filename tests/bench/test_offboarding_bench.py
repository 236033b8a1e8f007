"""The offboarding benchmark runs end to end on a tiny district: one case confirmed, its notices dispatched by a
real worker through the gateway stub, none twice, and a replay that reaches the gateway 0 more times."""
from __future__ import annotations

import socket
from datetime import date

import pytest
import sqlalchemy as sa

from bench.datagen import SMALL
from bench.generate import generate


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('bench-offboarding') / 'bench-offb.sqlite'}"
    generate(url, scale=SMALL, seed=3, year_start=date(2026, 9, 1))
    return url


def test_one_case_is_confirmed_and_dispatched_once(generated, monkeypatch):
    from bench.benchmarks import offboarding
    from bench.context import Context, Options

    monkeypatch.setattr(offboarding, "SAMPLES", 1)
    monkeypatch.setattr(offboarding, "GUARDIANS_WANTED", 60)
    ctx = Context(generated, Options())
    try:
        confirm, rate = offboarding.offboarding(ctx)
    finally:
        ctx.close()
    assert confirm.n == 1 and confirm.status is None and rate.n == 1
    assert rate.errors == 0 and "duplicates 0" in rate.notes[-1] and "0 more requests" in rate.notes[-1]
    engine = sa.create_engine(generated)
    try:
        with engine.connect() as conn:
            statuses = dict(conn.execute(sa.text(
                "SELECT status, COUNT(*) FROM notifications WHERE channel = 'sms' AND idempotency_key LIKE "
                "'departure:%' GROUP BY status")).all())
            case_status = conn.execute(sa.text("SELECT status FROM departure_cases")).scalar_one()
    finally:
        engine.dispose()
    assert set(statuses) == {"sent"} and statuses["sent"] > 0
    assert case_status == "reassigned"
