"""The lesson ledger: regeneration without duplicates (closures, make-up days, locked months, a slot's new teacher),
covers credited to the teacher who taught, cancellations, restores, added lessons, and no teacher booked twice
(service message and unique index)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.general.notifications.models import Notification
from app.school.teaching.models import Closure, Lesson, LessonKind, PayLine
from app.school.teaching.services import ledger, payruns
from tests.school.pay.conftest import (
    OCTOBER,
    SAT,
    WED,
    lessons_of,
    locked_run,
    put_lesson,
    save_test_scheme,
)

D = Decimal
OCT_LAST = date(2026, 10, 31)
# Wang's October: Mon 12 19 26, Wed 14 21 28, Fri 9 16 23 30 (National Day week closed)
WANG_OCTOBER = [date(2026, 10, d) for d in (9, 12, 14, 16, 19, 21, 23, 26, 28, 30)]


@pytest.fixture
def generated(pay_school):
    ledger.generate_term(pay_school.term, pay_school.admin, from_day=pay_school.term.starts_on)
    return pay_school


def _lesson_on(day: date, period: int = 2) -> Lesson:
    return db.session.scalar(sa.select(Lesson).where(Lesson.day == day, Lesson.period == period,
                                                     Lesson.slot_id.is_not(None)))


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Lesson))


def _pay(ps, month=OCTOBER):
    return {line.staff_id: line for line in payruns.compute([ps.school.id], month)}


# --- regeneration --------------------------------------------------------------------------------------------------


def test_generation_follows_timetable_and_calendar(generated):
    october = lessons_of(generated.wang.id, first=OCTOBER, last=OCT_LAST)
    assert [lesson.day for lesson in october] == WANG_OCTOBER
    assert all(lesson.kind == LessonKind.REGULAR and lesson.scheduled_staff_id == generated.wang.id
               and lesson.periods == D("1") for lesson in october)


def test_generating_twice_adds_nothing(generated):
    before = _count()
    again = ledger.generate_term(generated.term, generated.admin)
    assert (again.added, again.removed, again.moved) == (0, 0, 0)
    assert again.kept == before
    assert _count() == before
    duplicates = db.session.execute(sa.select(Lesson.slot_id, Lesson.day).group_by(Lesson.slot_id, Lesson.day)
                                    .having(sa.func.count() > 1)).all()
    assert duplicates == []


def test_a_new_closure_removes_untouched_lessons_and_keeps_adjusted_ones(generated):
    ps = generated
    covered = _lesson_on(date(2026, 10, 14))
    ledger.assign_cover(covered, ps.zhao, "Wang at a training day", ps.admin)
    before = _count()
    db.session.add(Closure(term=ps.term, name="Sports week", starts_on=date(2026, 10, 12),
                           ends_on=date(2026, 10, 16)))
    db.session.flush()
    db.session.expire(ps.term, ["closures"])
    result = ledger.generate_term(ps.term, ps.admin)
    assert result.removed == 2 and result.added == 0  # Monday 12 and Friday 16 go; the covered Wednesday stays
    assert _count() == before - 2
    assert _lesson_on(date(2026, 10, 12)) is None and _lesson_on(date(2026, 10, 16)) is None
    kept = _lesson_on(date(2026, 10, 14))
    assert kept is not None and kept.id == covered.id and kept.kind == LessonKind.COVER
    assert ledger.generate_term(ps.term, ps.admin).removed == 0


def test_removing_the_closure_again_brings_the_lessons_back(generated):
    ps = generated
    closure = Closure(term=ps.term, name="Sports week", starts_on=date(2026, 10, 12), ends_on=date(2026, 10, 16))
    db.session.add(closure)
    db.session.flush()
    db.session.expire(ps.term, ["closures"])
    ledger.generate_term(ps.term, ps.admin)
    db.session.delete(closure)
    db.session.flush()
    db.session.expire(ps.term, ["closures"])
    assert ledger.generate_term(ps.term, ps.admin).added == 0  # by default the past stays as it was
    assert ledger.generate_term(ps.term, ps.admin, from_day=closure.starts_on).added == 3
    assert [lesson.day for lesson in lessons_of(ps.wang.id, first=OCTOBER, last=OCT_LAST)] == WANG_OCTOBER


def test_a_makeup_day_generates_the_followed_weekdays_lessons(pay_school):
    ps = pay_school
    makeup = date(2026, 9, 26)  # a Saturday taught as a Wednesday
    db.session.add(Closure(term=ps.term, name="Make-up day", starts_on=makeup, ends_on=makeup, follows_weekday=WED))
    db.session.flush()
    db.session.expire(ps.term, ["closures"])
    ledger.generate_term(ps.term, ps.admin)
    lesson = _lesson_on(makeup)
    assert lesson is not None and lesson.slot_id == ps.slots[1].id  # the Wednesday slot
    assert makeup.isoweekday() == SAT
    assert _lesson_on(date(2026, 9, 27)) is None  # an ordinary Sunday has none


def test_a_locked_month_is_left_untouched_by_regeneration(generated):
    ps = generated
    save_test_scheme(ps.school, ps.admin)
    locked_run(ps, OCTOBER)
    october = [(lesson.id, lesson.day, lesson.taught_by_id) for lesson in
               lessons_of(first=OCTOBER, last=OCT_LAST)]
    db.session.add(Closure(term=ps.term, name="Sports week", starts_on=date(2026, 10, 12),
                           ends_on=date(2026, 10, 16)))
    db.session.add(Closure(term=ps.term, name="Sports day", starts_on=date(2026, 11, 2), ends_on=date(2026, 11, 2)))
    db.session.flush()
    db.session.expire(ps.term, ["closures"])
    ps.slots[0].staff = ps.zhao  # Mondays now Zhao's
    db.session.flush()
    result = ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    assert "2026-10" in result.skipped_locked_months
    assert [(lesson.id, lesson.day, lesson.taught_by_id) for lesson in
            lessons_of(first=OCTOBER, last=OCT_LAST)] == october
    assert _lesson_on(date(2026, 11, 2)) is None  # the open month did follow the closure
    assert _lesson_on(date(2026, 11, 9)).taught_by_id == ps.zhao.id  # ... and the new teacher


def test_a_slots_new_teacher_moves_only_lessons_from_the_day_given(generated):
    ps = generated
    covered = _lesson_on(date(2026, 11, 18))  # a Wednesday covered by Li stays Li's
    ledger.assign_cover(covered, ps.li, "Wang ill", ps.admin)
    for slot in ps.slots:
        slot.staff = ps.zhao
    db.session.flush()
    result = ledger.generate_term(ps.term, ps.admin, from_day=date(2026, 11, 16))
    before = lessons_of(first=date(2026, 9, 1), last=date(2026, 11, 15), slot_id=ps.slots[0].id)
    after = lessons_of(first=date(2026, 11, 16), slot_id=ps.slots[0].id)
    assert before and {lesson.taught_by_id for lesson in before} == {ps.wang.id}
    assert after and {lesson.taught_by_id for lesson in after} == {ps.zhao.id}
    assert {lesson.scheduled_staff_id for lesson in after} == {ps.zhao.id}
    db.session.refresh(covered)
    assert covered.taught_by_id == ps.li.id and covered.kind == LessonKind.COVER
    moved = len(lessons_of(first=date(2026, 11, 16), taught_by_id=ps.zhao.id))
    assert result.moved == moved and result.added == 0


# --- covers, cancellations, restores ---------------------------------------------------------------------------------


def test_a_cover_is_credited_to_the_teacher_who_taught(generated):
    ps = generated
    save_test_scheme(ps.school, ps.admin)  # regular 50, cover 60
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.assign_cover(lesson, ps.zhao, "Wang at a training day", ps.admin)
    db.session.refresh(lesson)
    assert (lesson.kind, lesson.taught_by_id, lesson.scheduled_staff_id) == (LessonKind.COVER, ps.zhao.id,
                                                                              ps.wang.id)
    assert lesson.reason == "Wang at a training day" and lesson.adjusted_at is not None
    lines = _pay(ps)
    assert lines[ps.wang.id].periods == D("9.0")  # the absent teacher is not paid for it
    assert lines[ps.wang.id].lesson_amount == D("450.00")
    assert lines[ps.zhao.id].periods == D("1.0")
    assert lines[ps.zhao.id].lesson_amount == D("60.00")  # at the cover rate
    assert lines[ps.zhao.id].detail["by_kind"] == {"cover": "1.0"}


def test_the_covering_teacher_is_told_once(generated):
    ps = generated
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.assign_cover(lesson, ps.zhao, "Wang at a training day", ps.admin)
    ledger.assign_cover(lesson, ps.zhao, "Wang at a training day", ps.admin)  # pressed twice
    told = db.session.scalars(sa.select(Notification).where(
        Notification.template == "teaching/messages/cover_assigned",
        Notification.recipient_user_id == ps.zhao.user_id)).all()
    assert len(told) == 2  # one per channel (inbox, e-mail), not per press
    assert {n.channel for n in told} == {"inbox", "email"}


def test_a_cancelled_lesson_counts_for_nobody(generated):
    ps = generated
    save_test_scheme(ps.school, ps.admin)
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.cancel_lesson(lesson, "School trip", ps.admin)
    assert lesson.kind == LessonKind.CANCELLED and lesson.taught_by_id is None
    lines = _pay(ps)
    assert set(lines) == {ps.wang.id, ps.li.id}  # Li: homeroom allowance only
    assert lines[ps.wang.id].periods == D("9.0")
    assert lines[ps.li.id].periods == D("0.0")


def test_a_covered_then_cancelled_lesson_counts_for_nobody(generated):
    ps = generated
    save_test_scheme(ps.school, ps.admin)
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.assign_cover(lesson, ps.zhao, "Wang away", ps.admin)
    ledger.cancel_lesson(lesson, "Class away after all", ps.admin)
    assert ps.zhao.id not in _pay(ps)


def test_restore_gives_the_lesson_back_to_the_scheduled_teacher(generated):
    ps = generated
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.assign_cover(lesson, ps.zhao, "Wang away", ps.admin)
    ledger.restore_lesson(lesson, ps.admin)
    assert (lesson.kind, lesson.taught_by_id) == (LessonKind.REGULAR, ps.wang.id)
    ledger.cancel_lesson(lesson, "Trip", ps.admin)
    ledger.restore_lesson(lesson, ps.admin)
    db.session.refresh(lesson)
    assert (lesson.kind, lesson.taught_by_id) == (LessonKind.REGULAR, ps.wang.id)
    assert ledger.restore_lesson(lesson, ps.admin) is lesson  # pressed twice


def test_restore_is_refused_when_the_scheduled_teacher_is_now_busy(generated):
    ps = generated
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.cancel_lesson(lesson, "Trip", ps.admin)
    ledger.add_lesson(school_id=ps.school.id, kind="invigilation", day=date(2026, 10, 14), period=2, staff=ps.wang,
                      school_class=None, subject=None, periods="1", reason="Exam", actor=ps.admin)
    with pytest.raises(Conflict):
        ledger.restore_lesson(lesson, ps.admin)


def test_the_scheduled_teacher_cannot_cover_their_own_lesson(generated):
    ps = generated
    lesson = _lesson_on(date(2026, 10, 14))
    with pytest.raises(ValidationFailed):
        ledger.assign_cover(lesson, ps.wang, "Nonsense", ps.admin)


def test_an_absent_colleague_cannot_cover(generated):
    ps = generated
    ledger.record_absence(ps.zhao, date(2026, 10, 14), 1, 4, "Ill", ps.admin)
    with pytest.raises(ValidationFailed) as raised:
        ledger.assign_cover(_lesson_on(date(2026, 10, 14)), ps.zhao, "Wang away", ps.admin)
    assert "absent" in raised.value.errors["staff_id"]


# --- added lessons and double booking ---------------------------------------------------------------------------------


def _extra(ps, staff, day=date(2026, 10, 15), period=5, **kwargs):
    data = {"school_id": ps.school.id, "kind": "extra", "day": day, "period": period, "staff": staff,
            "school_class": ps.class_3, "subject": ps.math, "periods": "1.5", "reason": "Exam preparation",
            "actor": ps.admin}
    return ledger.add_lesson(**{**data, **kwargs})


def test_add_lesson_submitted_twice_returns_the_first(generated):
    ps = generated
    first = _extra(ps, ps.wang)
    count = _count()
    second = _extra(ps, ps.wang)
    assert second.id == first.id
    assert _count() == count
    assert first.periods == D("1.5") and first.slot_id is None and first.kind == LessonKind.EXTRA


def test_added_lessons_are_paid_at_their_kind_rate(generated):
    ps = generated
    save_test_scheme(ps.school, ps.admin, standard_monthly_periods="100")
    _extra(ps, ps.zhao)  # 1.5 × 55
    ledger.add_lesson(school_id=ps.school.id, kind="invigilation", day=date(2026, 10, 15), period=6, staff=ps.zhao,
                      school_class=None, subject=None, periods="2", reason="Mid-term exam", actor=ps.admin)
    line = _pay(ps)[ps.zhao.id]
    assert line.detail["by_kind"] == {"extra": "1.5", "invigilation": "2.0"}
    assert line.lesson_amount == D("82.50") + D("40.00")


def test_remove_added_lesson(generated):
    ps = generated
    lesson = _extra(ps, ps.zhao)
    ledger.remove_added_lesson(lesson, ps.admin)
    assert lessons_of(ps.zhao.id) == []


def test_a_timetabled_lesson_is_cancelled_not_removed(generated):
    from app.core.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        ledger.remove_added_lesson(_lesson_on(date(2026, 10, 14)), generated.admin)


def test_a_teacher_cannot_be_booked_twice_in_a_period(generated):
    ps = generated
    with pytest.raises(ValidationFailed) as raised:  # Wang teaches 7(2) in period 2 that Wednesday
        _extra(ps, ps.wang, day=date(2026, 10, 14), period=2)
    assert "already has a lesson in period 2" in raised.value.errors["period"]
    extra = _extra(ps, ps.zhao, day=date(2026, 10, 14), period=3)
    with pytest.raises(ValidationFailed):  # Zhao busy in period 3: no cover there
        ledger.add_lesson(school_id=ps.school.id, kind="invigilation", day=date(2026, 10, 14), period=3,
                          staff=ps.zhao, school_class=None, subject=None, periods="1", reason="", actor=ps.admin)
    assert extra.id


def test_a_busy_colleague_cannot_cover(generated):
    ps = generated
    _extra(ps, ps.zhao, day=date(2026, 10, 14), period=2)
    with pytest.raises(ValidationFailed) as raised:
        ledger.assign_cover(_lesson_on(date(2026, 10, 14)), ps.zhao, "Wang away", ps.admin)
    assert "already has a lesson" in raised.value.errors["staff_id"]


def test_the_database_refuses_a_teacher_in_two_places_at_once(generated):
    """The race the service cannot see: a second row for the same teacher, day and period, written directly."""
    ps = generated
    with pytest.raises(sa.exc.IntegrityError) as raised:
        with db.session.begin_nested():
            put_lesson(ps, ps.wang, date(2026, 10, 14), 2, kind=LessonKind.INVIGILATION)
    assert "uq_lessons_teacher_time" in str(raised.value) or "taught_by_id" in str(raised.value)
    put_lesson(ps, ps.wang, date(2026, 10, 14), 3, kind=LessonKind.INVIGILATION)  # another period is fine


def test_the_database_refuses_a_class_in_two_lessons_at_once(generated):
    ps = generated
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            put_lesson(ps, ps.zhao, date(2026, 10, 14), 2, school_class=ps.class_2)


def test_a_cancelled_lesson_frees_its_teacher_and_class(generated):
    ps = generated
    ledger.cancel_lesson(_lesson_on(date(2026, 10, 14)), "Trip", ps.admin)
    put_lesson(ps, ps.zhao, date(2026, 10, 14), 2, school_class=ps.class_2)
    put_lesson(ps, ps.wang, date(2026, 10, 14), 2, kind=LessonKind.INVIGILATION)


def test_a_lesson_of_a_locked_month_may_be_corrected_and_the_locked_run_keeps_its_figures(generated):
    """The lead's rule (1b79144): the ledger says what happened, the locked run does not move, and a correction of
    the run pays the difference."""
    ps = generated
    save_test_scheme(ps.school, ps.admin)
    run = locked_run(ps, OCTOBER)
    lesson = _lesson_on(date(2026, 10, 14))
    assert ledger.locked_notice(lesson) is not None
    assert ledger.locked_notice(_lesson_on(date(2026, 11, 4))) is None
    ledger.cancel_lesson(lesson, "Trip recorded late", ps.admin)
    assert _pay(ps)[ps.wang.id].total == D("450.00")  # the ledger moved
    assert db.session.scalar(sa.select(PayLine.total).where(PayLine.run_id == run.id,
                                                                    PayLine.staff_id == ps.wang.id)) \
        == D("500.00")  # the locked run did not
    correction = payruns.start_correction(run, "Trip recorded late", ps.admin)
    payruns.calculate_run(correction, ps.admin)
    assert payruns.differences(correction, run)[ps.wang.id].change == D("-50.00")


def test_restore_is_refused_when_the_class_has_another_lesson_now(generated):
    ps = generated
    lesson = _lesson_on(date(2026, 10, 14))
    ledger.cancel_lesson(lesson, "Trip", ps.admin)
    _extra(ps, ps.zhao, day=date(2026, 10, 14), period=2, school_class=ps.class_2)  # the class got another lesson
    with pytest.raises(Conflict):  # (from the class's unique index: the service checks only the teacher first)
        ledger.restore_lesson(lesson, ps.admin)


def test_a_move_onto_a_busy_teacher_is_not_a_database_error(generated):
    """The slot's new teacher already has an added lesson at one of its times: regeneration must not fail with a
    raw unique-index error (it may skip that lesson or refuse with a message)."""
    ps = generated
    _extra(ps, ps.zhao, day=date(2026, 11, 18), period=2, school_class=ps.class_3)
    ps.slots[1].staff = ps.zhao  # Wednesdays, period 2
    db.session.flush()
    try:
        with db.session.begin_nested():
            ledger.generate_term(ps.term, ps.admin, from_day=date(2026, 11, 16))
    except (Conflict, ValidationFailed):
        return  # refused with a message: acceptable
    taught = {(lesson.day, lesson.period) for lesson in lessons_of(ps.zhao.id, first=date(2026, 11, 16))}
    assert (date(2026, 11, 25), 2) in taught


def test_moving_future_lessons_onto_a_busy_teacher_is_not_a_database_error(generated):
    ps = generated
    _extra(ps, ps.zhao, day=date(2026, 11, 18), period=2, school_class=ps.class_3)
    try:
        with db.session.begin_nested():
            moved = ledger.move_future_lessons([ps.slots[1].id], ps.zhao.id, date(2026, 11, 16), ps.admin)
    except (Conflict, ValidationFailed):
        return
    assert moved > 0


def test_a_slot_moved_to_another_period_and_class_moves_its_future_lessons(generated):
    ps = generated
    ps.slots[1].period = 4  # Wednesdays: period 2 in 7(2) → period 4 in 7(3)
    ps.slots[1].school_class = ps.class_3
    db.session.flush()
    ledger.generate_term(ps.term, ps.admin, from_day=date(2026, 11, 16))
    before = lessons_of(slot_id=ps.slots[1].id, last=date(2026, 11, 15))
    after = lessons_of(slot_id=ps.slots[1].id, first=date(2026, 11, 16))
    assert {(lesson.period, lesson.class_id) for lesson in before} == {(2, ps.class_2.id)}
    assert {(lesson.period, lesson.class_id) for lesson in after} == {(4, ps.class_3.id)}


def test_a_slot_moved_to_another_weekday_leaves_the_past_as_taught(generated):
    ps = generated
    taught = [lesson.day for lesson in lessons_of(slot_id=ps.slots[1].id, last=date(2026, 11, 15))]
    ps.slots[1].weekday = 4  # Wednesday → Thursday from 16 November
    db.session.flush()
    ledger.generate_term(ps.term, ps.admin, from_day=date(2026, 11, 16))
    assert [lesson.day for lesson in lessons_of(slot_id=ps.slots[1].id, last=date(2026, 11, 15))] == taught
    assert {lesson.day.isoweekday() for lesson in lessons_of(slot_id=ps.slots[1].id, first=date(2026, 11, 16))} \
        == {4}
