"""Terms and closures: dates that make sense, no overlaps, double submits, lessons kept inside, audit, scope."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.school.teaching.calendar import school_days
from app.school.teaching.models import Closure, Lesson, PayRun, Term
from app.school.teaching.services import calendar as services
from tests.school.teaching.conftest import FRI, MAKEUP_DAY, WED, errors_of, make_term

SPRING = {"name": "2026-2027 spring term", "starts_on": date(2027, 2, 22), "ends_on": date(2027, 7, 9),
          "cover_window_days": 10}


def test_a_term_is_created_and_audited(db, teaching, admin, audit_events):
    term = services.save_term(teaching.school, **SPRING, actor=admin)
    assert (term.name, term.starts_on, term.ends_on, term.cover_window_days) == (
        "2026-2027 spring term", date(2027, 2, 22), date(2027, 7, 9), 10)
    [event] = audit_events("teaching.term_created")
    assert event.changes["starts_on"] == "2027-02-22"


def test_saving_the_same_new_term_twice_returns_the_first(db, teaching, admin, audit_events):
    first = services.save_term(teaching.school, **SPRING, actor=admin)
    second = services.save_term(teaching.school, **SPRING, actor=admin)
    assert second.id == first.id
    assert len(audit_events("teaching.term_created")) == 1


def test_a_taken_name_with_other_dates_is_refused_at_the_name(db, teaching, admin):
    with pytest.raises(Conflict) as raised:
        services.save_term(teaching.school, **{**SPRING, "name": "2026-2027 AUTUMN term"}, actor=admin)
    assert raised.value.field == "name"


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": " "}, "name"),
    ({"starts_on": None}, "starts_on"),
    ({"ends_on": date(2027, 2, 1)}, "ends_on"),
    ({"ends_on": date(2028, 7, 9)}, "ends_on"),
    ({"cover_window_days": 0}, "cover_window_days"),
    ({"cover_window_days": 61}, "cover_window_days"),
])
def test_bad_term_fields_are_refused_at_their_field(db, teaching, admin, changes, field):
    with pytest.raises(ValidationFailed) as raised:
        services.save_term(teaching.school, **{**SPRING, **changes}, actor=admin)
    assert field in errors_of(raised)


def test_terms_of_one_school_cannot_overlap(db, teaching, admin):
    with pytest.raises(ValidationFailed) as raised:
        services.save_term(teaching.school, **{**SPRING, "starts_on": date(2027, 1, 22)}, actor=admin)
    assert "2026-2027 autumn term" in raised.value.message


def test_another_school_may_have_a_term_on_the_same_dates(db, teaching, admin_b):
    term = services.save_term(teaching.school_b, name="2026-2027 autumn term", starts_on=date(2026, 9, 1),
                              ends_on=date(2027, 1, 22), cover_window_days=5, actor=admin_b)
    assert term.school_id == teaching.school_b.id


def test_an_admin_of_another_school_cannot_add_or_change_terms(db, teaching, admin_b):
    with pytest.raises(NotAllowed):
        services.save_term(teaching.school, **SPRING, actor=admin_b)
    with pytest.raises(NotAllowed):
        services.save_term(None, **SPRING, actor=admin_b, term=teaching.term)


def test_a_term_is_edited_with_what_changed_audited(db, teaching, admin, audit_events):
    term = teaching.term
    services.save_term(None, name=term.name, starts_on=term.starts_on, ends_on=date(2027, 1, 29),
                       cover_window_days=15, actor=admin, term=term, expected_version=term.version)
    [event] = audit_events("teaching.term_updated")
    assert event.changes["ends_on"] == ["2027-01-22", "2027-01-29"]
    assert event.changes["cover_window_days"] == [10, 15]
    assert "name" not in event.changes


def test_an_edit_from_a_stale_form_is_refused(db, teaching, admin):
    term = teaching.term
    with pytest.raises(Conflict):
        services.save_term(None, name="Autumn", starts_on=term.starts_on, ends_on=term.ends_on, cover_window_days=10,
                           actor=admin, term=term, expected_version=term.version - 1)


def _lesson(db, term: Term, day: date, teaching) -> Lesson:
    lesson = Lesson(school=term.school, term_id=term.id, day=day, period=1, class_id=teaching.class_2.id,
                    subject_id=teaching.math.id, scheduled_staff_id=teaching.wang.id, taught_by_id=teaching.wang.id)
    db.session.add(lesson)
    db.session.flush()
    return lesson


def test_a_term_cannot_shrink_past_its_lessons(db, teaching, admin):
    term = teaching.term
    _lesson(db, term, date(2027, 1, 20), teaching)
    with pytest.raises(ValidationFailed) as raised:
        services.save_term(None, name=term.name, starts_on=term.starts_on, ends_on=date(2027, 1, 15),
                           cover_window_days=10, actor=admin, term=term)
    assert raised.value.field == "starts_on" and "lessons" in raised.value.message


def test_a_term_cannot_shrink_past_its_closures(db, teaching, admin):
    term = teaching.term
    with pytest.raises(ValidationFailed) as raised:
        services.save_term(None, name=term.name, starts_on=date(2026, 10, 8), ends_on=term.ends_on,
                           cover_window_days=10, actor=admin, term=term)
    assert "National Day" in raised.value.message


# --- closures ----------------------------------------------------------------------------------------------


def test_a_holiday_is_added_and_closes_its_days(db, teaching, admin, audit_events):
    term = teaching.term
    before = len(school_days(term.starts_on, term.ends_on, term.closures))
    closure = services.add_closure(term, name="New Year", starts_on=date(2027, 1, 1), ends_on=date(2027, 1, 1),
                                   actor=admin)
    assert closure.follows_weekday is None
    assert len(school_days(term.starts_on, term.ends_on, term.closures)) == before - 1  # 1 January 2027 is a Friday
    [event] = audit_events("teaching.closure_added")
    assert event.changes["name"] == "New Year"


def test_a_make_up_day_follows_the_weekday_it_names(db, teaching, admin):
    term = teaching.term
    services.add_closure(term, name="Make-up day", starts_on=date(2026, 10, 10), follows_weekday=FRI, actor=admin)
    days = dict(school_days(term.starts_on, term.ends_on, term.closures))
    assert days[date(2026, 10, 10)] == FRI
    assert days[MAKEUP_DAY] == WED


def test_a_make_up_day_is_a_single_day(db, teaching, admin):
    with pytest.raises(ValidationFailed) as raised:
        services.add_closure(teaching.term, name="Two days", starts_on=date(2026, 10, 10), ends_on=date(2026, 10, 11),
                             follows_weekday=FRI, actor=admin)
    assert "ends_on" in errors_of(raised)


def test_adding_the_same_closure_twice_returns_the_first(db, teaching, admin, audit_events):
    first = services.add_closure(teaching.term, name="New Year", starts_on=date(2027, 1, 1), actor=admin)
    second = services.add_closure(teaching.term, name="New Year", starts_on=date(2027, 1, 1), actor=admin)
    assert first.id == second.id
    assert len(audit_events("teaching.closure_added")) == 1


@pytest.mark.parametrize(("starts_on", "ends_on"), [
    (date(2026, 8, 31), date(2026, 9, 1)),
    (date(2027, 1, 22), date(2027, 1, 25)),
])
def test_a_closure_lies_inside_its_term(db, teaching, admin, starts_on, ends_on):
    with pytest.raises(ValidationFailed) as raised:
        services.add_closure(teaching.term, name="Outside", starts_on=starts_on, ends_on=ends_on, actor=admin)
    assert "starts_on" in errors_of(raised)


def test_closures_cannot_overlap(db, teaching, admin):
    with pytest.raises(ValidationFailed) as raised:
        services.add_closure(teaching.term, name="Long holiday", starts_on=date(2026, 10, 5),
                             ends_on=date(2026, 10, 9), actor=admin)
    assert "National Day" in raised.value.message
    with pytest.raises(ValidationFailed):
        services.add_closure(teaching.term, name="Make-up", starts_on=MAKEUP_DAY, follows_weekday=FRI, actor=admin)


def test_a_closure_cannot_change_a_locked_pay_month_once_lessons_exist(db, teaching, admin):
    term = teaching.term
    term.generated_at = utcnow()
    db.session.add(PayRun(school=term.school, month=date(2026, 11, 1), status="locked"))
    db.session.flush()
    with pytest.raises(NotAllowed):
        services.add_closure(term, name="Sports day", starts_on=date(2026, 11, 6), actor=admin)


def test_a_closure_is_removed_and_audited(db, teaching, admin, audit_events):
    term = services.remove_closure(teaching.national_day, actor=admin)
    db.session.expire_all()
    assert [c.name for c in db.session.scalars(sa.select(Closure).where(Closure.term_id == term.id))] == [
        "Make-up day for National Day"]
    [event] = audit_events("teaching.closure_removed")
    assert event.changes["starts_on"] == "2026-10-01"


def test_an_admin_of_another_school_cannot_touch_closures(db, teaching, admin_b):
    with pytest.raises(NotAllowed):
        services.add_closure(teaching.term, name="X", starts_on=date(2026, 11, 2), actor=admin_b)
    with pytest.raises(NotAllowed):
        services.remove_closure(teaching.national_day, actor=admin_b)


def test_a_term_without_the_fixture_closures_counts_every_weekday(db, org, admin):
    term = make_term(org.school_b, starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 30))
    assert len(school_days(term.starts_on, term.ends_on, term.closures)) == 22
