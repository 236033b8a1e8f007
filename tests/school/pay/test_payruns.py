"""Pay runs through the services and the database: idempotent steps, statements published once, proration of
joiners and leavers, corrections with their differences, and a locked run immutable in the service AND in the
database (triggers, on SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.extensions import db
from app.general.notifications.models import Notification
from app.school.teaching.models import LessonKind, PayLine, PayRun, PayRunStatus
from app.school.teaching.services import ledger, payruns
from tests import factories
from tests.school.pay.conftest import OCTOBER, locked_run, put_lesson, save_test_scheme

D = Decimal
NOVEMBER = date(2026, 11, 1)
STATEMENT = "teaching/messages/statement"


@pytest.fixture
def ready(pay_school):
    """The term generated and the 2026 scheme (load 10, overtime 30, regular 50, cover 60, extra 55, homeroom
    allowance 600): in October Wang teaches 10 lessons (exactly the load) and Li is homeroom teacher."""
    ledger.generate_term(pay_school.term, pay_school.admin, from_day=pay_school.term.starts_on)
    save_test_scheme(pay_school.school, pay_school.admin)
    return pay_school


def _lines(run) -> dict[int, PayLine]:
    return {line.staff_id: line for line in db.session.scalars(sa.select(PayLine).where(PayLine.run_id == run.id))}


def _statements() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.template == STATEMENT))


# --- the happy path and its figures ----------------------------------------------------------------------------------


def test_a_month_calculated_into_lines_that_explain_themselves(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    result = payruns.calculate_run(run, ps.admin)
    lines = _lines(run)
    assert set(lines) == {ps.wang.id, ps.li.id}
    wang, li = lines[ps.wang.id], lines[ps.li.id]
    assert (wang.periods, wang.lesson_amount, wang.overtime_periods, wang.total) == (D("10"), D("500"), D("0"),
                                                                                     D("500"))
    assert (li.allowance_amount, li.total) == (D("600"), D("600"))
    assert run.status == PayRunStatus.CALCULATED
    assert result.lines == 2 and result.total == D("1100.00") == run.total
    for line in lines.values():
        assert line.total == line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount
        assert sum((D(r["amount"]) for r in line.detail["lessons"]), D("0")) == line.lesson_amount
        assert line.scheme_id is not None


def test_one_period_above_the_load_is_paid_the_premium(ready):
    ps = ready
    put_lesson(ps, ps.wang, date(2026, 10, 15), 5, periods="0.1")  # 10.1 periods: load + 0.1
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    wang = _lines(run)[ps.wang.id]
    assert wang.periods == D("10.1")
    assert wang.overtime_periods == D("0.1")
    assert wang.overtime_amount == D("3.00")
    assert wang.lesson_amount == D("505.50")  # 500 + 0.1 × 55


def test_a_run_without_a_scheme_is_refused_with_a_message(pay_school):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    with pytest.raises(ValidationFailed) as raised:
        payruns.calculate_run(run, ps.admin)
    assert "no pay scheme" in raised.value.message


def test_roles_admin_calculates_head_approves(ready, org):
    ps = ready
    with pytest.raises(NotAllowed):
        payruns.open_run(ps.school, OCTOBER, ps.head)
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    with pytest.raises(NotAllowed):
        payruns.calculate_run(run, ps.head)
    payruns.calculate_run(run, ps.admin)
    with pytest.raises(NotAllowed):
        payruns.approve_run(run, ps.admin)
    with pytest.raises(NotAllowed):  # the head of another school
        payruns.approve_run(run, factories.make_user("head", unit=org.school_b))
    payruns.approve_run(run, ps.head)


# --- idempotency ------------------------------------------------------------------------------------------------------


def test_open_run_twice_is_the_same_run(ready):
    ps = ready
    run = payruns.open_run(ps.school, date(2026, 10, 17), ps.admin)
    assert payruns.open_run(ps.school, OCTOBER, ps.admin).id == run.id
    assert run.month == OCTOBER and run.number == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayRun)) == 1


def test_calculating_twice_gives_the_same_lines_without_duplicates(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    first = payruns.calculate_run(run, ps.admin)
    before = {s: (line.total, line.periods, line.detail) for s, line in _lines(run).items()}
    second = payruns.calculate_run(run, ps.admin)
    db.session.expire_all()
    after = {s: (line.total, line.periods, line.detail) for s, line in _lines(run).items()}
    assert first == second
    assert after == before
    count = db.session.scalar(sa.select(sa.func.count()).select_from(PayLine).where(PayLine.run_id == run.id))
    assert count == len(before) == 2


def test_recalculating_picks_up_a_change_in_the_ledger(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    lesson = db.session.scalar(sa.select(ledger.Lesson).where(ledger.Lesson.day == date(2026, 10, 14)))
    ledger.assign_cover(lesson, ps.zhao, "Wang away", ps.admin)
    payruns.calculate_run(run, ps.admin)
    lines = _lines(run)
    assert lines[ps.zhao.id].total == D("60.00") and lines[ps.wang.id].total == D("450.00")
    assert run.total == D("1110.00")


def test_approve_twice_and_lock_twice_publish_one_set_of_statements(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    approved_at = run.approved_at
    assert payruns.approve_run(run, ps.head).approved_at == approved_at
    assert _statements() == 0  # nothing is published before the lock
    payruns.lock_run(run, ps.admin)
    published = _statements()
    assert published == 4  # Wang and Li, inbox and e-mail each
    payruns.lock_run(run, ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.approve_run(run, ps.head)
    assert _statements() == published
    recipients = set(db.session.scalars(sa.select(Notification.recipient_user_id)
                                        .where(Notification.template == STATEMENT)))
    assert recipients == {ps.wang.user_id, ps.li.user_id}


def test_return_then_approve_again(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    with pytest.raises(InvalidTransition):
        payruns.calculate_run(run, ps.admin)  # approved: send it back first
    payruns.return_run(run, "Li's homeroom dates were wrong", ps.admin)
    assert run.status == PayRunStatus.CALCULATED and run.approved_by_id is None
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    assert run.status == PayRunStatus.APPROVED


def test_a_run_whose_ledger_changed_since_calculation_cannot_be_approved_or_locked(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    lesson = db.session.scalar(sa.select(ledger.Lesson).where(ledger.Lesson.day == date(2026, 10, 14)))
    ledger.assign_cover(lesson, ps.zhao, "Wang away", ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.approve_run(run, ps.head)
    payruns.calculate_run(run, ps.admin)
    payruns.approve_run(run, ps.head)
    ledger.cancel_lesson(db.session.scalar(sa.select(ledger.Lesson).where(ledger.Lesson.day == date(2026, 10, 16))),
                         "Trip", ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.lock_run(run, ps.admin)
    assert run.status == PayRunStatus.APPROVED and _statements() == 0


def test_a_draft_cannot_be_approved_or_locked(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.approve_run(run, ps.head)
    with pytest.raises(InvalidTransition):
        payruns.lock_run(run, ps.admin)


# --- locked: the service ---------------------------------------------------------------------------------------------


def test_a_locked_run_is_refused_by_every_service_step(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    total, lines = run.total, {s: line.total for s, line in _lines(run).items()}
    with pytest.raises(InvalidTransition):
        payruns.calculate_run(run, ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.approve_run(run, ps.head)
    with pytest.raises(InvalidTransition):
        payruns.return_run(run, "Oops", ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.open_run(ps.school, OCTOBER, ps.admin)
    db.session.expire_all()
    assert run.status == PayRunStatus.LOCKED and run.total == total
    assert {s: line.total for s, line in _lines(run).items()} == lines


def test_a_correction_is_version_two_and_shows_the_difference(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    correction = payruns.start_correction(run, "An extra lesson of Wang's was missed", ps.admin)
    assert (correction.number, correction.corrects_id, correction.status) == (2, run.id, PayRunStatus.DRAFT)
    assert payruns.start_correction(run, "again", ps.admin).id == correction.id  # pressed twice
    assert payruns.open_run(ps.school, OCTOBER, ps.admin).id == correction.id
    put_lesson(ps, ps.wang, date(2026, 10, 15), 5)  # the missed extra lesson: 55 + one period overtime 30
    payruns.calculate_run(correction, ps.admin)
    assert payruns.baseline(correction).id == run.id
    changes = payruns.differences(correction, payruns.baseline(correction))
    assert changes[ps.wang.id].before == D("500.00") and changes[ps.wang.id].after == D("585.00")
    assert changes[ps.wang.id].change == D("85.00")
    assert changes[ps.li.id].change == D("0")
    assert _lines(run)[ps.wang.id].total == D("500.00")  # the locked version keeps its figures
    payruns.approve_run(correction, ps.head)
    before = _statements()
    payruns.lock_run(correction, ps.admin)
    assert _statements() == before + 2  # only Wang's pay changed: he alone is told (portal and e-mail)
    contexts = db.session.scalars(sa.select(Notification.context).where(Notification.template == STATEMENT)).all()
    assert sorted(c["correction"] for c in contexts) == [False] * 4 + [True] * 2
    assert {c["total"] for c in contexts if c["correction"]} == {"585.00"}
    assert payruns.latest_run(ps.school.id, OCTOBER).id == correction.id


def test_only_the_newest_locked_run_can_be_corrected(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    correction = payruns.start_correction(run, "Fix", ps.admin)
    payruns.calculate_run(correction, ps.admin)
    payruns.approve_run(correction, ps.head)
    payruns.lock_run(correction, ps.admin)
    with pytest.raises(InvalidTransition):
        payruns.start_correction(run, "Fix the old one", ps.admin)
    third = payruns.start_correction(correction, "Fix again", ps.admin)
    assert (third.number, third.corrects_id) == (3, correction.id)


def test_the_first_run_has_no_baseline_and_every_line_is_new(ready):
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    assert payruns.baseline(run) is None
    changes = payruns.differences(run, None)
    assert {s: (c.before, c.change) for s, c in changes.items()} == {ps.wang.id: (None, D("500.00")),
                                                                      ps.li.id: (None, D("600.00"))}
    assert changes[ps.wang.id].name == ps.wang.full_name


def test_the_next_month_is_compared_with_the_locked_one(ready):
    ps = ready
    october = locked_run(ps, OCTOBER)
    november = payruns.open_run(ps.school, NOVEMBER, ps.admin)
    payruns.calculate_run(november, ps.admin)
    assert payruns.baseline(november).id == october.id
    changes = payruns.differences(november, october)
    assert set(changes) == {ps.wang.id, ps.li.id}
    assert changes[ps.wang.id].before == D("500.00")


# --- locked: the database -------------------------------------------------------------------------------------------


def _refused(statement, because: str = "locked"):
    """The statement fails in the database itself (the lock trigger), leaving the session usable."""
    with pytest.raises(sa.exc.DatabaseError) as raised, db.session.begin_nested():
        db.session.execute(statement)
    assert because in str(raised.value.orig)


def test_the_database_refuses_changing_or_deleting_a_locked_run(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    db.session.flush()
    _refused(sa.update(PayRun).where(PayRun.id == run.id).values(total=D("1")))
    _refused(sa.update(PayRun).where(PayRun.id == run.id).values(status="draft"))
    _refused(sa.delete(PayRun).where(PayRun.id == run.id))
    assert db.session.scalar(sa.select(PayRun.total).where(PayRun.id == run.id)) == D("1100.00")


def test_the_database_refuses_changing_deleting_or_adding_lines_of_a_locked_run(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    db.session.flush()
    _refused(sa.update(PayLine).where(PayLine.run_id == run.id).values(total=0, lesson_amount=0, allowance_amount=0))
    _refused(sa.delete(PayLine).where(PayLine.run_id == run.id))
    _refused(sa.insert(PayLine).values(run_id=run.id, staff_id=ps.zhao.id, periods=0, lesson_amount=0,
                                       overtime_periods=0, overtime_amount=0, allowance_amount=0, bonus_amount=0,
                                       total=0, proration=1, detail={}))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayLine).where(PayLine.run_id == run.id)) == 2


def test_the_database_refuses_moving_a_line_out_of_a_locked_run(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    november = payruns.open_run(ps.school, NOVEMBER, ps.admin)
    db.session.flush()
    with pytest.raises(sa.exc.DatabaseError), db.session.begin_nested():
        db.session.execute(sa.update(PayLine).where(PayLine.run_id == run.id).values(run_id=november.id))


def test_an_orm_change_to_a_locked_run_fails_at_flush(ready):
    ps = ready
    run = locked_run(ps, OCTOBER)
    db.session.flush()
    with pytest.raises(sa.exc.DatabaseError), db.session.begin_nested():
        run.total = D("0")
        db.session.flush()


def test_an_open_run_can_still_change_in_the_database(ready):
    """The control for the tests above: the triggers stop only locked runs."""
    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    db.session.flush()
    db.session.execute(sa.update(PayLine).where(PayLine.run_id == run.id).values(bonus_amount=1,
                                                                                  total=PayLine.total + 1))
    db.session.execute(sa.delete(PayLine).where(PayLine.run_id == run.id))


def test_the_database_allows_one_open_run_per_school_and_month(ready):
    ps = ready
    payruns.open_run(ps.school, OCTOBER, ps.admin)
    db.session.flush()
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(sa.insert(PayRun).values(school_id=ps.school.id, month=OCTOBER, number=2,
                                                    status="draft", total=0, line_count=0, lesson_count=0,
                                                    created_at=sa.func.now(), version=1))


# --- proration through the database ---------------------------------------------------------------------------------


def test_a_teacher_hired_on_the_16th_has_a_prorated_load(ready):
    ps = ready
    newcomer = factories.make_staff(ps.school, family_name="Sun", given_name="Li", subjects=[ps.math],
                                    hired_on=date(2026, 10, 16))
    for day in (19, 20, 21, 22, 23, 26):  # six periods; load 10 × 16/31 = 5.16 → 5.2
        put_lesson(ps, newcomer, date(2026, 10, day), 7)
    line = {line.staff_id: line for line in payruns.compute([ps.school.id], OCTOBER)}[newcomer.id]
    assert line.proration == D("0.5161")
    assert line.detail["overtime"]["load"] == "5.2"
    assert line.overtime_periods == D("0.8")
    assert line.overtime_amount == D("24.00")


def test_a_teacher_who_left_mid_month_has_a_prorated_load_and_allowance(ready):
    ps = ready
    ps.li.departed_on = date(2026, 10, 15)
    db.session.flush()
    line = {line.staff_id: line for line in payruns.compute([ps.school.id], OCTOBER)}[ps.li.id]
    assert line.allowance_amount == D("290.32")  # 600 × 15/31
    assert line.proration == D("0.4839")


def test_final_month_pay_prorates_allowance_load_and_lessons(ready):
    ps = ready
    for day in (13, 14):  # Li taught two extra lessons before leaving on the 15th
        put_lesson(ps, ps.li, date(2026, 10, day), 6)
    put_lesson(ps, ps.li, date(2026, 10, 20), 6)  # after the last day: not paid
    line = payruns.final_month_pay(ps.li, date(2026, 10, 15))
    assert line is not None and line.staff_id == ps.li.id
    assert line.allowance_amount == D("290.32")  # 600 × 15/31
    assert line.periods == D("2.0") and line.lesson_amount == D("110.00")
    assert line.detail["overtime"]["load"] == "4.8"  # 10 × 15/31 = 4.84
    assert line.detail["employment"]["to"] == "2026-10-15"
    assert line.total == line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount
    assert line.total == D("400.32")
    # nothing was written
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayLine)) == 0


def test_final_month_pay_of_a_teacher_with_nothing_to_pay_is_none(ready):
    assert payruns.final_month_pay(ready.zhao, date(2026, 10, 15)) is None


def test_final_month_pay_counts_wangs_lessons_to_the_last_day(ready):
    ps = ready
    line = payruns.final_month_pay(ps.wang, date(2026, 10, 16))
    assert line.periods == D("4.0")  # the 9th, 12th, 14th and 16th
    assert line.detail["overtime"]["load"] == "5.2"  # 10 × 16/31
    assert line.overtime_periods == D("0.0")
    assert line.lesson_amount == D("200.00")


def test_lesson_counts_of_the_run(ready):
    ps = ready
    lesson = db.session.scalar(sa.select(ledger.Lesson).where(ledger.Lesson.day == date(2026, 10, 14)))
    ledger.cancel_lesson(lesson, "Trip", ps.admin)
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    assert run.lesson_count == 9 and run.line_count == 2
    assert LessonKind.CANCELLED not in _lines(run)[ps.wang.id].detail["by_kind"]


def test_no_allowance_in_a_month_after_the_teacher_left(ready):
    ps = ready
    ps.li.departed_on = date(2026, 9, 30)  # left; the homeroom assignment was not ended yet
    ps.li.status = "departed"
    db.session.flush()
    lines = {line.staff_id: line for line in payruns.compute([ps.school.id], OCTOBER)}
    assert ps.li.id not in lines  # not employed in October: no allowance, no line


def test_a_bonus_paid_after_the_teacher_left_is_written_as_a_line(ready):
    """Someone not employed in the month (no scheme, no dates) still gets a written line for an approved bonus."""
    from app.school.teaching.services import schemes

    ps = ready
    coaching = schemes.save_bonus_type(ps.school, {"code": "COACH", "name": "Coaching", "amount": "150"}, ps.admin)
    award = schemes.propose_award(ps.li, coaching, date(2026, 9, 20), "Maths olympiad", "certificate", ps.admin)
    september = locked_run(ps, date(2026, 9, 1))
    assert ps.li.id in _lines(september)
    schemes.approve_award(award, "", ps.head)
    assert award.pay_month == OCTOBER
    ps.li.departed_on = date(2026, 9, 30)
    ps.li.status = "departed"
    db.session.flush()
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    line = _lines(run)[ps.li.id]
    assert (line.bonus_amount, line.allowance_amount, line.total) == (D("150.00"), D("0.00"), D("150.00"))
    assert line.proration == D("0") and line.scheme_id is None
    assert line.detail["employment"]["days"] == 0


def test_a_stale_version_is_refused(ready):
    from app.core.errors import Conflict

    ps = ready
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    seen = run.version
    payruns.calculate_run(run, ps.admin, expected_version=seen)
    with pytest.raises(Conflict):
        payruns.approve_run(run, ps.head, expected_version=seen)  # someone recalculated since
    assert run.status == PayRunStatus.CALCULATED


def test_the_runs_lesson_count_counts_lessons_not_periods(ready):
    ps = ready
    for period in (5, 6, 7):  # three homeroom duties of half a period each
        put_lesson(ps, ps.li, date(2026, 10, 15), period, kind=LessonKind.HOMEROOM, periods="0.5")
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    assert run.lesson_count == 13  # 10 of Wang's + 3 duties (11.5 periods)


def test_a_month_without_lessons_still_pays_the_homeroom_allowance(ready):
    """The loader's empty path (no lesson row to stream) on both databases."""
    ps = ready
    save_test_scheme(ps.school, ps.admin, name="Summer", effective_from="2026-08-01", homeroom_allowance="620")
    factories.make_assignment(ps.class_3, ps.zhao, starts_on=date(2026, 8, 1))  # homeroom of 7(3)
    run = payruns.open_run(ps.school, date(2026, 8, 1), ps.admin)
    result = payruns.calculate_run(run, ps.admin)
    lines = _lines(run)
    assert set(lines) == {ps.zhao.id}
    assert lines[ps.zhao.id].allowance_amount == D("620.00") and lines[ps.zhao.id].periods == D("0")
    assert result.lessons == 0 and result.total == D("620.00")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_loaded_month_equals_a_reference_read_through_the_orm(ready, seed):
    """payinputs' SQL (COPY on PostgreSQL, strftime on SQLite) + the pandas engine against the plain reference fed
    from ORM rows: day of month, periods in tenths, cancelled and out-of-month lessons left out, class sizes."""
    import random

    from app.school.classes.models import Enrollment
    from app.school.teaching.models import Lesson
    from app.school.teaching.payinputs import scheme_infos
    from tests.school.pay.test_engine_properties import Month, reference

    ps = ready
    rnd = random.Random(seed)
    save_test_scheme(ps.school, ps.admin, name="Mid-October", effective_from="2026-10-19", rate_extra="57.77",
                     rate_homeroom="12.34", standard_monthly_periods="7.5",
                     multipliers=[{"basis": "class_size", "low": "2", "high": "3", "factor": "1.125"}])
    for _ in range(rnd.randint(1, 4)):
        factories.make_student(ps.school, school_class=ps.class_3, starts_on=date(2026, 9, 1))
    taken, class_taken = set(), set()
    for _ in range(60):
        staff = rnd.choice([ps.wang, ps.li, ps.zhao, ps.chen])
        day = date(2026, rnd.choice([9, 10, 10, 10, 11]), 1) if rnd.random() < 0.1 else \
            date(2026, 10, rnd.randint(8, 31))
        period = rnd.randint(5, 12)
        school_class = rnd.choice([None, ps.class_2, ps.class_3])
        if (staff.id, day, period) in taken or (school_class and (school_class.id, day, period) in class_taken):
            continue
        taken.add((staff.id, day, period))
        if school_class:
            class_taken.add((school_class.id, day, period))
        put_lesson(ps, staff, day, period, kind=rnd.choice(["extra", "open_class", "invigilation", "homeroom"]),
                   periods=rnd.choice(["0.1", "0.5", "1", "1.5", "2"]), school_class=school_class)
    for lesson in rnd.sample(db.session.scalars(sa.select(Lesson).where(Lesson.slot_id.is_not(None),
                                                                         Lesson.day >= OCTOBER)).all(), 3):
        ledger.cancel_lesson(lesson, "Trip", ps.admin)
    db.session.flush()

    rows = db.session.scalars(sa.select(Lesson).where(Lesson.day >= OCTOBER, Lesson.day <= date(2026, 10, 31),
                                                      Lesson.kind != "cancelled")).all()
    lessons = [(r.taught_by_id, r.day.day, r.kind, int(r.periods * 10), r.class_id or -1) for r in rows]
    people = {r[0] for r in lessons} | {ps.li.id}
    students = db.session.scalar(sa.select(sa.func.count()).select_from(Enrollment)
                                 .where(Enrollment.class_id == ps.class_3.id))
    m = Month(OCTOBER, scheme_infos([ps.school.id], date(2026, 10, 31)), lessons,
              [(s, 1, 31) for s in sorted(people)], [(ps.li.id, 1, 31)], [],
              {ps.class_2.id: (0, 7), ps.class_3.id: (students, 7)})
    got = {line.staff_id: (line.periods, line.lesson_amount, line.overtime_amount, line.allowance_amount,
                           line.total) for line in payruns.compute([ps.school.id], OCTOBER)}
    want = {s: (v["periods"], v["lesson_amount"], v["overtime_amount"], v["allowance_amount"], v["total"])
            for s, v in reference(m).items()}
    assert got == want
