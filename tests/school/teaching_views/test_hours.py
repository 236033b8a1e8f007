"""Hours: the pandas computation against a plain Python reference, "My hours" (own only), the overview and its
export."""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.school.teaching import hours
from app.school.teaching.calendar import iso_week_start
from app.school.teaching.models import Lesson, LessonKind
from app.school.teaching.services.ledger import assign_cover
from tests import factories
from tests.school.teaching_views import MONDAY, TERM_STARTS, World, build_world

KIND_VALUES = [k.value for k in LessonKind]


@pytest.fixture
def world(org) -> World:
    return build_world(org)


def _random_lessons(world: World, seed: int, count: int = 400) -> list[dict]:
    """Lessons straight into the table: random teacher, day, period, kind and periods (tenths), no class."""
    rng = random.Random(seed)
    people = [s.id for s in world.staff.values()]
    taken, rows = set(), []
    while len(rows) < count:
        staff_id, day, period = rng.choice(people), TERM_STARTS + timedelta(days=rng.randrange(140)), rng.randint(1, 12)
        if (staff_id, day, period) in taken:
            continue
        taken.add((staff_id, day, period))
        kind = rng.choice(KIND_VALUES)
        rows.append({"school_id": world.school.id, "term_id": world.term.id, "day": day, "period": period,
                     "kind": kind, "taught_by_id": None if kind == "cancelled" else staff_id,
                     "scheduled_staff_id": staff_id, "periods": Decimal(rng.randint(1, 30)) / 10, "version": 1,
                     "created_at": world.term.created_at})
    db.session.execute(sa.delete(Lesson))
    db.session.execute(sa.insert(Lesson), rows)
    return rows


def _reference(rows: list[dict], bucket) -> dict:
    """The slow, obvious computation: a loop over the lessons."""
    totals: dict = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        if row["kind"] != "cancelled":
            totals[(row["taught_by_id"], bucket(row["day"]))][row["kind"]] += row["periods"]
    return {key: dict(kinds) for key, kinds in totals.items()}


def _flatten(nested: dict) -> dict:
    return {(staff_id, bucket): kinds for staff_id, buckets in nested.items() for bucket, kinds in buckets.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hours_equal_a_plain_python_reference_on_random_lessons(world, seed):
    rows = _random_lessons(world, seed)
    first, last = TERM_STARTS, TERM_STARTS + timedelta(days=140)
    frame = hours.hours_frame(hours.Filter(school_id=world.school.id), first, last)
    assert _flatten(hours.weekly(frame)) == _reference(rows, iso_week_start)
    assert _flatten(hours.monthly(frame)) == _reference(rows, lambda d: d.replace(day=1))
    overall = {(s, None): kinds for s, kinds in hours.overall(
        hours.hours_frame(hours.Filter(school_id=world.school.id), first, last, by_day=False)).items()}
    assert overall == _reference(rows, lambda _d: None)
    for kinds in overall.values():
        assert all(isinstance(v, Decimal) for v in kinds.values())


def test_hours_filter_by_department_and_by_teacher(world):
    rows = _random_lessons(world, 7, count=120)
    first, last = TERM_STARTS, TERM_STARTS + timedelta(days=140)
    wang = world.staff["wang"].id  # the only teacher of the Maths A department
    by_department = hours.overall(hours.hours_frame(hours.Filter(department_id=world.staff["wang"].department_id),
                                                    first, last, by_day=False))
    assert set(by_department) <= {wang}
    assert by_department == hours.overall(hours.hours_frame(hours.Filter(staff_ids=(wang,)), first, last))
    expected = sum((r["periods"] for r in rows if r["taught_by_id"] == wang), Decimal(0))
    assert sum(by_department.get(wang, {}).values(), Decimal(0)) == expected


def test_my_hours_gives_every_week_of_the_range(world):
    weeks = hours.my_hours(world.staff["wang"], date(2026, 9, 1), date(2026, 9, 30))
    assert [w.week for w in weeks] == [date(2026, 8, 31), date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21),
                                       date(2026, 9, 28)]
    assert [w.total for w in weeks] == [0, 2, 2, 2, 2]  # two Monday lessons a week; 31 August is before the term


def test_a_cover_moves_the_period_to_the_covering_teacher(world):
    lesson = db.session.scalar(sa.select(Lesson).where(Lesson.scheduled_staff_id == world.staff["wang"].id,
                                                       Lesson.day == MONDAY, Lesson.period == 1))
    assign_cover(lesson, world.staff["zhao"], "Cover", world.admin)
    totals = hours.overall(hours.hours_frame(hours.Filter(school_id=world.school.id), MONDAY, MONDAY, by_day=False))
    assert totals[world.staff["zhao"].id] == {"cover": 1}
    assert totals[world.staff["wang"].id] == {"regular": 1}


