"""Employment bounds the ledger and the pay; a correction that drops a teacher says so; opening a run twice at once
is a clear message; a backdated change of teacher leaves a locked month's lessons as they were paid."""
from datetime import date

import pytest
import sqlalchemy as sa

from app.core.errors import Conflict
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.school.teaching.models import Lesson, PayLine
from app.school.teaching.services import ledger, payruns
from tests import factories
from tests.school.pay.conftest import OCTOBER, D, locked_run, put_lesson, save_test_scheme


def _lines(run) -> dict[int, PayLine]:
    return {line.staff_id: line for line in db.session.scalars(sa.select(PayLine).where(PayLine.run_id == run.id))}


def test_no_lessons_are_generated_before_a_teacher_joins(pay_school):
    ps = pay_school
    ps.wang.hired_on = date(2026, 10, 16)
    db.session.flush()
    result = ledger.generate_term(ps.term, ps.admin)
    wang = [lesson.day for lesson in db.session.scalars(sa.select(Lesson).where(Lesson.taught_by_id == ps.wang.id))]
    assert wang and min(wang) >= date(2026, 10, 16)
    assert result.blocked > 0  # the days before were counted, not silently dropped


def test_a_lesson_after_a_teacher_left_is_no_pay(pay_school):
    ps = pay_school
    save_test_scheme(ps.school, ps.admin)
    put_lesson(ps, ps.zhao, date(2026, 10, 12), 5)
    put_lesson(ps, ps.zhao, date(2026, 10, 20), 5)
    ps.zhao.departed_on = date(2026, 10, 15)
    db.session.flush()
    line = {line.staff_id: line for line in payruns.compute([ps.school.id], OCTOBER)}[ps.zhao.id]
    assert line.periods == D("1")  # the 20 October lesson is after his last day


def test_a_correction_that_drops_a_teacher_pays_them_zero_and_tells_them(pay_school):
    from app.general.notifications.models import Notification

    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    save_test_scheme(ps.school, ps.admin)
    extra = put_lesson(ps, ps.zhao, date(2026, 10, 13), 6)
    run = locked_run(ps, OCTOBER)
    assert ps.zhao.id in _lines(run)
    db.session.delete(extra)
    db.session.flush()
    correction = payruns.start_correction(run, "Zhao's extra lesson did not take place", ps.admin)
    payruns.calculate_run(correction, ps.admin)
    line = _lines(correction)[ps.zhao.id]
    assert line.total == D("0.00") and line.detail["dropped"]
    assert payruns.differences(correction, run)[ps.zhao.id].change < 0
    payruns.approve_run(correction, ps.head)
    payruns.lock_run(correction, ps.admin)
    told = db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.template == "teaching/messages/statement", Notification.recipient_user_id == ps.zhao.user_id))
    assert told == 4  # inbox and e-mail, for the first version and for the correction


def test_two_admins_opening_the_same_run_at_once_get_a_message(pay_school, monkeypatch):
    ps = pay_school
    first = payruns.open_run(ps.school, OCTOBER, ps.admin)
    monkeypatch.setattr(payruns, "latest_run", lambda school_id, month: None)  # as if read before the first commit
    with pytest.raises(Conflict, match="opened by someone else"):
        payruns.open_run(ps.school, OCTOBER, ps.admin)
    assert db.session.get(type(first), first.id) is not None


def test_a_backdated_change_of_teacher_leaves_a_locked_month_as_paid(pay_school):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    save_test_scheme(ps.school, ps.admin)
    locked_run(ps, OCTOBER)
    slot_ids = [slot.id for slot in ps.slots]
    moved = ledger.move_future_lessons(slot_ids, ps.zhao.id, date(2026, 10, 12), ps.admin)
    october = {lesson.taught_by_id for lesson in db.session.scalars(sa.select(Lesson).where(
        Lesson.slot_id.in_(slot_ids), Lesson.day >= date(2026, 10, 12), Lesson.day <= date(2026, 10, 31)))}
    november = {lesson.taught_by_id for lesson in db.session.scalars(sa.select(Lesson).where(
        Lesson.slot_id.in_(slot_ids), Lesson.day >= date(2026, 11, 1)))}
    assert moved > 0 and october == {ps.wang.id} and november == {ps.zhao.id}


