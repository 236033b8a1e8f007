"""The lesson ledger pages: the list and its filters, a lesson's page, and the adjustments through the views."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.school.teaching.models import Lesson, LessonKind
from tests.school.teaching_views import MONDAY, World, build_world


@pytest.fixture
def world(org) -> World:
    return build_world(org)


def _lesson(world: World, teacher: str = "wang", period: int = 1, day=MONDAY) -> Lesson:
    from app.extensions import db

    return db.session.scalar(sa.select(Lesson).where(Lesson.scheduled_staff_id == world.staff[teacher].id,
                                                     Lesson.day == day, Lesson.period == period))


def test_ledger_lists_the_chosen_week_and_filters_by_teacher(client, login_as, world):
    login_as(user=world.admin)
    response = client.get(f"/teaching/lessons?first={MONDAY}&last={MONDAY}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("data-lesson-id=") == 3
    only_li = client.get(f"/teaching/lessons?first={MONDAY}&last={MONDAY}&teacher={world.staff['li'].id}")
    assert only_li.get_data(as_text=True).count("data-lesson-id=") == 1


def test_ledger_filters_by_kind_and_class(client, login_as, world):
    login_as(user=world.admin)
    base = f"/teaching/lessons?first={MONDAY}&last={MONDAY}"
    assert client.get(f"{base}&kind=cover").get_data(as_text=True).count("data-lesson-id=") == 0
    assert client.get(f"{base}&school_class={world.class_3.id}").get_data(as_text=True).count(
        "data-lesson-id=") == 2


def test_ledger_without_lessons_says_what_to_do(client, login_as, world):
    login_as(user=world.admin)
    page = client.get("/teaching/lessons?first=2030-01-07").get_data(as_text=True)
    assert "No lessons in this range" in page


def test_head_reads_the_ledger_and_a_lesson_but_cannot_change_it(client, login_as, world):
    login_as("head")
    lesson = _lesson(world)
    assert client.get(f"/teaching/lessons?first={MONDAY}").status_code == 200
    page = client.get(f"/teaching/lessons/{lesson.id}")
    assert page.status_code == 200 and "Assign the cover" not in page.get_data(as_text=True)
    assert client.post(f"/teaching/lessons/{lesson.id}/cancel", data={"reason": "x"}).status_code == 403


def test_admin_of_another_school_is_refused_the_lesson(client, login_as, world, org):
    login_as("admin", unit=org.school_b)
    assert client.get(f"/teaching/lessons/{_lesson(world).id}").status_code == 403


def test_cover_from_the_lesson_page_credits_the_colleague(client, login_as, world, db):
    login_as(user=world.admin)
    lesson = _lesson(world)
    url = f"/teaching/lessons/{lesson.id}"
    response = client.post(f"{url}/cover", data={"staff_id": world.staff["zhao"].id,
                                                 "reason": "Cover for Wang", "version": lesson.version})
    assert response.status_code == 302
    db.session.expire_all()
    lesson = db.session.get(Lesson, lesson.id)
    assert (lesson.kind, lesson.taught_by_id, lesson.scheduled_staff_id) == (
        LessonKind.COVER, world.staff["zhao"].id, world.staff["wang"].id)
    page = client.get(url).get_data(as_text=True)
    assert "Covered" in page and "Cover for Wang" in page  # the history


def test_a_stale_form_gets_the_conflict_message(client, login_as, world, db):
    login_as(user=world.admin)
    lesson = _lesson(world)
    url = f"/teaching/lessons/{lesson.id}"
    stale = lesson.version
    client.post(f"{url}/cancel", data={"reason": "Sports day", "version": stale})
    response = client.post(f"{url}/cover", data={"staff_id": world.staff["zhao"].id,
                                                 "reason": "Cover", "version": stale})
    assert response.status_code == 422
    assert "alert-danger" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lesson, lesson.id).kind == LessonKind.CANCELLED


def test_cover_errors_land_at_the_field(client, login_as, world):
    login_as(user=world.admin)
    lesson = _lesson(world)
    url = f"/teaching/lessons/{lesson.id}"
    response = client.post(f"{url}/cover", data={"staff_id": world.staff["li"].id,
                                                 "reason": "Cover", "version": lesson.version})
    assert response.status_code == 422
    assert "already has a lesson in period 1" in response.get_data(as_text=True)


def test_cancel_then_restore(client, login_as, world, db):
    login_as(user=world.admin)
    lesson = _lesson(world)
    url = f"/teaching/lessons/{lesson.id}"
    assert client.post(f"{url}/cancel", data={"reason": "Sports day",
                                              "version": lesson.version}).status_code == 302
    db.session.expire_all()
    lesson = db.session.get(Lesson, lesson.id)
    assert lesson.kind == LessonKind.CANCELLED and lesson.taught_by_id is None
    assert client.post(f"{url}/restore", data={"version": lesson.version}).status_code == 302
    db.session.expire_all()
    lesson = db.session.get(Lesson, lesson.id)
    assert lesson.kind == LessonKind.REGULAR and lesson.taught_by_id == world.staff["wang"].id


def test_cancel_needs_a_reason(client, login_as, world):
    login_as(user=world.admin)
    lesson = _lesson(world)
    url = f"/teaching/lessons/{lesson.id}"
    response = client.post(f"{url}/cancel", data={"reason": "",
                                                  "version": lesson.version})
    assert response.status_code == 422


def test_add_an_invigilation_then_remove_it(client, login_as, world, db):
    login_as(user=world.admin)
    url = f"/teaching/lessons/new?school={world.school.id}"
    response = client.post(url, data={"kind": "invigilation",
                                      "day": MONDAY.isoformat(), "period": 5, "staff_id": world.staff["zhao"].id,
                                      "periods": "1.5", "reason": "Mid-term exam"})
    assert response.status_code == 302
    added = db.session.scalar(sa.select(Lesson).where(Lesson.kind == LessonKind.INVIGILATION))
    assert added.taught_by_id == world.staff["zhao"].id and str(added.periods) in ("1.5", "1.50")
    page = client.get(f"/teaching/lessons/{added.id}").get_data(as_text=True)
    assert "Remove this lesson" in page
    assert client.post(f"/teaching/lessons/{added.id}/remove",
                       data={"version": added.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Lesson, added.id) is None


def test_add_an_extra_lesson_needs_a_class(client, login_as, world):
    login_as(user=world.admin)
    url = f"/teaching/lessons/new?school={world.school.id}"
    response = client.post(url, data={"kind": "extra", "day": MONDAY.isoformat(),
                                      "period": 5, "staff_id": world.staff["zhao"].id, "periods": "1"})
    assert response.status_code == 422
    assert "Choose the class." in response.get_data(as_text=True)


def test_a_teacher_cannot_open_the_ledger_or_a_lesson(client, world):
    from tests import factories

    factories.log_in(client, world.user("wang"))
    assert client.get("/teaching/lessons").status_code == 403
    assert client.get(f"/teaching/lessons/{_lesson(world).id}").status_code == 403


def test_a_second_click_on_remove_says_it_is_already_removed(client, login_as, org):
    login_as("admin")
    response = client.post("/teaching/absences/999999/remove", data={}, follow_redirects=True)
    assert response.status_code == 200 and "already removed" in response.get_data(as_text=True)
