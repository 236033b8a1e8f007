"""The cover board: the absent teachers' lessons period by period, and for each the free colleagues ranked —
qualified for the subject, already teaching the class, fewest covers in the fairness window, lightest day. A busy or
absent colleague is never offered."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.school.teaching import covers
from app.school.teaching.models import LessonKind
from app.school.teaching.services import ledger
from tests import factories
from tests.school.pay.conftest import WED, make_slot, put_lesson

DAY = date(2026, 10, 14)  # a Wednesday: Wang teaches 7(2) Maths in period 2
# the 10 school days before it: 23–25, 28–30 September, 8, 9, 12, 13 October (National Day week closed)


@pytest.fixture
def board_day(pay_school):
    ps = pay_school
    ledger.generate_term(ps.term, ps.admin, from_day=ps.term.starts_on)
    ps.sun = factories.make_staff(ps.school, family_name="Sun", given_name="Yu", subjects=[ps.math],
                                  user=factories.make_user("teacher", unit=ps.school))
    ledger.record_absence(ps.wang, DAY, 1, 8, "Training day", ps.admin)
    return ps


def _offered(ps, day=DAY, **kwargs) -> list:
    board = covers.cover_board(ps.school.id, day, **kwargs)
    (absent,) = [a for a in board.absent if a.absence.staff_id == ps.wang.id]
    (need,) = absent.lessons
    return [c.staff.id for c in need.candidates], need, board


def _cover_on(ps, staff, day, period=8):
    """A cover taught by `staff` on `day` (written straight to the ledger)."""
    return put_lesson(ps, staff, day, period, kind=LessonKind.COVER)


def test_the_absent_teachers_lessons_are_listed(board_day):
    ps = board_day
    ids, need, board = _offered(ps)
    assert need.lesson.period == 2 and need.lesson.class_id == ps.class_2.id
    assert board.term.id == ps.term.id
    assert [a.absence.staff_id for a in board.absent] == [ps.wang.id]


def test_qualified_and_teaching_the_class_first_then_fewest_covers(board_day):
    ps = board_day
    ids, need, _board = _offered(ps, limit=10)
    # Li: Maths and homeroom teacher of 7(2); Sun and Zhao: Maths; Chen: Chinese only
    assert ids[0] == ps.li.id
    assert set(ids[1:3]) == {ps.sun.id, ps.zhao.id}
    assert ids[3] == ps.chen.id
    first = need.candidates[0]
    assert first.qualified and first.teaches_class
    assert need.candidates[-1].qualified is False


def test_fewest_covers_in_the_window_comes_first(board_day):
    ps = board_day
    _cover_on(ps, ps.zhao, date(2026, 10, 12))
    _cover_on(ps, ps.zhao, date(2026, 10, 13))
    ids, need, board = _offered(ps, limit=10)
    assert ids.index(ps.sun.id) < ids.index(ps.zhao.id)
    by_id = {c.staff.id: c for c in need.candidates}
    assert by_id[ps.zhao.id].covers_in_window == 2 and by_id[ps.sun.id].covers_in_window == 0
    assert board.tally == [(ps.zhao, 2)]


def test_teaching_the_class_outranks_fewer_covers(board_day):
    ps = board_day
    for day in (date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 12)):
        _cover_on(ps, ps.li, day)
    ids, _need, _board = _offered(ps, limit=10)
    assert ids[0] == ps.li.id


def test_covers_before_the_window_do_not_count(board_day):
    ps = board_day
    _cover_on(ps, ps.sun, date(2026, 9, 22))  # the 11th school day back
    _cover_on(ps, ps.zhao, date(2026, 9, 23))  # the 10th: inside
    ids, need, board = _offered(ps, limit=10)
    assert board.window_start == date(2026, 9, 23)
    by_id = {c.staff.id: c for c in need.candidates}
    assert by_id[ps.sun.id].covers_in_window == 0 and by_id[ps.zhao.id].covers_in_window == 1
    assert ids.index(ps.sun.id) < ids.index(ps.zhao.id)


def test_a_smaller_window_forgets_older_covers(board_day):
    ps = board_day
    _cover_on(ps, ps.zhao, date(2026, 10, 9))
    _cover_on(ps, ps.zhao, date(2026, 10, 8))
    _cover_on(ps, ps.sun, date(2026, 10, 13))
    ids, _need, board = _offered(ps, limit=10, window=2)  # 12 and 13 October only
    assert board.window_start == date(2026, 10, 12)
    assert ids.index(ps.zhao.id) < ids.index(ps.sun.id)


def test_the_lighter_day_breaks_a_tie(board_day):
    ps = board_day
    put_lesson(ps, ps.zhao, DAY, 5)
    put_lesson(ps, ps.zhao, DAY, 6)
    put_lesson(ps, ps.sun, DAY, 5)
    ids, _need, _board = _offered(ps, limit=10)
    assert ids.index(ps.sun.id) < ids.index(ps.zhao.id)


def test_a_busy_colleague_is_never_offered(board_day):
    ps = board_day
    put_lesson(ps, ps.zhao, DAY, 2)  # Zhao has an extra lesson in period 2
    ids, _need, _board = _offered(ps, limit=10)
    assert ps.zhao.id not in ids
    assert ps.sun.id in ids


def test_an_absent_colleague_is_never_offered(board_day):
    ps = board_day
    ledger.record_absence(ps.li, DAY, 1, 3, "Doctor", ps.admin)
    ledger.record_absence(ps.sun, DAY, 5, 8, "Afternoon off", ps.admin)  # away later: free in period 2
    ids, _need, board = _offered(ps, limit=10)
    assert ps.li.id not in ids
    assert ps.sun.id in ids
    assert ps.wang.id not in ids  # nor the absent teacher himself


def test_departed_and_other_schools_teachers_are_never_offered(board_day, org):
    ps = board_day
    factories.make_staff(ps.school, family_name="Gone", subjects=[ps.math], status="departed")
    other = factories.make_staff(org.school_b, family_name="Elsewhere", subjects=[ps.math])
    ids, _need, _board = _offered(ps, limit=20)
    assert other.id not in ids
    assert len(ids) == 4  # Li, Sun, Zhao, Chen
    assert all(db.session.get(type(ps.wang), i).status != "departed" for i in ids)


def test_the_limit_keeps_the_best(board_day):
    ids, _need, _board = _offered(board_day, limit=2)
    assert ids[0] == board_day.li.id and len(ids) == 2


def test_lessons_outside_the_absent_periods_are_not_listed(board_day):
    ps = board_day
    ledger.record_absence(ps.wang, DAY, 3, 8, "Afternoon training", ps.admin)  # changed: from period 3
    board = covers.cover_board(ps.school.id, DAY)
    assert [a.lessons for a in board.absent if a.absence.staff_id == ps.wang.id] == [[]]


def test_a_colleague_given_a_cover_is_not_offered_again_for_that_period(board_day):
    ps = board_day
    make_slot(ps.term, WED, 2, ps.class_3, ps.chinese, ps.chen)  # Chen teaches 7(3) at the same time
    ledger.generate_term(ps.term, ps.admin, from_day=DAY)
    ledger.record_absence(ps.chen, DAY, 1, 8, "Meeting", ps.admin)
    _ids, need, _board = _offered(ps, limit=10)
    ledger.assign_cover(need.lesson, ps.zhao, "Training day", ps.admin)
    board = covers.cover_board(ps.school.id, DAY, limit=10)
    chen = next(a for a in board.absent if a.absence.staff_id == ps.chen.id)
    offered = [c.staff.id for c in chen.lessons[0].candidates]
    assert ps.zhao.id not in offered and ps.wang.id not in offered
    assert set(offered) == {ps.li.id, ps.sun.id}


def test_a_missing_or_expired_required_credential_makes_a_colleague_unqualified(board_day):
    from app.school.credentials.models import Credential, CredentialType

    ps = board_day
    licence = CredentialType(code="TLM", name="Maths teaching licence", required_for="teaching")
    licence.subjects = [ps.math]
    db.session.add(licence)
    db.session.flush()
    db.session.add_all([
        Credential(staff=ps.zhao, type=licence, issued_on=date(2020, 1, 1), expires_on=None),
        Credential(staff=ps.sun, type=licence, issued_on=date(2020, 1, 1), expires_on=date(2026, 6, 30)),
    ])
    db.session.flush()
    ids, need, _board = _offered(ps, limit=10)
    by_id = {c.staff.id: c for c in need.candidates}
    assert by_id[ps.zhao.id].qualified
    assert not by_id[ps.sun.id].qualified and not by_id[ps.li.id].qualified
    assert ids[0] == ps.zhao.id  # the only qualified one comes before the class's own homeroom teacher
    assert ids[1] == ps.li.id  # then: teaches the class
