"""The reassignment plan: ranked candidates, the admin's choices and their guards, the loads that result, and the
confirmation that applies everything in one transaction — or, when any line fails, nothing at all (assignments,
timetable slots, lessons, the outbox and the parents' notices exactly as before)."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict, DomainError, ValidationFailed
from app.extensions import db
from app.general.audit.services import SYSTEM
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment
from app.school.classes.services import assignments as assignment_services
from app.school.offboarding.models import CaseStatus, ParentNotice, Reassignment
from app.school.offboarding.services import cases, plan
from app.school.teaching.models import Lesson, LessonKind, Term, TimetableSlot
from app.school.teaching.services import ledger
from tests import factories
from tests.school.credentials.conftest import make_credential, make_type
from tests.school.offboarding.conftest import LAST_DAY, choose_all, open_case, to_handover
from tests.school.teaching.conftest import TUE, make_slot

EFFECTIVE = date(2027, 1, 9)  # the day after the last working day


@pytest.fixture
def term(departure, org):
    """The departure's term with its whole ledger generated (lessons from 1 September to 22 January)."""
    term = db.session.scalar(sa.select(Term).where(Term.school_id == org.school_a.id))
    ledger.generate_term(term, SYSTEM, from_day=term.starts_on)
    return term


def snapshot() -> dict:
    """Everything a confirmation writes, read fresh from the database."""
    def rows(stmt):
        return sorted(tuple(r) for r in db.session.execute(stmt).all())

    return {
        "assignments": rows(sa.select(Assignment.id, Assignment.staff_id, Assignment.class_id, Assignment.role,
                                      Assignment.subject_id, Assignment.starts_on, Assignment.ends_on)),
        "slots": rows(sa.select(TimetableSlot.id, TimetableSlot.staff_id)),
        "lessons": rows(sa.select(Lesson.id, Lesson.taught_by_id, Lesson.scheduled_staff_id, Lesson.kind,
                                  Lesson.version)),
        "outbox": rows(sa.select(Notification.id, Notification.idempotency_key, Notification.status)),
        "notices": rows(sa.select(ParentNotice.id, ParentNotice.guardian_id)),
        "plan": rows(sa.select(Reassignment.id, Reassignment.new_staff_id, Reassignment.new_assignment_id,
                               Reassignment.confirmed_at)),
    }


def taught_by(school_class, subject_id, first, last=date(2027, 1, 22)) -> set:
    return set(db.session.scalars(sa.select(Lesson.taught_by_id).where(
        Lesson.class_id == school_class.id, Lesson.subject_id == subject_id, Lesson.day >= first, Lesson.day <= last,
        Lesson.kind == LessonKind.REGULAR)))


# --- candidates and choices -----------------------------------------------------------------------------------


def test_one_line_per_assignment_with_ranked_candidates(departure, today):
    d = departure
    case = to_handover(d)
    lines = plan.lines(case)
    assert [line.assignment.id for line in lines] == [d.maths_a.id, d.homeroom_a.id, d.maths_b.id]
    for line in lines:
        ids = [c.staff.id for c in line.candidates]
        assert d.leaving.id not in ids
        assert ids.index(d.colleague.id) < ids.index(d.other.id)  # same department ranks first
        best = line.candidates[0]
        assert best.staff.id == d.colleague.id and best.qualified and best.free and best.fits and best.same_department


def test_a_colleague_busy_at_the_class_time_ranks_below_a_free_one(departure, today):
    d = departure
    d.other.department = d.leaving.department
    other_class = factories.make_class(d.class_a.school, name="8(1)")
    term = db.session.scalar(sa.select(Term).where(Term.school_id == d.class_a.school_id))
    make_slot(term, TUE, 2, other_class, d.maths, d.colleague)  # 7(3) has Maths on Tuesday period 2
    case = to_handover(d)
    line_b = next(line for line in plan.lines(case) if line.assignment.id == d.maths_b.id)
    by_id = {c.staff.id: c for c in line_b.candidates}
    assert not by_id[d.colleague.id].free and by_id[d.other.id].free
    assert line_b.candidates[0].staff.id == d.other.id


