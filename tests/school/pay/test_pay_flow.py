"""The whole month, end to end through the services: timetable → ledger → cover → scheme → run → approve → lock."""
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.school.teaching.models import Closure, LessonKind, PayLine, PayRunStatus, Term, TimetableSlot
from app.school.teaching.services import ledger, payruns, schemes
from tests.factories import make_assignment, make_class, make_staff, make_subject, make_user


@pytest.fixture
def school_month(org):
    school = org.school_a
    admin = make_user("admin", unit=org.district)
    head = make_user("head", unit=school)
    maths = make_subject("MATH", "Maths")
    wang = make_staff(school, family_name="Wang", given_name="Fang", subjects=[maths], user=make_user("teacher"))
    li = make_staff(school, family_name="Li", given_name="Lei", subjects=[maths], user=make_user("teacher"))
    klass = make_class(school, name="7(2)")
    make_assignment(klass, wang, subject=maths)
    make_assignment(klass, li)  # homeroom
    term = Term(school=school, name="Autumn 2026", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 22))
    term.closures.append(Closure(name="National Day", starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 7)))
    db.session.add(term)
    db.session.flush()
    for weekday in (1, 3, 5):
        db.session.add(TimetableSlot(term=term, weekday=weekday, period=2, school_class=klass, subject=maths,
                                     staff=wang))
    db.session.flush()
    return school, admin, head, wang, li, term


def _scheme(school, admin, **overrides):
    data = {"name": "2026 scheme", "effective_from": "2026-09-01", "standard_monthly_periods": "10",
            "overtime_rate": "30", "homeroom_allowance": "600", "point_value": "5", "rate_regular": "50",
            "rate_cover": "60", "rate_extra": "55", "rate_open_class": "100", "rate_invigilation": "20",
            "rate_homeroom": "40"}
    return schemes.save_scheme(school, {**data, **overrides}, admin)


def test_month_from_timetable_to_locked_statement(school_month):
    school, admin, head, wang, li, term = school_month
    first = ledger.generate_term(term, admin)
    again = ledger.generate_term(term, admin)
    assert first.added > 0 and again.added == 0 and again.removed == 0

    october = list(db.session.scalars(db.select(ledger.Lesson).where(
        ledger.Lesson.day >= date(2026, 10, 1), ledger.Lesson.day <= date(2026, 10, 31))))
    assert all(lesson.day > date(2026, 10, 7) for lesson in october)  # the holiday week has none
    covered = october[0]
    ledger.assign_cover(covered, li, "Wang at a training day", admin)
    _scheme(school, admin, standard_monthly_periods="5")

    run = payruns.open_run(school, date(2026, 10, 1), admin)
    assert payruns.open_run(school, date(2026, 10, 1), admin).id == run.id
    payruns.calculate_run(run, admin)
    payruns.calculate_run(run, admin)
    lines = {line.staff_id: line for line in db.session.scalars(db.select(PayLine).where(PayLine.run_id == run.id))}
    assert set(lines) == {wang.id, li.id}
    taught_by_wang = len(october) - 1
    assert lines[wang.id].periods == Decimal(taught_by_wang)
    assert lines[wang.id].lesson_amount == Decimal(taught_by_wang) * 50
    assert lines[li.id].detail["by_kind"] == {LessonKind.COVER.value: "1.0"} and lines[li.id].periods == 1
    assert lines[li.id].lesson_amount == Decimal("60.00")
    assert lines[li.id].allowance_amount == Decimal("600.00")
    over = Decimal(taught_by_wang) - 5
    assert over > 0
    assert lines[wang.id].overtime_amount == over * 30
    for line in lines.values():
        assert line.total == line.lesson_amount + line.overtime_amount + line.allowance_amount + line.bonus_amount

    payruns.approve_run(run, head)
    payruns.approve_run(run, head)
    payruns.lock_run(run, admin)
    payruns.lock_run(run, admin)
    assert run.status == PayRunStatus.LOCKED
    db.session.flush()
    with pytest.raises(sa.exc.DatabaseError, match="locked"):
        with db.session.begin_nested():
            db.session.execute(db.update(PayLine).where(PayLine.run_id == run.id).values(total=0))
