"""Which credentials a teaching role requires, and whether a staff member holds them on a day.

Used by the assignment rules (classes) and, later, by the departure flow to rank replacement teachers.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.school.classes.models import Subject
from app.school.credentials.models import Credential, CredentialType, RequiredFor
from app.school.staff.models import StaffMember


@dataclass(frozen=True)
class Qualification:
    """The answer of `is_qualified`: `missing` lists the required types not held (valid) on the day."""

    missing: tuple[CredentialType, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return not self.missing

    @property
    def missing_names(self) -> str:
        return ", ".join(t.name for t in self.missing)


def required_types(subject: Subject | None, grade: int | None) -> list[CredentialType]:
    """Active types required to teach `subject` (None: to be homeroom teacher) in `grade`.

    Types required of everyone are included: nobody without them should get a class.
    """
    types = db.session.scalars(sa.select(CredentialType).where(
        CredentialType.is_active.is_(True),
        CredentialType.required_for.in_([RequiredFor.ALL, RequiredFor.TEACHING, RequiredFor.HOMEROOM]))
        .order_by(CredentialType.code)).all()
    return [t for t in types if applies(t, subject, grade)]


def applies(credential_type: CredentialType, subject: Subject | None, grade: int | None) -> bool:
    """True when `credential_type` is required for teaching `subject` (None: homeroom) in `grade`."""
    kind = credential_type.required_for
    if kind == RequiredFor.ALL:
        return True
    if not credential_type.covers_grade(grade):
        return False
    if kind == RequiredFor.HOMEROOM:
        return subject is None
    if kind == RequiredFor.TEACHING:
        return subject is not None and (not credential_type.subjects
                                        or any(s.id == subject.id for s in credential_type.subjects))
    return False


def is_qualified(staff: StaffMember, subject: Subject | None, grade: int | None, on_date: date) -> Qualification:
    """Does `staff` hold, on `on_date`, every credential required to teach `subject` (None: homeroom) in `grade`?"""
    needed = required_types(subject, grade)
    if not needed:
        return Qualification()
    held = held_types({staff.id}, needed, on_date).get(staff.id, set())
    return Qualification(tuple(t for t in needed if t.id not in held))


def held_types(staff_ids: set[int], types: list[CredentialType], on: date) -> dict[int, set[int]]:
    """For each staff id, the ids among `types` they hold a counting credential of on `on` (one query)."""
    if not staff_ids or not types:
        return {}
    conditions = [sa.and_(Credential.type_id == t.id, _valid_on(t, on)) for t in types]
    rows = db.session.execute(sa.select(Credential.staff_id, Credential.type_id).where(
        Credential.staff_id.in_(sorted(staff_ids)), Credential.revoked_at.is_(None), Credential.issued_on <= on,
        sa.or_(*conditions)).distinct()).all()
    result: dict[int, set[int]] = {}
    for staff_id, type_id in rows:
        result.setdefault(staff_id, set()).add(type_id)
    return result


def _valid_on(credential_type: CredentialType, on: date) -> sa.ColumnElement[bool]:
    """The credential of this type has not expired on `on`, counting the type's grace days."""
    floor = on - timedelta(days=credential_type.grace_days)
    return sa.or_(Credential.expires_on.is_(None), Credential.expires_on >= floor)


def qualified_staff(candidates: Iterable[StaffMember], subject: Subject | None, grade: int | None,
                    on: date) -> dict[int, Qualification]:
    """`is_qualified` for many candidates at once (the departure flow ranks replacements with it)."""
    people = list(candidates)
    needed = required_types(subject, grade)
    held = held_types({p.id for p in people}, needed, on)
    return {p.id: Qualification(tuple(t for t in needed if t.id not in held.get(p.id, set()))) for p in people}
