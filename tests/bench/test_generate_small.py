"""The bench generator at a tiny scale: the counts it promises, its rules, and the same rows for the same seed."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from bench.datagen import SMALL
from bench.generate import generate

TABLES = ("org_units", "subjects", "users", "user_scopes", "staff_members", "staff_subjects", "school_classes",
          "assignments", "students", "enrollments", "guardians", "student_guardians")
YEAR = date(2026, 9, 1)


def _rows(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    try:
        with engine.connect() as conn:
            metadata.reflect(conn, only=TABLES)
            return {name: [tuple(row) for row in conn.execute(sa.select(table).order_by(*table.primary_key))]
                    for name, table in metadata.tables.items()}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from celery import current_app

    default_celery = current_app._get_current_object()
    folder = tmp_path_factory.mktemp("bench")
    urls = [f"sqlite:///{folder / name}" for name in ("bench-a.sqlite", "bench-b.sqlite", "bench-c.sqlite")]
    seeds = (7, 7, 8)
    reports = [generate(url, scale=SMALL, seed=seed, year_start=YEAR) for url, seed in zip(urls, seeds, strict=True)]
    assert current_app._get_current_object() is default_celery  # the generator leaves the test session's app alone
    return urls, reports


def test_small_district_has_the_promised_counts(generated):
    _urls, (report, _same, _other) = generated
    counts = report.counts
    assert counts["org_units"] == 1 + SMALL.schools * (1 + SMALL.departments)
    assert counts["staff_members"] == SMALL.staff
    assert counts["school_classes"] == SMALL.classes
    assert counts["students"] == counts["enrollments"] == SMALL.students
    assert counts["guardians"] == SMALL.guardians
    assert counts["student_guardians"] >= SMALL.students


def test_same_seed_gives_the_same_rows_and_another_seed_does_not(generated):
    (first, same, other), _reports = generated
    rows = _rows(first)
    assert rows == _rows(same)
    assert rows["staff_members"] != _rows(other)["staff_members"]


def test_generated_assignments_respect_maximum_periods_and_one_homeroom(generated):
    engine = sa.create_engine(generated[0][0])
    with engine.connect() as conn:
        over = conn.execute(sa.text(
            "SELECT s.id FROM staff_members s JOIN assignments a ON a.staff_id = s.id AND a.ends_on IS NULL "
            "GROUP BY s.id, s.max_weekly_periods HAVING SUM(a.weekly_periods) > s.max_weekly_periods")).all()
        homerooms = conn.execute(sa.text(
            "SELECT c.id, COUNT(a.id) FROM school_classes c LEFT JOIN assignments a ON a.class_id = c.id "
            "AND a.role = 'homeroom' AND a.ends_on IS NULL GROUP BY c.id")).all()
        admins = conn.execute(sa.text("SELECT COUNT(*) FROM users WHERE email LIKE 'bench-admin-%' "
                                      "AND totp_secret IS NOT NULL")).scalar()
    engine.dispose()
    assert over == []
    assert {count for _class, count in homerooms} == {1}
    assert admins == SMALL.bench_admins
