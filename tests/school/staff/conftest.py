"""Fixtures of the staff tests: admins of school A and of the district, the subjects, a valid form."""
from __future__ import annotations

from datetime import date

import pytest

from tests import factories

# Audit events committed by earlier tests (the PostgreSQL race tests must commit, and the log cannot be
# cleaned) are not this test's: tests compare only events after this sequence number.
AUDIT_BASELINE = {"seq": 0}


@pytest.fixture(autouse=True)
def _audit_baseline(app):
    import sqlalchemy as sa

    from app.extensions import db as _db
    from app.general.audit.models import AuditEvent

    with app.app_context(), _db.engine.connect() as connection:
        AUDIT_BASELINE["seq"] = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))


@pytest.fixture
def admin_a(db, org):
    return factories.make_user("admin", unit=org.school_a)


@pytest.fixture
def district_admin(db, org):
    return factories.make_user("admin", unit=org.district)


@pytest.fixture
def maths(db):
    return factories.make_subject("MATH", "Maths")


@pytest.fixture
def fields():
    """Valid keyword arguments of create_staff, apart from the actor and the school."""

    def _fields(**overrides):
        values = {"employee_number": "T001", "family_name": "Wang", "given_name": "Fang", "email": "fang@example.org",
                  "phone": "+86 138 0000 0000", "hired_on": date(2021, 9, 1), "probation_ends_on": date(2022, 3, 1),
                  "max_weekly_periods": 16}
        values.update(overrides)
        return values

    return _fields


@pytest.fixture
def in_request(app):
    """Invitations build their link with url_for, which needs a request (as in the views and tasks)."""
    with app.test_request_context():
        yield