def test_colleagues_on_notice_are_never_offered_or_accepted(departure, today, org):
    d = departure
    leaving_too = factories.make_staff(org.school_a, department=org.dept_a, subjects=[d.maths], status="on_notice")
    case = to_handover(d)
    assert all(c.staff.id != leaving_too.id for line in plan.lines(case) for c in line.candidates)
    with pytest.raises(ValidationFailed, match="is leaving"):
        plan.choose(case, d.maths_a, leaving_too, actor=d.admin)


def test_choose_refuses_someone_elses_assignment_and_another_schools_teacher(departure, today, org):
    d = departure
    case = to_handover(d)
    colleagues_own = factories.make_assignment(factories.make_class(org.school_a, name="9(9)"), d.colleague,
                                               subject=d.maths)
    with pytest.raises(ValidationFailed) as raised:
        plan.choose(case, colleagues_own, d.other, actor=d.admin)
    assert raised.value.field == "assignment"
    elsewhere = factories.make_staff(org.school_b, subjects=[d.maths])
    with pytest.raises(ValidationFailed) as raised:
        plan.choose(case, d.maths_a, elsewhere, actor=d.admin)
    assert raised.value.field == "staff"
    assert case.plan == []


def test_unplanned_and_loads_follow_the_choices(departure, today):
    d = departure
    case = to_handover(d)
    assert {a.id for a in plan.unplanned(case)} == {d.maths_a.id, d.maths_b.id, d.homeroom_a.id}
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin)
    assert [a.id for a in plan.unplanned(case)] == [d.homeroom_a.id]
    loads = {load.staff.id: load for load in plan.loads_after(case)}
    assert (loads[d.colleague.id].before, loads[d.colleague.id].added, loads[d.colleague.id].after) == (0, 5, 5)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    d.colleague.max_weekly_periods = 6
    loads = {load.staff.id: load for load in plan.loads_after(case)}
    assert loads[d.colleague.id].after == 7 and loads[d.colleague.id].over
    plan.choose(case, d.homeroom_a, None, actor=d.admin)  # cleared again
    assert [a.id for a in plan.unplanned(case)] == [d.homeroom_a.id]


def test_confirm_names_the_classes_still_without_a_replacement(departure, today):
    d = departure
    case = to_handover(d)
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    with pytest.raises(ValidationFailed) as raised:
        plan.confirm(case, actor=d.admin)
    assert raised.value.field == "plan"
    assert "7(3) Maths" in raised.value.message and "7(2)" in raised.value.message
    assert case.status == CaseStatus.HANDOVER


def test_the_effective_day_is_between_tomorrow_and_the_day_after_the_last_day(departure, today):
    d = departure
    case = to_handover(d)
    with pytest.raises(ValidationFailed, match="2027-01-09"):
        plan.set_effective_on(case, effective_on=date(2027, 1, 10), actor=d.admin)
    with pytest.raises(ValidationFailed, match="after today"):
        plan.set_effective_on(case, effective_on=today, actor=d.admin)
    plan.set_effective_on(case, effective_on=date(2026, 12, 14), actor=d.admin)
    assert plan.effective_day(case) == date(2026, 12, 14)


def test_wording_is_stored_per_language_and_capped(departure, today):
    d = departure
    case = to_handover(d)
    plan.set_wording(case, wording={"en": "Dear families,", "zh": "各位家长："}, actor=d.admin)
    assert case.notice_wording == {"en": "Dear families,", "zh": "各位家长："}
    with pytest.raises(ValidationFailed):
        plan.set_wording(case, wording={"en": "x" * 2001}, actor=d.admin)
    assert case.notice_wording == {"en": "Dear families,", "zh": "各位家长："}


# --- a successful confirmation --------------------------------------------------------------------------------


