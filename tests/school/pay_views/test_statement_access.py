"""Statements: a teacher reads only their own lines of locked runs; an admin or head reading one is audited."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.school.teaching.models import Lesson, LessonKind, PayLine
from app.school.teaching.services import payruns
from tests.school.pay_views import OCTOBER, build_month


@pytest.fixture
def month(org):
    return build_month(org)


def _run(month, *, lock: bool = True):
    run = payruns.open_run(month.school, OCTOBER, month.admin)
    payruns.calculate_run(run, month.admin)
    if lock:
        payruns.approve_run(run, month.head)
        payruns.lock_run(run, month.admin)
    db.session.commit()
    return run


def _line(run, staff) -> PayLine:
    return db.session.scalar(sa.select(PayLine).where(PayLine.run_id == run.id, PayLine.staff_id == staff.id))


def _reads(line) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "pay.line_read",
                                                               AuditEvent.subject_id == str(line.id))))


def test_a_teacher_reads_their_statement_with_its_breakdown(client, login_as, month):
    run = _run(month)
    line = _line(run, month.wang)
    login_as(user=month.wang.user)
    page = client.get("/teaching/pay/mine").get_data(as_text=True)
    assert f'data-line-id="{line.id}"' in page and f'data-line-id="{_line(run, month.li).id}"' not in page
    assert "10 periods × ¥50.00 × 1.000" in page and "2026 scheme" in page
    assert "Within the load of 10 periods" in page and "¥500.00" in page
    page = client.get(f"/teaching/pay/mine/{line.id}").get_data(as_text=True)
    assert 'data-testid="statement-total">¥500.00' in page
    assert _reads(line) == []  # one's own pay is not an audited read


def test_another_teachers_line_answers_404(client, login_as, month):
    run = _run(month)
    login_as(user=month.wang.user)
    assert client.get(f"/teaching/pay/mine/{_line(run, month.li).id}").status_code == 404
    assert client.get("/teaching/pay/mine/999999").status_code == 404
    assert client.get(f"/teaching/pay/lines/{_line(run, month.li).id}").status_code == 403
    assert client.get(f"/teaching/pay/lines/{_line(run, month.wang).id}").status_code == 403


def test_lines_of_a_run_not_locked_are_not_shown_to_the_teacher(client, login_as, month):
    run = _run(month, lock=False)
    login_as(user=month.wang.user)
    assert client.get(f"/teaching/pay/mine/{_line(run, month.wang).id}").status_code == 404
    assert "No statement yet" in client.get("/teaching/pay/mine").get_data(as_text=True)


def test_a_head_reading_a_teachers_line_is_audited(client, login_as, month):
    run = _run(month)
    line = _line(run, month.li)
    login_as(user=month.head)
    page = client.get(f"/teaching/pay/lines/{line.id}").get_data(as_text=True)
    assert "Homeroom teacher 31 of 31 days" in page and "¥600.00" in page
    events = _reads(line)
    assert len(events) == 1 and events[0].actor_id == month.head.id
    assert events[0].changes["staff"] == month.li.id


def test_a_head_of_another_school_cannot_read_the_line(client, login_as, org, month):
    run = _run(month)
    login_as("head", unit=org.school_b)
    assert client.get(f"/teaching/pay/lines/{_line(run, month.wang).id}").status_code == 403


def test_a_correction_shows_the_teacher_the_difference(client, login_as, month):
    run = _run(month)
    correction = payruns.start_correction(run, "A missed extra lesson", month.admin)
    db.session.add(Lesson(school_id=month.school.id, term_id=month.term.id, day=date(2026, 10, 30), period=5,
                          kind=LessonKind.EXTRA, class_id=month.klass.id, scheduled_staff_id=month.wang.id,
                          taught_by_id=month.wang.id, periods=Decimal("1")))
    db.session.flush()
    payruns.calculate_run(correction, month.admin)
    payruns.approve_run(correction, month.head)
    payruns.lock_run(correction, month.admin)
    db.session.commit()
    login_as(user=month.wang.user)
    page = client.get("/teaching/pay/mine").get_data(as_text=True)
    newest = _line(correction, month.wang)
    assert page.index(f'data-line-id="{newest.id}"') < page.index(f'data-line-id="{_line(run, month.wang).id}"')
    assert "correction, version 2" in page and "replaced by a correction" in page
    assert "Before the correction: ¥500.00; difference:" in page and "+¥85.00" in page
    page = client.get(f"/teaching/pay/mine/{newest.id}").get_data(as_text=True)
    assert 'data-testid="correction-difference"' in page and "+¥85.00" in page
    assert "1 period × ¥55.00 × 1.000" in page and "1 period above the load of 10 × ¥30.00" in page
