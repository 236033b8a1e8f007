"""Fixtures of the credentials tests: the four demo-like credential types and teachers in two schools."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db as _db
from app.general.org.models import OrgUnit
from app.school.classes.models import Subject
from app.school.credentials.models import Credential, CredentialType, RequiredFor, TrainingRecord, TrainingStatus
from app.school.credentials.status import expiry_for
from app.school.staff.models import StaffMember
from tests import factories

TODAY = date(2026, 12, 7)


def make_type(code: str, name: str, *, validity_years: int | None = 3, required_for: str = RequiredFor.ALL,
              renewal_hours: Decimal | None = None, grace_days: int = 0, offsets: str = "90,30,7",
              subjects: list[Subject] | None = None, grade_min: int | None = None,
              grade_max: int | None = None) -> CredentialType:
    """A credential type written straight to the database (the services are tested on their own)."""
    credential_type = CredentialType(code=code, name=name, validity_years=validity_years, grace_days=grace_days,
                                     reminder_offsets=offsets, renewal_hours=renewal_hours,
                                     required_for=required_for, grade_min=grade_min, grade_max=grade_max,
                                     subjects=list(subjects or []))
    _db.session.add(credential_type)
    _db.session.flush()
    return credential_type


def make_credential(staff: StaffMember, credential_type: CredentialType, *, issued_on: date,
                    expires_on: date | None = None, number: str = "N-1") -> Credential:
    """A credential; its expiry follows the type's validity unless given."""
    credential = Credential(staff=staff, type=credential_type, number=number, issuer="Education Bureau",
                            issued_on=issued_on,
                            expires_on=expires_on or expiry_for(issued_on, credential_type.validity_years))
    _db.session.add(credential)
    _db.session.flush()
    return credential


def make_training(staff: StaffMember, hours: str, *, on: date, status: str = TrainingStatus.VERIFIED,
                  topic: str = "Classroom practice") -> TrainingRecord:
    training = TrainingRecord(staff=staff, completed_on=on, provider="District institute", topic=topic,
                              hours=Decimal(hours), status=status)
    _db.session.add(training)
    _db.session.flush()
    return training


@dataclass
class Catalogue:
    """TEACH (5 years, 360 h, teaching any subject), SAFE (3 years, everyone), FIRSTAID (3 years, homeroom),
    TITLE (no expiry, never required); schools A and B with a maths teacher each (accounts linked)."""

    school_a: OrgUnit
    school_b: OrgUnit
    math: Subject
    teach: CredentialType
    safe: CredentialType
    first_aid: CredentialType
    title: CredentialType
    teacher_a: StaffMember
    teacher_a2: StaffMember
    teacher_b: StaffMember


@pytest.fixture
def catalogue(org) -> Catalogue:
    math = factories.make_subject("MATH", "Maths")
    teachers = []
    for school, department, family, given, email in (
            (org.school_a, org.dept_a, "Li", "Wei", "li.wei@a.example"),
            (org.school_a, None, "Johnson", "Emily", "emily@a.example"),
            (org.school_b, org.dept_b, "Yang", "Lei", "yang.lei@b.example")):
        user = factories.make_user("teacher", unit=department or school, email=email)
        teachers.append(factories.make_staff(school, department=department, family_name=family, given_name=given,
                                             subjects=[math], user=user))
    return Catalogue(
        school_a=org.school_a, school_b=org.school_b, math=math,
        teach=make_type("TEACH", "Teaching certificate", validity_years=5, required_for=RequiredFor.TEACHING,
                        renewal_hours=Decimal("360")),
        safe=make_type("SAFE", "Safeguarding check", validity_years=3, required_for=RequiredFor.ALL),
        first_aid=make_type("FIRSTAID", "First aid", validity_years=3, required_for=RequiredFor.HOMEROOM),
        title=make_type("TITLE", "Professional title", validity_years=None, required_for=RequiredFor.NONE),
        teacher_a=teachers[0], teacher_a2=teachers[1], teacher_b=teachers[2],
    )


def errors_of(raised) -> dict:
    """Every field message a service's error carries (one field for a plain DomainError)."""
    return getattr(raised.value, "errors", None) or {raised.value.field: raised.value.message}


@pytest.fixture
def audit_events(db):
    """`audit_events(action)`: this test's audit events of `action` (the PostgreSQL race tests commit theirs)."""
    from app.general.audit.models import AuditEvent

    baseline = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))
    return lambda action: list(_db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.seq > baseline).order_by(AuditEvent.seq)))