def test_confirm_moves_future_untouched_lessons_and_leaves_the_past(departure, today, term):
    d = departure
    cancelled = db.session.scalar(sa.select(Lesson).where(Lesson.class_id == d.class_a.id,
                                                          Lesson.day >= EFFECTIVE).order_by(Lesson.day))
    ledger.cancel_lesson(cancelled, "School trip", SYSTEM)
    def leavings(first, last=date(2027, 1, 22)):
        return set(db.session.scalars(sa.select(Lesson.id).where(
            Lesson.taught_by_id == d.leaving.id, Lesson.day >= first, Lesson.day <= last)))

    past, future = leavings(date(2026, 9, 1), LAST_DAY), leavings(EFFECTIVE)
    assert past and future
    all_before = {row[0] for row in snapshot()["lessons"]}
    case = to_handover(d)
    choose_all(d, case)
    written = plan.confirm(case, actor=d.admin)

    assert case.status == CaseStatus.REASSIGNED and case.effective_on == EFFECTIVE
    assert written == len(d.guardians) + 1
    assert leavings(date(2026, 9, 1), LAST_DAY) == past  # the past stays as it was taught
    assert leavings(EFFECTIVE) == set()
    assert set(db.session.scalars(sa.select(Lesson.taught_by_id).where(Lesson.id.in_(future)))) == {d.colleague.id}
    assert taught_by(d.class_a, d.maths.id, date(2026, 9, 1), LAST_DAY) == {d.leaving.id}
    for school_class in (d.class_a, d.class_b):
        assert taught_by(school_class, d.maths.id, EFFECTIVE) == {d.colleague.id}
    still = db.session.get(Lesson, cancelled.id)
    assert (still.kind, still.scheduled_staff_id) == (LessonKind.CANCELLED, d.leaving.id)  # adjusted: as recorded
    assert {row[0] for row in snapshot()["lessons"]} == all_before  # lessons moved, none added or deleted
    slots = dict(db.session.execute(sa.select(TimetableSlot.id, TimetableSlot.staff_id)).all())
    assert d.leaving.id not in slots.values()


def test_confirm_ends_old_assignments_and_starts_new_ones(departure, today):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    plan.confirm(case, actor=d.admin)
    for old in (d.maths_a, d.maths_b, d.homeroom_a):
        assert db.session.get(Assignment, old.id).ends_on == LAST_DAY
    for school_class in (d.class_a, d.class_b):
        current = db.session.scalars(sa.select(Assignment).where(
            Assignment.class_id == school_class.id, Assignment.starts_on <= EFFECTIVE,
            sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= EFFECTIVE))).all()
        assert sorted((a.role, a.subject_id, a.staff_id) for a in current) == sorted(
            [("subject", d.maths.id, d.colleague.id)]
            + ([("homeroom", None, d.colleague.id)] if school_class is d.class_a else []))
    for row in case.plan:
        assert row.confirmed_at is not None and row.effective_on == EFFECTIVE
        assert row.new_assignment.staff_id == d.colleague.id and row.new_assignment.starts_on == EFFECTIVE
    assert plan.unplanned(case) == []


def test_confirm_with_an_earlier_effective_day(departure, today, term):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    plan.set_effective_on(case, effective_on=date(2026, 12, 14), actor=d.admin)
    plan.confirm(case, actor=d.admin)
    assert taught_by(d.class_a, d.maths.id, date(2026, 12, 7), date(2026, 12, 13)) == {d.leaving.id}
    assert taught_by(d.class_a, d.maths.id, date(2026, 12, 14)) == {d.colleague.id}
    assert db.session.get(Assignment, d.maths_a.id).ends_on == date(2026, 12, 13)


def test_a_qualification_override_is_carried_to_the_new_assignment(departure, today):
    d = departure
    licence = make_type("MATHLIC", "Maths teaching licence", required_for="teaching", subjects=[d.maths])
    make_credential(d.colleague, licence, issued_on=date(2026, 1, 1))
    case = to_handover(d)
    line = next(line for line in plan.lines(case) if line.assignment.id == d.maths_b.id)
    other = next(c for c in line.candidates if c.staff.id == d.other.id)
    assert not other.qualified and "Maths teaching licence" in other.missing
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin, override_reason="Licence exam passed, paper on its way")
    plan.confirm(case, actor=d.admin)
    new = next(r.new_assignment for r in case.plan if r.old_assignment_id == d.maths_b.id)
    assert new.staff_id == d.other.id and new.qualification_override == "Licence exam passed, paper on its way"


# --- all or nothing -------------------------------------------------------------------------------------------