def test_reading_a_whole_run_is_audited(pay_school, client):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    save_test_scheme(ps.school, ps.admin)
    run = payruns.open_run(ps.school, OCTOBER, ps.admin)
    payruns.calculate_run(run, ps.admin)
    db.session.commit()
    factories.log_in(client, ps.head)
    assert client.get(f"/teaching/pay/runs/{run.id}").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pay.run_viewed", AuditEvent.subject_id == str(run.id))) == 1


def test_the_same_new_scheme_or_bonus_submitted_twice_is_saved_once(pay_school):
    from app.school.teaching.models import BonusType, PayScheme
    from app.school.teaching.services import schemes

    ps = pay_school
    first = save_test_scheme(ps.school, ps.admin)
    assert save_test_scheme(ps.school, ps.admin).id == first.id
    data = {"code": "OPEN", "name": "Open class", "amount": "200", "monthly_cap": "300"}
    assert schemes.save_bonus_type(ps.school, data, ps.admin).id == schemes.save_bonus_type(ps.school, data,
                                                                                             ps.admin).id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayScheme)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BonusType)) == 1


def test_a_correction_tells_only_the_teachers_whose_pay_it_changes(pay_school):
    from app.general.notifications.models import Notification

    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    save_test_scheme(ps.school, ps.admin)
    run = locked_run(ps, OCTOBER)
    put_lesson(ps, ps.zhao, date(2026, 10, 14), 6)  # only Zhao's pay changes
    correction = payruns.start_correction(run, "Zhao's extra lesson was recorded late", ps.admin)
    payruns.calculate_run(correction, ps.admin)
    payruns.approve_run(correction, ps.head)
    payruns.lock_run(correction, ps.admin)
    told = set(db.session.scalars(sa.select(Notification.recipient_user_id).where(
        Notification.template == "teaching/messages/statement",
        Notification.idempotency_key.like("payline:%"), Notification.created_at >= correction.locked_at)))
    assert told == {ps.zhao.user_id}


def test_the_month_for_every_school_at_once_gives_each_run_its_own_calculation(pay_school, org):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    save_test_scheme(ps.school, ps.admin)
    save_test_scheme(org.school_b, factories.make_user("admin", unit=org.district), homeroom_allowance="700")
    other = factories.make_staff(org.school_b, family_name="Sun", given_name="Yue")
    b_class = factories.make_class(org.school_b, name="5(1)", grade=5)
    factories.make_assignment(b_class, other, starts_on=date(2026, 9, 1))  # homeroom at school B
    district_admin = factories.make_user("admin", unit=org.district)
    put_lesson(ps, ps.zhao, date(2026, 10, 13), 6)
    done = payruns.calculate_month([ps.school, org.school_b], OCTOBER, district_admin)
    assert len(done.runs) == 2 and not done.skipped
    together = {run.school_id: {staff: line.total for staff, line in _lines(run).items()} for run in done.runs}
    assert together[org.school_b.id] == {other.id: D("700.00")}
    run_a = next(run for run in done.runs if run.school_id == ps.school.id)
    alone = payruns.calculate_run(run_a, district_admin)
    assert {staff: line.total for staff, line in _lines(run_a).items()} == together[ps.school.id]
    assert alone.lines == len(together[ps.school.id])
    # pressing it again changes nothing; an approved run is left as it is
    payruns.approve_run(run_a, factories.make_user("head", unit=ps.school))
    again = payruns.calculate_month([ps.school, org.school_b], OCTOBER, district_admin)
    assert [run.id for run in again.skipped] == [run_a.id] and len(again.runs) == 1
    assert {staff: line.total for staff, line in _lines(again.runs[0]).items()} == together[org.school_b.id]
