"""The terms and timetable pages: who sees what, forms with errors at their fields, buttons for admins only."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.school.teaching.models import Closure, Lesson, Term, TimetableSlot
from tests.school.teaching.conftest import MON, make_slot


@pytest.fixture
def admin_client(client, login_as, teaching, org):
    login_as("admin", unit=org.school_a)
    return client


def _term_form(**overrides) -> dict:
    return {"name": "2026-2027 spring term", "starts_on": "2027-02-22", "ends_on": "2027-07-09",
            "cover_window_days": "10", **overrides}


def test_the_landing_page_lists_the_terms_with_a_new_term_button(admin_client, teaching):
    page = admin_client.get("/teaching/").get_data(as_text=True)
    assert "2026-2027 autumn term" in page and "/teaching/terms/new" in page
    assert "<script>" not in page


def test_a_head_sees_the_terms_without_the_buttons(client, login_as, teaching, org):
    login_as("head", unit=org.school_a)
    page = client.get("/teaching/").get_data(as_text=True)
    assert "2026-2027 autumn term" in page and "/teaching/terms/new" not in page
    term_page = client.get(f"/teaching/terms/{teaching.term.id}").get_data(as_text=True)
    assert "National Day" in term_page and "Generate lessons" not in term_page


def test_the_empty_state_says_what_to_do_next(client, login_as, org):
    login_as("admin", unit=org.school_b)
    page = client.get("/teaching/").get_data(as_text=True)
    assert "No terms yet" in page and "Add the first term" in page


def test_terms_of_other_schools_are_not_listed_or_reachable(client, login_as, teaching, org):
    login_as("admin", unit=org.school_b)
    assert "2026-2027 autumn term" not in client.get("/teaching/").get_data(as_text=True)
    assert client.get(f"/teaching/terms/{teaching.term.id}").status_code == 403
    assert client.get(f"/teaching/terms/{teaching.term.id}/timetable").status_code == 403


@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_self_service_roles_are_refused(client, login_as, teaching, role):
    login_as(role)
    assert client.get("/teaching/").status_code == 403
    assert client.get(f"/teaching/terms/{teaching.term.id}").status_code == 403


def test_a_new_term_is_saved_and_leads_to_its_page(admin_client, db, teaching):
    response = admin_client.post("/teaching/terms/new", data=_term_form(school=teaching.school.id))
    assert response.status_code == 302
    term = db.session.scalar(sa.select(Term).where(Term.name == "2026-2027 spring term"))
    assert response.headers["Location"].endswith(f"/teaching/terms/{term.id}")


def test_an_overlapping_term_is_refused_at_the_field(admin_client, db, teaching):
    response = admin_client.post("/teaching/terms/new",
                                 data=_term_form(school=teaching.school.id, starts_on="2027-01-10"))
    assert response.status_code == 422
    assert "overlap" in response.get_data(as_text=True)


def test_a_term_is_edited(admin_client, db, teaching):
    term = teaching.term
    response = admin_client.post(f"/teaching/terms/{term.id}/edit", data=_term_form(
        name="Autumn 2026", starts_on="2026-09-01", ends_on="2027-01-22", version=str(term.version)))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Term, term.id).name == "Autumn 2026"


def test_the_term_page_counts_school_days_and_lessons(admin_client, teaching):
    page = admin_client.get(f"/teaching/terms/{teaching.term.id}").get_data(as_text=True)
    assert 'data-testid="school-days">100<' in page  # 104 weekdays − 5 of National Day + 1 make-up day
    assert "Make-up day" in page and "Wednesday" in page


def test_a_closure_is_added_and_a_regeneration_is_asked_for_once_lessons_exist(admin_client, db, teaching):
    from app.core.models import utcnow

    teaching.term.generated_at = utcnow()
    db.session.flush()
    response = admin_client.post(f"/teaching/terms/{teaching.term.id}/closures/new", follow_redirects=True,
                                 data={"name": "Sports day", "starts_on": "2026-11-06", "follows_weekday": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Sports day" in page and "Generate lessons" in page
    assert "bring them in line" in page


def test_an_overlapping_closure_is_refused_at_the_field(admin_client, teaching):
    response = admin_client.post(f"/teaching/terms/{teaching.term.id}/closures/new",
                                 data={"name": "Long", "starts_on": "2026-10-06", "ends_on": "2026-10-09"})
    assert response.status_code == 422 and "National Day" in response.get_data(as_text=True)


def test_a_closure_is_removed(admin_client, db, teaching):
    response = admin_client.post(f"/teaching/closures/{teaching.national_day.id}/remove")
    assert response.status_code == 302
    assert db.session.get(Closure, teaching.national_day.id) is None


def test_generate_lessons_reports_what_it_did(admin_client, db, teaching):
    make_slot(teaching.term, MON, 1, teaching.class_2, teaching.math, teaching.wang)
    response = admin_client.post(f"/teaching/terms/{teaching.term.id}/generate", follow_redirects=True)
    assert "Lessons generated" in response.get_data(as_text=True)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Lesson).where(Lesson.term_id == teaching.term.id))
    assert count > 0
    admin_client.post(f"/teaching/terms/{teaching.term.id}/generate")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lesson)) == count


# --- timetable -------------------------------------------------------------------------------------------------


def test_the_timetable_shows_a_class_week_and_a_teacher_week(admin_client, teaching):
    make_slot(teaching.term, MON, 3, teaching.class_2, teaching.math, teaching.wang)
    url = f"/teaching/terms/{teaching.term.id}/timetable"
    page = admin_client.get(f"{url}?class_id={teaching.class_2.id}").get_data(as_text=True)
    assert "Maths" in page and "王芳" in page and "/teaching/slots/" in page
    page = admin_client.get(f"{url}?staff_id={teaching.wang.id}").get_data(as_text=True)
    assert "7(2)" in page and 'data-testid="timetable-grid"' in page


def test_a_slot_is_added_from_the_grid(admin_client, db, teaching):
    url = f"/teaching/terms/{teaching.term.id}/slots/new?weekday=1&period=3&class_id={teaching.class_2.id}"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, data={"weekday": "1", "period": "3", "class_id": teaching.class_2.id,
                                            "subject_id": teaching.math.id, "staff_id": teaching.wang.id})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimetableSlot)) == 1


def test_a_clash_is_shown_at_the_teacher_field(admin_client, db, teaching):
    make_slot(teaching.term, MON, 3, teaching.class_2, teaching.math, teaching.wang)
    response = admin_client.post(f"/teaching/terms/{teaching.term.id}/slots/new", data={
        "weekday": "1", "period": "3", "class_id": teaching.class_3.id, "subject_id": teaching.math.id,
        "staff_id": teaching.wang.id})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "王芳 already teaches 7(2) Maths on Monday period 3." in page and "is-invalid" in page


def test_a_slot_is_edited_and_deleted(admin_client, db, teaching):
    slot = make_slot(teaching.term, MON, 3, teaching.class_2, teaching.math, teaching.wang)
    response = admin_client.post(f"/teaching/slots/{slot.id}/edit", data={
        "weekday": "2", "period": "4", "class_id": teaching.class_2.id, "subject_id": teaching.math.id,
        "staff_id": teaching.wang.id, "version": str(slot.version)})
    assert response.status_code == 302
    db.session.expire_all()
    slot = db.session.get(TimetableSlot, slot.id)
    assert (slot.weekday, slot.period) == (2, 4)
    assert admin_client.post(f"/teaching/slots/{slot.id}/delete", data={"version": str(slot.version)}).status_code \
        == 302
    assert db.session.get(TimetableSlot, slot.id) is None


def test_a_head_sees_the_timetable_without_edit_buttons(client, login_as, teaching, org):
    make_slot(teaching.term, MON, 3, teaching.class_2, teaching.math, teaching.wang)
    login_as("head", unit=org.school_a)
    page = client.get(f"/teaching/terms/{teaching.term.id}/timetable").get_data(as_text=True)
    assert "Maths" in page and "/teaching/slots/" not in page
    assert client.get(f"/teaching/terms/{teaching.term.id}/slots/new").status_code == 403


def test_a_term_with_no_lessons_past_today_is_fine_to_view(admin_client, teaching):
    assert admin_client.get(f"/teaching/terms/{teaching.term.id}/timetable?class_id=abc").status_code == 200
    assert teaching.term.starts_on == date(2026, 9, 1)


def test_the_forms_render_with_their_choices(admin_client, teaching):
    page = admin_client.get("/teaching/terms/new").get_data(as_text=True)
    assert "School A" in page and 'name="cover_window_days"' in page
    page = admin_client.get(f"/teaching/terms/{teaching.term.id}/closures/new").get_data(as_text=True)
    assert "Make-up day taught as Friday" in page and "Holiday or closure: no lessons" in page
    page = admin_client.get(f"/teaching/terms/{teaching.term.id}/edit").get_data(as_text=True)
    assert "2026-2027 autumn term" in page and 'name="school"' not in page


def test_a_make_up_day_is_added_from_the_form(admin_client, db, teaching):
    response = admin_client.post(f"/teaching/terms/{teaching.term.id}/closures/new", data={
        "name": "Make-up day", "starts_on": "2026-10-10", "follows_weekday": "5"})
    assert response.status_code == 302
    closure = db.session.scalar(sa.select(Closure).where(Closure.name == "Make-up day"))
    assert (closure.starts_on, closure.ends_on, closure.follows_weekday) == (date(2026, 10, 10), date(2026, 10, 10), 5)