@pytest.fixture
def applied(monkeypatch):
    """Counts the lines applied before the failure (the failure is in the middle, not before the first)."""
    calls = []
    original = assignment_services.change_teacher

    def counting(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(args[0].id)
        return result

    monkeypatch.setattr(assignment_services, "change_teacher", counting)
    return calls


def _confirm_fails(d, case, error=DomainError) -> DomainError:
    db.session.commit()  # the plan is saved; the confirmation is the caller's next transaction
    before = snapshot()
    with pytest.raises(error) as raised:
        plan.confirm(case, actor=d.admin)
    db.session.rollback()  # what the view does on any DomainError
    assert snapshot() == before
    db.session.refresh(case)
    assert case.status == CaseStatus.HANDOVER and case.reassigned_at is None
    assert d.leaving.status == "on_notice"
    return raised.value


def test_a_timetable_clash_on_the_last_line_changes_nothing(departure, today, term, applied, org):
    d = departure
    elsewhere = factories.make_class(org.school_a, name="8(1)")
    make_slot(term, TUE, 2, elsewhere, d.maths, d.other)  # Zhao teaches 8(1) when 7(3) has Maths
    case = to_handover(d)
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin)
    future_a = taught_by(d.class_a, d.maths.id, EFFECTIVE)
    error = _confirm_fails(d, case, Conflict)
    assert applied == [d.maths_a.id, d.homeroom_a.id]  # two lines had been applied before the clash
    assert "7(3)" in error.message and "already teaches 8(1)" in error.message
    assert taught_by(d.class_a, d.maths.id, EFFECTIVE) == future_a == {d.leaving.id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice)) == 0


def test_a_teacher_over_their_weekly_maximum_changes_nothing(departure, today, term, applied):
    d = departure
    d.other.max_weekly_periods = 4  # 7(3) Maths is 5 periods a week
    case = to_handover(d)
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin)
    error = _confirm_fails(d, case, ValidationFailed)
    assert len(applied) == 2
    assert "over their maximum of 4" in error.message and error.message.startswith("7(3)")
    assert error.field == f"line-{d.maths_b.id}"


def test_a_missing_credential_without_an_override_changes_nothing(departure, today, term, applied):
    d = departure
    licence = make_type("MATHLIC", "Maths teaching licence", required_for="teaching", subjects=[d.maths])
    make_credential(d.colleague, licence, issued_on=date(2026, 1, 1))
    case = to_handover(d)
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin)
    error = _confirm_fails(d, case, ValidationFailed)
    assert len(applied) == 2
    assert error.field == f"line-{d.maths_b.id}" and "Maths teaching licence" in error.message


def test_a_failure_in_writing_the_notices_changes_nothing(departure, today, term, monkeypatch):
    d = departure
    case = to_handover(d)
    choose_all(d, case)
    from app.school.offboarding.services import notices

    def broken(case, *, actor):
        raise Conflict("The outbox refused the notices.")

    monkeypatch.setattr(notices, "write_notices", broken)
    _confirm_fails(d, case, Conflict)


def test_a_case_confirmed_after_rollback_succeeds_once_fixed(departure, today, term):
    d = departure
    d.other.max_weekly_periods = 4
    case = to_handover(d)
    plan.choose(case, d.maths_a, d.colleague, actor=d.admin)
    plan.choose(case, d.homeroom_a, d.colleague, actor=d.admin)
    plan.choose(case, d.maths_b, d.other, actor=d.admin)
    _confirm_fails(d, case, ValidationFailed)
    plan.choose(case, d.maths_b, d.colleague, actor=d.admin)
    plan.confirm(case, actor=d.admin)
    assert case.status == CaseStatus.REASSIGNED
    assert taught_by(d.class_b, d.maths.id, EFFECTIVE) == {d.colleague.id}


def test_the_lines_can_be_read_before_the_handover(departure, today):
    case = open_case(departure)
    assert [line.assignment.id for line in plan.lines(case)] == [departure.maths_a.id, departure.homeroom_a.id,
                                                                  departure.maths_b.id]
    assert cases.open_case_of(departure.leaving).id == case.id
