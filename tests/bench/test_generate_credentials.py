"""The bench's credentials: four types, about four credentials per staff member, renewal history that holds
together, expiries spread over the days, the same rows for the same seed; the reminder-scan benchmark runs."""
from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa

from bench.datagen import FULL, SMALL
from bench.generate import build_dataset, generate

YEAR = date(2026, 9, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('bench-credentials') / 'bench-cred.sqlite'}"
    return url, generate(url, scale=SMALL, seed=11, year_start=YEAR)


def _rows(url: str, statement: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(statement))]
    finally:
        engine.dispose()


def test_types_credentials_and_training_are_written(generated):
    url, report = generated
    assert report.counts["credential_types"] == 4
    current_staff = _rows(url, "SELECT COUNT(*) FROM staff_members WHERE status != 'departed'")[0][0]
    assert 3 * current_staff <= report.counts["credentials"] <= 5 * current_staff
    assert report.counts["training_records"] > 0
    codes = {code for (code,) in _rows(url, "SELECT code FROM credential_types")}
    assert codes == {"TEACH", "SAFE", "FIRSTAID", "TITLE"}


def test_renewal_history_points_at_a_later_period_of_the_same_person_and_type(generated):
    url, _report = generated
    pairs = _rows(url, "SELECT old.staff_id = new.staff_id AND old.type_id = new.type_id, "
                       "old.expires_on < new.issued_on FROM credentials old "
                       "JOIN credentials new ON new.id = old.superseded_by_id")
    assert pairs and all(same and ordered for same, ordered in pairs)
    assert _rows(url, "SELECT COUNT(*) FROM credentials WHERE expires_on < issued_on")[0][0] == 0


def test_district_scale_spreads_about_40000_expiries_over_the_days():
    dataset, _timings, _unfilled = build_dataset(FULL, 2026, YEAR)
    rows = dataset.tables["credentials"].rows
    assert 38_000 <= len(rows) <= 46_000
    current = Counter(r[6] for r in rows if r[9] is None and r[6] is not None)
    days = [date.fromordinal(YEAR.toordinal() + n) for n in range(0, 360)]
    assert all(current[d] > 0 for d in days)  # every day of the year some credential reaches its last day


def test_same_seed_same_credentials():
    first, _t, _u = build_dataset(SMALL, 5, YEAR)
    again, _t, _u = build_dataset(SMALL, 5, YEAR)
    assert first.tables["credentials"].rows == again.tables["credentials"].rows
    assert first.tables["training_records"].rows == again.tables["training_records"].rows


def test_the_reminder_scan_benchmark_runs_twice_and_the_second_run_sends_nothing(generated):
    from bench.benchmarks.credentials import reminder_scan
    from bench.context import Context, Options

    url, _report = generated
    ctx = Context(url, Options())
    try:
        first, second, following = reminder_scan(ctx)
    finally:
        ctx.close()
    assert first.n == second.n == following.n == 1 and second.errors == 0
    assert "0 notifications created" in second.notes[0]
    assert _rows(url, "SELECT COUNT(*) FROM credential_reminders")[0][0] == 0  # cleaned up
