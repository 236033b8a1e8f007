"""The cover screen: absences recorded and removed, candidates ranked with their reasons, one-click assignment."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from app.school.teaching.models import Absence, Lesson, LessonKind
from tests import factories
from tests.school.teaching_views import MONDAY, World, build_world


@pytest.fixture
def world(org) -> World:
    return build_world(org)


def _absent(client, world: World, name: str = "wang", **extra):
    data = {"staff_id": world.staff[name].id, "day": MONDAY.isoformat(), "reason": "Ill", **extra}
    return client.post(f"/teaching/absences?school_id={world.school.id}", data=data)


def _board(client, world: World) -> str:
    response = client.get(f"/teaching/covers?school_id={world.school.id}&day={MONDAY}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _lesson(world: World, period: int = 1) -> Lesson:
    return db.session.scalar(sa.select(Lesson).where(Lesson.scheduled_staff_id == world.staff["wang"].id,
                                                     Lesson.day == MONDAY, Lesson.period == period))


def _candidates(page: str, lesson_id: int) -> list[int]:
    block = page.split(f'data-lesson-id="{lesson_id}"', 1)[1].split("</li>\n        \n", 1)[0]
    block = block.split('data-testid="cover-need"', 1)[0]
    return [int(n) for n in re.findall(r'data-testid="candidate" data-staff-id="(\d+)"', block)]


def test_an_empty_day_says_what_to_do(client, login_as, world):
    login_as(user=world.admin)
    assert "Nobody is recorded as absent that day" in _board(client, world)


def test_recording_an_absence_shows_the_lessons_to_cover(client, login_as, world):
    login_as(user=world.admin)
    response = _absent(client, world)
    assert response.status_code == 302
    page = _board(client, world)
    assert page.count('data-testid="cover-need"') == 2  # periods 1 and 2
    assert 'data-testid="absent-teacher"' in page


def test_an_absence_needs_a_reason(client, login_as, world):
    login_as(user=world.admin)
    response = _absent(client, world, reason="")
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Absence)) == 0


def test_a_qualified_colleague_who_teaches_the_class_comes_first(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    lesson = _lesson(world)  # 7(2) Maths, period 1; Li teaches 7(3) then, so is not free
    ranked = _candidates(_board(client, world), lesson.id)
    staff = world.staff
    assert ranked[:2] == [staff["zhou"].id, staff["zhao"].id]  # Maths and 7(2)'s homeroom teacher, then Maths
    assert staff["li"].id not in ranked and staff["wang"].id not in ranked
    assert ranked[-1] == staff["sun"].id  # not qualified for Maths


def test_the_board_shows_the_reasons_as_badges(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    page = _board(client, world)
    assert "teaches this class" in page and "qualified" in page and "lessons today" in page
    assert "covers in the last 10 school days" in page


def test_assign_from_the_board_credits_the_colleague_and_notifies_once(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    lesson = _lesson(world)
    zhou = world.staff["zhou"]
    data = {"lesson_id": lesson.id, "staff_id": zhou.id, "version": lesson.version,
            "reason": "Cover for Wang T"}
    first = client.post("/teaching/covers/assign", data=data)
    assert first.status_code == 302 and f"#lesson-{lesson.id}" in first.headers["Location"]
    second = client.post("/teaching/covers/assign", data=data)  # pressed twice, with the same (now stale) version
    assert second.status_code == 302
    db.session.expire_all()
    lesson = db.session.get(Lesson, lesson.id)
    assert (lesson.kind, lesson.taught_by_id, lesson.reason) == (LessonKind.COVER, zhou.id, "Cover for Wang T")
    sent = db.session.scalars(sa.select(Notification).where(
        Notification.recipient_user_id == zhou.user_id,
        Notification.template == "teaching/messages/cover_assigned")).all()
    assert sorted(n.channel for n in sent) == ["email", "inbox"]  # one notice, on each channel once
    assert f"by {zhou.full_name}" in _board(client, world)


def test_assign_without_a_reason_uses_cover_for_the_absent_teacher(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    lesson = _lesson(world, period=2)
    client.post("/teaching/covers/assign", data={"lesson_id": lesson.id, "staff_id": world.staff["zhao"].id,
                                                 "version": lesson.version})
    db.session.expire_all()
    assert db.session.get(Lesson, lesson.id).reason == f"Cover for {world.staff['wang'].full_name}"


def test_assigning_a_busy_colleague_is_refused_with_a_message(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    lesson = _lesson(world)
    response = client.post("/teaching/covers/assign", data={"lesson_id": lesson.id, "staff_id": world.staff["li"].id,
                                                            "version": lesson.version}, follow_redirects=True)
    assert "already has a lesson in period 1" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lesson, lesson.id).kind == LessonKind.REGULAR


def test_removing_an_absence(client, login_as, world):
    login_as(user=world.admin)
    _absent(client, world)
    absence = db.session.scalar(sa.select(Absence))
    assert client.post(f"/teaching/absences/{absence.id}/remove").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Absence)) == 0


def test_a_head_sees_the_board_without_buttons_and_cannot_assign(client, login_as, world, org):
    login_as(user=world.admin)
    _absent(client, world)
    head = factories.make_user("head", unit=org.school_a)
    factories.log_in(client, head)
    page = _board(client, world)
    assert 'data-testid="candidate"' in page and "Assign" not in page and "Record an absence" not in page
    lesson = _lesson(world)
    assert client.post("/teaching/covers/assign", data={"lesson_id": lesson.id, "staff_id": world.staff["zhao"].id,
                                                        "version": lesson.version}).status_code == 403


def test_an_admin_of_another_school_cannot_assign(client, login_as, world, org):
    login_as(user=world.admin)
    _absent(client, world)
    lesson = _lesson(world)
    login_as("admin", unit=org.school_b)
    response = client.post("/teaching/covers/assign", data={"lesson_id": lesson.id,
                                                            "staff_id": world.staff["zhao"].id,
                                                            "version": lesson.version})
    assert response.status_code == 403


def test_a_partial_absence_shows_only_the_lessons_in_its_periods(client, login_as, world):
    login_as(user=world.admin)
    assert _absent(client, world, first_period=2, last_period=3).status_code == 302
    page = _board(client, world)
    assert page.count('data-testid="cover-need"') == 1 and "periods 2–3" in page
