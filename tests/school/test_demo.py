"""The demo loader: the Riverside district as described, idempotent, audited, with working demo logins."""
from __future__ import annotations

import re

import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.audit.models import AuditEvent
from app.general.auth.models import RecoveryCode, User, UserScope
from app.general.auth.passwords import password_problem, verify_password
from app.general.auth.twofactor import recovery_code_matches
from app.general.org.models import OrgUnit
from app.school import demo

TABLES = (OrgUnit, User, UserScope, RecoveryCode, AuditEvent)


def _counts() -> dict[str, int]:
    return {model.__name__: _db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in TABLES}


def _unit(code: str) -> OrgUnit:
    return _db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))


def _user(local_part: str) -> User:
    return _db.session.scalar(sa.select(User).where(User.email == f"{local_part}@{demo.DEMO_DOMAIN}"))


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """Still argon2id (verify reads the parameters from the hash), but cheap: the loader hashes 16 passwords."""
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def loaded(db):
    return demo.load_all()


def test_loading_twice_changes_nothing_and_prints_the_same_logins(loaded):
    first_counts, first_text = _counts(), demo.login_text(at=1_800_000_000)
    second = demo.load_all()
    assert not second.changed and second.created == []
    assert _counts() == first_counts
    assert demo.login_text(at=1_800_000_000) == first_text


def test_the_district_has_two_schools_with_five_departments_each(loaded):
    district = _unit("RIVERSIDE")
    assert district.name == "Riverside District" and district.kind == "district"
    schools = sorted(district.children, key=lambda unit: unit.code)
    assert [s.name for s in schools] == ["Riverside No.1 Middle School", "Riverside No.2 Primary School"]
    for school in schools:
        assert sorted(d.name for d in school.children) == ["Arts & PE", "Chinese", "English", "Maths", "Science"]
        assert all(d.path == f"{school.path}{d.id}/" for d in school.children)
    assert loaded.units_created == 13


def test_demo_people_by_role_language_and_scope(loaded):
    users = _db.session.scalars(sa.select(User).where(User.email.like(f"%@{demo.DEMO_DOMAIN}"))).all()
    roles = sorted(user.role for user in users)
    assert roles.count("admin") == 1 and roles.count("head") == 2 and roles.count("parent") == 3
    assert roles.count("teacher") == 10
    assert {user.locale for user in users} == {"en", "zh"}
    assert any(user.display_name == "王芳" for user in users) and any(user.display_name == "李伟" for user in users)
    assert [scope.org_unit.code for scope in _user("admin").scopes] == ["RIVERSIDE"]
    assert [scope.org_unit.code for scope in _user("head1").scopes] == ["RS1"]
    teachers_by_school = {
        code: [u for u in users if u.role == "teacher" and _unit(code).contains(u.scopes[0].org_unit)]
        for code in ("RS1", "RS2")
    }
    assert len(teachers_by_school["RS1"]) >= 3 and len(teachers_by_school["RS2"]) >= 3


def test_every_demo_user_has_the_demo_password(loaded):
    assert password_problem(demo.DEMO_PASSWORD) is None
    for spec in demo.USERS:
        assert verify_password(_user(spec.local_part).password_hash, demo.DEMO_PASSWORD)


def test_admins_and_heads_have_a_second_factor_and_hashed_recovery_codes(loaded):
    for local_part in ("admin", "head1", "head2"):
        user = _user(local_part)
        assert user.totp_secret and user.totp_enabled_at is not None
        stored = _db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        codes = demo.demo_recovery_codes(user.email)
        assert len(stored) == len(codes) == 10
        assert not set(codes) & set(stored)  # never stored in the clear
        assert any(recovery_code_matches(h, codes[0]) for h in stored)
    assert _user("teacher01").totp_secret is None


def test_login_text_gives_uri_current_code_and_an_unused_recovery_code(loaded):
    at = 1_800_000_000
    text = demo.login_text(at=at)
    admin = _user("admin")
    assert demo.DEMO_PASSWORD in text
    assert "otpauth://totp/" in text and f"secret={admin.totp_secret}" in text
    assert f"code now: {pyotp.TOTP(admin.totp_secret).at(at)}" in text
    assert demo.demo_recovery_codes(admin.email)[0] in text
    assert "teacher01@demo.staffroom.test" in text and "parent3@demo.staffroom.test" in text


def test_a_used_recovery_code_is_not_printed_again(loaded):
    from app.core.models import utcnow

    admin = _user("admin")
    first = demo.demo_recovery_codes(admin.email)[0]
    for row in _db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == admin.id)):
        if recovery_code_matches(row.code_hash, first):
            row.used_at = utcnow()
    assert demo.usable_recovery_code(admin) == demo.demo_recovery_codes(admin.email)[1]


def test_loading_is_audited_as_system(loaded):
    events = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.in_(
        ["org.unit_created", "auth.user_created", "demo.password_set", "demo.second_factor_enrolled",
         "demo.loaded"]))).all()
    assert {event.actor_label for event in events} == {"system"}
    assert sum(event.action == "auth.user_created" for event in events) == len(demo.USERS)
    assert sum(event.action == "demo.password_set" for event in events) == len(demo.USERS)
    assert sum(event.action == "demo.second_factor_enrolled" for event in events) == 3
    assert sum(event.action == "demo.loaded" for event in events) == 1
    assert all("password" not in str(event.changes).lower() for event in events)


def test_cli_load_then_totp_prints_the_current_code(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.staffroom.test" in result.output
    again = runner.invoke(args=["demo", "load"])
    assert "nothing changed" in again.output
    result = runner.invoke(args=["demo", "totp", "ADMIN@demo.staffroom.test"])
    assert result.exit_code == 0, result.output
    code = re.match(r"^(\d{6})\b", result.output).group(1)
    assert pyotp.TOTP(_user("admin").totp_secret).verify(code, valid_window=1)


@pytest.mark.parametrize("email", ["admin@example.com", "admin@demo.staffroom.test.evil.com", "teacher01"])
def test_totp_refuses_accounts_outside_the_demo_domain(app, loaded, email):
    result = app.test_cli_runner().invoke(args=["demo", "totp", email])
    assert result.exit_code != 0
    assert "only demo accounts" in result.output
    assert not re.search(r"\b\d{6}\b", result.output)


def test_totp_refuses_demo_accounts_without_a_second_factor(app, loaded):
    result = app.test_cli_runner().invoke(args=["demo", "totp", "teacher01@demo.staffroom.test"])
    assert result.exit_code != 0


def test_demo_load_is_refused_in_production(app, db, monkeypatch):
    monkeypatch.setenv("STAFFROOM_ENV", "production")
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code != 0
    assert _user("admin") is None
