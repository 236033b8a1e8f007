"""The demo's credentials: the four types, everyone's credentials, teacher01's certificate due in 28 days."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.school import demo
from app.school.credentials.demo import DEMO_TEACHER
from app.school.credentials.models import Credential, CredentialType, TrainingRecord
from app.school.credentials.reports import compliance_for
from app.school.credentials.services import hours_progress
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today


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


def test_the_four_types_of_the_issue(loaded):
    types = {t.code: t for t in _db.session.scalars(sa.select(CredentialType))}
    assert set(types) == {"TEACH", "SAFE", "FIRSTAID", "TITLE"}
    assert (types["TEACH"].validity_years, types["TEACH"].renewal_hours, types["TEACH"].required_for) == (
        5, Decimal("360.0"), "teaching")
    assert "教师资格证" in types["TEACH"].name
    assert (types["SAFE"].validity_years, types["SAFE"].required_for) == (3, "all")
    assert (types["FIRSTAID"].validity_years, types["FIRSTAID"].required_for) == (3, "homeroom")
    assert (types["TITLE"].validity_years, types["TITLE"].required_for) == (None, "none")


def test_the_demo_teacher_holds_a_certificate_expiring_in_28_days_with_312_verified_hours(loaded):
    today = local_today()
    teacher = _db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == DEMO_TEACHER))
    assert teacher.user.email == "teacher01@demo.staffroom.test"
    certificate = _db.session.scalar(sa.select(Credential).join(CredentialType).where(
        Credential.staff_id == teacher.id, CredentialType.code == "TEACH"))
    assert certificate.expires_on == today + timedelta(days=28)
    progress = hours_progress(certificate)
    assert (progress.counted, progress.required, progress.is_met) == (Decimal("312.0"), Decimal("360.0"), False)
    statuses = sorted(t.status for t in _db.session.scalars(
        sa.select(TrainingRecord).where(TrainingRecord.staff_id == teacher.id)))
    assert statuses.count("submitted") == 2 and statuses.count("verified") == 5


def test_every_demo_teacher_has_credentials_and_the_dashboard_has_work(loaded):
    from app.general.auth.models import User

    people = _db.session.scalars(sa.select(StaffMember)).all()
    holders = set(_db.session.scalars(sa.select(Credential.staff_id)))
    assert {p.id for p in people} <= holders
    admin = _db.session.scalar(sa.select(User).where(User.email == "admin@demo.staffroom.test"))
    total = compliance_for(admin, local_today()).total
    assert total.staff == len([p for p in people if p.status != "departed"])  # the demo's closed departure left
    assert total.expired == 1 and total.missing >= 1 and total.expiring_30 >= 2 and total.expiring_90 >= 5
    assert 0 < total.compliant < total.staff


def test_reloading_the_demo_creates_no_credential_twice(loaded):
    counts = (_count(CredentialType), _count(Credential), _count(TrainingRecord))
    again = demo.load_all()
    assert not again.changed
    assert (_count(CredentialType), _count(Credential), _count(TrainingRecord)) == counts


def test_the_demo_teacher_finds_the_30_day_reminder_in_the_inbox(loaded):
    from app.general.notifications.models import Notification

    teacher = _db.session.scalar(sa.select(StaffMember).where(StaffMember.employee_number == DEMO_TEACHER))
    rows = _db.session.scalars(sa.select(Notification).where(
        Notification.recipient_user_id == teacher.user_id,
        Notification.template == "credentials/messages/reminder")).all()
    assert sorted(r.channel for r in rows) == ["email", "inbox"]
    assert all(r.idempotency_key.endswith((":30:inbox", ":30:email")) for r in rows)
    assert demo.load_all().other_created.get("credential_reminders", 0) == 0  # loading again sends nothing new
