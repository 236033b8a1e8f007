"""Expiry reminders (60 and 30 days before the end) and obligations falling due: through the outbox, once each,
safe to run twice, and a late run sends the one reminder due now, not a burst."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.general.contracts import services, tasks
from app.general.contracts.models import Contract
from app.general.notifications.models import Notification
from tests import factories
from tests.general.contracts import factories as cf

TODAY = date(2027, 1, 1)


def _keys(prefix: str = "contract:") -> list[str]:
    stmt = sa.select(Notification.idempotency_key).where(Notification.idempotency_key.like(f"{prefix}%"))
    return sorted(key for key in db.session.scalars(stmt) if ":expiry:" in key or ":due:" in key)


def _ending_in(org, days: int, party=None, admin=None):
    return cf.active(org.school_a, party, starts_on=date(2025, 1, 1), ends_on=TODAY + timedelta(days=days),
                     countersigner=admin)


def test_sixty_days_before_the_end_party_and_admins_are_reminded_once(org, admin, teacher):
    contract = _ending_in(org, 60, teacher, admin)
    counts = services.send_expiry_reminders(TODAY)
    assert counts["contracts"] == 1
    prefix = f"contract:{contract.id}:expiry:60"
    assert _keys() == sorted([f"{prefix}:party:inbox", f"{prefix}:party:email",
                              f"{prefix}:user:{admin.id}:inbox", f"{prefix}:user:{admin.id}:email"])


def test_running_twice_sends_nothing_new(org, admin, teacher):
    _ending_in(org, 45, teacher, admin)
    services.send_expiry_reminders(TODAY)
    first = _keys()
    assert services.send_expiry_reminders(TODAY) == {"contracts": 0, "obligations": 0}
    assert _keys() == first


def test_a_late_run_sends_only_the_reminder_due_now(org, admin, teacher):
    contract = _ending_in(org, 60, teacher, admin)
    services.send_expiry_reminders(TODAY + timedelta(days=35))  # days were missed: 25 days are left
    assert {key.split(":")[3] for key in _keys()} == {"30"}
    assert all(f"contract:{contract.id}:expiry:30" in key for key in _keys())


def test_the_thirty_day_reminder_follows_the_sixty_day_one(org, admin, teacher):
    _ending_in(org, 60, teacher, admin)
    for offset in range(0, 61):
        services.send_expiry_reminders(TODAY + timedelta(days=offset))
    assert sorted({key.split(":")[3] for key in _keys()}) == ["30", "60"]
    assert len(_keys()) == 8  # two reminders × (party + one admin) × (inbox + e-mail)


def test_contracts_further_out_or_not_active_are_left_alone(org, teacher):
    _ending_in(org, 61, teacher)
    cf.issued(org.school_a, ends_on=TODAY + timedelta(days=30))
    assert services.send_expiry_reminders(TODAY)["contracts"] == 0


def test_the_party_is_reminded_in_their_own_language(org, admin):
    party = cf.make_teacher(org.dept_a, locale="zh")
    _ending_in(org, 30, party, admin)
    services.send_expiry_reminders(TODAY)
    mail = db.session.scalar(sa.select(Notification).where(Notification.idempotency_key.like("%:party:email")))
    assert mail.locale == "zh" and "天" in mail.subject


def test_admins_of_other_schools_are_not_told(org, teacher):
    outsider = factories.make_user("admin", unit=org.school_b)
    district = factories.make_user("admin", unit=org.district)
    _ending_in(org, 30, teacher)
    services.send_expiry_reminders(TODAY)
    told = set(db.session.scalars(sa.select(Notification.recipient_user_id).where(
        Notification.idempotency_key.like("contract:%:expiry:%"))))
    assert district.id in told and outsider.id not in told


def test_obligations_due_within_a_week_are_reminded_once(org, admin):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2026, 11, 30), countersigner=admin,
                         terms={"non_compete_months": 2, "non_compete_monthly_compensation": "3000.00"})
    first_due = contract.obligations[0].due_on  # 2026-12-31
    assert services.send_expiry_reminders(first_due - timedelta(days=8))["obligations"] == 0
    assert services.send_expiry_reminders(first_due - timedelta(days=7))["obligations"] == 1
    assert services.send_expiry_reminders(first_due - timedelta(days=3))["obligations"] == 0
    keys = db.session.scalars(sa.select(Notification.idempotency_key).where(
        Notification.idempotency_key.like("obligation:%"))).all()
    assert sorted(keys) == sorted([f"obligation:{contract.obligations[0].id}:due:user:{admin.id}:inbox",
                                   f"obligation:{contract.obligations[0].id}:due:user:{admin.id}:email"])


def test_a_done_obligation_is_not_reminded(org, admin):
    contract = cf.active(org.school_a, kind="non_compete", ends_on=date(2026, 11, 30),
                         terms={"non_compete_months": 1, "non_compete_monthly_compensation": "3000.00"})
    services.mark_obligation_done(contract.obligations[0], actor=admin)
    assert services.send_expiry_reminders(date(2026, 12, 28))["obligations"] == 0


def test_the_task_runs_for_a_given_day_and_commits(app, org, admin, teacher):
    _ending_in(org, 30, teacher)
    assert tasks.send_expiry_reminders(TODAY.isoformat()) == {"contracts": 1, "obligations": 0}
    assert tasks.send_expiry_reminders(TODAY.isoformat()) == {"contracts": 0, "obligations": 0}


def test_the_expiry_task_expires_ended_contracts_once(app, org, admin):
    contract_id = cf.active(org.school_a, ends_on=date(2026, 12, 31)).id
    assert tasks.expire_contracts("2027-01-01") == 1  # the task commits and ends its app context (a new session)
    assert db.session.get(Contract, contract_id).status == "expired"
    assert tasks.expire_contracts("2027-01-01") == 0


def test_the_tasks_are_scheduled_daily_under_their_names(app):
    schedule = {entry["task"] for entry in app.config["CELERY"]["beat_schedule"].values()}
    assert {"contracts.send_expiry_reminders", "contracts.expire_contracts"} <= schedule
    assert "app.general.contracts.tasks" in app.extensions["celery"].conf.include
