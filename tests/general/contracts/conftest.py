"""Fixtures of the contract tests: a school with an admin and a teacher (both in school A)."""
from __future__ import annotations

import pytest

from tests import factories
from tests.general.contracts import factories as cf


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """Still argon2id, but cheap: these tests make many users and never test the hash."""
    from argon2 import PasswordHasher

    from app.general.auth import passwords

    monkeypatch.setattr(passwords, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash)


@pytest.fixture
def admin(db, org):
    return factories.make_user("admin", unit=org.school_a)


@pytest.fixture
def teacher(db, org):
    return cf.make_teacher(org.dept_a)


@pytest.fixture
def template(db, org):
    return cf.make_template(org.school_a)
