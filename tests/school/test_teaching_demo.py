"""The demo's teaching and pay: a term with its timetable and ledger, covers, added lessons, a scheme with bonuses,
October locked and November calculated; teacher01 has hours, a cover and a locked October statement; a second load
adds nothing."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.auth.models import User
from app.school import demo
from app.school.classes.models import Assignment, AssignmentRole
from app.school.staff.models import StaffMember
from app.school.teaching.models import (
    Absence,
    AwardStatus,
    BonusAward,
    BonusType,
    Closure,
    Lesson,
    LessonKind,
    PayLine,
    PayRun,
    PayScheme,
    Term,
    TimetableSlot,
)

TABLES = (Term, Closure, TimetableSlot, Lesson, Absence, PayScheme, BonusType, BonusAward, PayRun, PayLine, AuditEvent)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def loaded(db):
    return demo.load_all()


def _count(model) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _staff(number: str) -> StaffMember:
    return _db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == number))


def test_a_second_load_adds_nothing(loaded):
    assert loaded.other_created["lessons"] > 1000 and loaded.other_created["pay_runs"] == 4
    before = {model.__name__: _count(model) for model in TABLES}
    again = demo.load_all()
    assert not again.changed
    assert {model.__name__: _count(model) for model in TABLES} == before


def test_each_school_has_the_autumn_term_with_its_closures_and_a_clash_free_timetable(loaded):
    terms = _db.session.scalars(sa.select(Term)).all()
    assert len(terms) == 2 and all(t.generated_at is not None for t in terms)
    for term in terms:
        assert (term.starts_on, term.ends_on) == (date(2026, 9, 1), date(2027, 1, 22))
        assert sum(c.is_makeup for c in term.closures) == 2 and len(term.closures) == 5
        slots = _db.session.scalars(sa.select(TimetableSlot).where(TimetableSlot.term_id == term.id)).all()
        assert slots
        assert len({(s.weekday, s.period, s.staff_id) for s in slots}) == len(slots)
        assert len({(s.weekday, s.period, s.class_id) for s in slots}) == len(slots)
        teaching = {(a.class_id, a.subject_id, a.staff_id) for a in _db.session.scalars(
            sa.select(Assignment).where(Assignment.role == AssignmentRole.SUBJECT))}
        assert all((s.class_id, s.subject_id, s.staff_id) in teaching for s in slots)


def test_the_ledger_skips_holidays_and_teaches_on_make_up_days(loaded):
    days = set(_db.session.scalars(sa.select(Lesson.day).distinct()))
    assert not any(date(2026, 10, 1) <= d <= date(2026, 10, 7) for d in days)
    assert date(2026, 9, 20) in days and date(2026, 10, 10) in days  # a Sunday and a Saturday taught


def test_a_mid_term_change_of_teacher_keeps_the_earlier_lessons_with_the_old_teacher(loaded):
    old, new = _staff("RS1-T006"), _staff("RS1-T001")
    handed = _db.session.scalar(sa.select(Assignment).where(Assignment.staff_id == new.id,
                                                           Assignment.starts_on == date(2026, 11, 2)))
    lessons = _db.session.scalars(sa.select(Lesson).where(Lesson.class_id == handed.class_id,
                                                          Lesson.subject_id == handed.subject_id,
                                                          Lesson.kind == LessonKind.REGULAR)).all()
    assert {lesson.taught_by_id for lesson in lessons if lesson.day < date(2026, 11, 2)} == {old.id}
    assert {lesson.taught_by_id for lesson in lessons if lesson.day >= date(2026, 11, 2)} == {new.id}


def test_teacher01_has_hours_a_cover_and_a_locked_october_statement(loaded):
    teacher = _staff("RS1-T001")
    kinds = set(_db.session.scalars(sa.select(Lesson.kind).where(Lesson.taught_by_id == teacher.id)))
    assert {LessonKind.REGULAR, LessonKind.COVER, LessonKind.OPEN_CLASS, LessonKind.INVIGILATION} <= kinds
    october = _db.session.scalar(sa.select(PayLine).join(PayRun).where(
        PayLine.staff_id == teacher.id, PayRun.month == date(2026, 10, 1)))
    head = _db.session.scalar(sa.select(User).where(User.email == "head1@demo.staffroom.test"))
    assert october.run.status == "locked" and october.run.approved_by_id == head.id
    assert october.bonus_amount == Decimal("300.00") and october.lesson_amount > 0
    assert october.total == october.lesson_amount + october.overtime_amount + october.allowance_amount \
        + october.bonus_amount


def test_covers_cancellation_and_added_lessons_are_in_the_ledger(loaded):
    covers = _db.session.scalars(sa.select(Lesson).where(Lesson.kind == LessonKind.COVER)).all()
    assert len(covers) >= 5 and all(c.taught_by_id != c.scheduled_staff_id and c.reason for c in covers)
    assert any(c.day.month == 11 for c in covers) and any(c.day.month == 12 for c in covers)
    assert _db.session.scalar(sa.select(sa.func.count()).where(Lesson.kind == LessonKind.CANCELLED)) == 1
    added = set(_db.session.scalars(sa.select(Lesson.kind).where(Lesson.slot_id.is_(None))))
    assert added == {LessonKind.OPEN_CLASS, LessonKind.INVIGILATION, LessonKind.EXTRA, LessonKind.HOMEROOM}


def test_schemes_bonuses_and_runs(loaded):
    scheme = _db.session.scalars(sa.select(PayScheme)).first()
    assert scheme.rate_for("regular") == Decimal("50.00") and scheme.rate_for("open_class") == Decimal("120.00")
    assert scheme.standard_monthly_periods == Decimal("60.0") and scheme.multipliers
    assert {t.code for t in _db.session.scalars(sa.select(BonusType))} == {"OPEN", "PAPER", "COACH"}
    statuses = [a.status for a in _db.session.scalars(sa.select(BonusAward))]
    assert AwardStatus.APPROVED in statuses and AwardStatus.PROPOSED in statuses
    runs = {(r.school.code, r.month): r for r in _db.session.scalars(sa.select(PayRun))}
    for code in ("RS1", "RS2"):
        assert runs[(code, date(2026, 10, 1))].status == "locked"
        assert runs[(code, date(2026, 11, 1))].status == "calculated"
        assert runs[(code, date(2026, 11, 1))].line_count > 0