def test_department_overview_lists_current_teachers_and_sorts_by_total(world):
    rows = hours.department_overview(world.school, date(2026, 9, 1), date(2026, 9, 30), sort="total")
    assert [r.name for r in rows][:2] == [world.staff["wang"].full_name, world.staff["li"].full_name]
    assert rows[0].total == 8 and rows[0].by_kind == {"regular": 8}
    assert {r.staff_id for r in rows} == {s.id for s in world.staff.values()}  # zero rows included


# --- the pages ---------------------------------------------------------------------------------------------


def test_my_hours_shows_the_chart_and_the_lessons_of_a_week(client, world):
    factories.log_in(client, world.user("wang"))
    page = client.get(f"/teaching/my-hours?term={world.term.id}").get_data(as_text=True)
    assert "<svg" in page and 'data-week="2026-09-14"' in page and 'data-testid="my-timetable"' in page
    week = client.get(f"/teaching/my-hours?term={world.term.id}&week={MONDAY}").get_data(as_text=True)
    assert week.count("data-lesson-id=") == 2


def test_a_teacher_sees_only_their_own_hours(client, world):
    wang_lesson = db.session.scalar(sa.select(Lesson.id).where(Lesson.taught_by_id == world.staff["wang"].id))
    factories.log_in(client, world.user("zhao"))
    week = client.get(f"/teaching/my-hours?term={world.term.id}&week={MONDAY}&staff_id={world.staff['wang'].id}")
    assert week.status_code == 200 and "data-lesson-id=" not in week.get_data(as_text=True)
    assert client.get(f"/teaching/lessons/{wang_lesson}").status_code == 403
    assert client.get("/teaching/hours").status_code == 403


def test_a_teacher_without_a_staff_record_gets_a_friendly_page(client, login_as, world):
    login_as("teacher")
    response = client.get("/teaching/my-hours")
    assert response.status_code == 200
    assert "not linked to a staff record" in response.get_data(as_text=True)


def test_the_overview_lists_the_school_by_total(client, login_as, world):
    login_as("head")
    response = client.get(f"/teaching/hours?unit={world.school.id}&month=2026-09&sort=total")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.index(f'data-staff-id="{world.staff["wang"].id}"') < page.index(
        f'data-staff-id="{world.staff["zhao"].id}"')


def test_the_overview_of_a_department(client, login_as, world, org):
    login_as("head", unit=org.dept_a)
    page = client.get(f"/teaching/hours?unit={org.dept_a.id}&term={world.term.id}").get_data(as_text=True)
    assert page.count("data-staff-id=") == 1


def test_the_export_needs_a_fresh_login(client, login_as, world):
    login_as("admin", fresh=False)
    response = client.get(f"/teaching/hours/export.csv?unit={world.school.id}&month=2026-09")
    assert response.status_code == 302 and "reauthenticate" in response.headers["Location"]


def test_the_export_is_audited_and_neutralised(client, login_as, world, org):
    from app.general.audit.models import AuditEvent

    world.staff["zhao"].given_name = "=cmd"
    db.session.commit()
    login_as("admin")
    response = client.get(f"/teaching/hours/export.csv?unit={world.school.id}&month=2026-09")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    assert "'=cmd" in text and "A-V001" in text
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "exports.downloaded")
                              .order_by(AuditEvent.seq.desc()))
    assert event.changes["kind"] == "teaching_hours" and event.changes["rows"] == 5
    assert client.get(f"/teaching/hours/export.xlsx?unit={world.school.id}").status_code == 200
    assert client.get("/teaching/hours/export.pdf").status_code == 404


def test_my_hours_for_a_month_and_the_lessons_of_one_kind(client, world):
    factories.log_in(client, world.user("wang"))
    page = client.get("/teaching/my-hours?month=2026-09&kind=regular").get_data(as_text=True)
    assert "September 2026" in page and page.count("data-lesson-id=") == 8


def test_the_overview_never_shows_a_unit_outside_the_scope(client, login_as, world, org):
    login_as("head")
    page = client.get(f"/teaching/hours?unit={org.school_b.id}").get_data(as_text=True)
    assert "School A ·" in page and "School B" not in page


def test_my_hours_count_only_what_was_taught_up_to_today(client, world, monkeypatch):
    """The ledger holds the rest of the term as planned lessons: they are no hours yet."""
    from app.school.teaching.views import hours as hours_views

    monkeypatch.setattr(hours_views, "local_today", lambda: MONDAY)
    factories.log_in(client, world.user("wang"))
    page = client.get(f"/teaching/my-hours?term={world.term.id}").get_data(as_text=True)
    assert 'data-week="2026-09-14"' in page and 'data-week="2026-09-21"' not in page
    assert "planned, not taught yet" in page
