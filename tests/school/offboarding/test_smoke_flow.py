"""The whole departure flow through the services, from resignation to closed."""
from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from app.extensions import db
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment
from app.school.offboarding.models import CaseStatus, ParentNotice
from app.school.offboarding.services import access, cases, checklist, plan, settlement


def test_resignation_to_closed(departure, monkeypatch):
    d = departure
    monkeypatch.setattr("app.school.offboarding.services.cases.local_today", lambda: date(2026, 12, 7))
    monkeypatch.setattr("app.school.offboarding.services.plan.local_today", lambda: date(2026, 12, 7))
    case = cases.submit(d.leaving, kind="resignation", last_working_day=date(2027, 1, 8), actor=d.leaving_user,
                        private_reason="moving city")
    assert case.earliest_last_day == date(2027, 1, 6)
    cases.approve(case, actor=d.head)
    cases.start_handover(case, actor=d.admin)
    assert len(case.items) == 8
    lines = plan.lines(case)
    assert len(lines) == 3
    for line in lines:
        plan.choose(case, line.assignment, d.colleague, actor=d.admin)
    written = plan.confirm(case, actor=d.admin)
    assert written == len(d.guardians) + 1
    assert case.status == CaseStatus.REASSIGNED
    twin = db.session.scalar(sa.select(ParentNotice).where(ParentNotice.guardian_id == d.twin_guardian.id))
    assert len(twin.changes) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.template == "offboarding/messages/parent_notice")) == written
    assert "moving city" not in str(db.session.scalars(sa.select(Notification.body_text)).all())
    new = db.session.scalars(sa.select(Assignment).where(Assignment.staff_id == d.colleague.id)).all()
    assert len(new) == 3
    db.session.execute(sa.update(Notification).values(status="sent"))
    access.tick(now=datetime(2027, 1, 1, tzinfo=UTC))
    db.session.refresh(case)
    assert case.status == CaseStatus.PARENTS_NOTIFIED
    access.tick(now=datetime(2027, 1, 9, tzinfo=UTC))
    db.session.refresh(case)
    assert case.status == CaseStatus.ACCESS_REVOKED
    assert not d.leaving_user.is_active_account
    for item in case.items:
        checklist.complete_item(item, actor=d.admin, evidence="done", amount="0" if item.is_money else None)
    monkeypatch.setattr(settlement, "final_pay", lambda case: (__import__("decimal").Decimal("1.00"), {"source": "x"}))
    settlement.settle(case, actor=d.admin)
    settlement.close(case, actor=d.admin)
    assert case.status == CaseStatus.CLOSED
    assert d.leaving.status == "departed"
