"""Reading one credential's page, a teacher's own certificates, the staff profile card and the dashboard's
upcoming expiries."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass, Subject
from app.school.classes.queries.common import covering
from app.school.credentials.models import (
    Credential,
    CredentialDocument,
    CredentialReminder,
    CredentialType,
    Renewal,
    RenewalStatus,
    RequiredFor,
    TrainingRecord,
)
from app.school.credentials.queries.lists import open_renewals, status_of
from app.school.credentials.status import CredentialStatus, days_left
from app.school.staff.models import StaffMember

# --- one credential ---------------------------------------------------------------------------------------


@dataclass
class CredentialPage:
    """Everything the credential page shows."""

    credential: Credential
    status: CredentialStatus
    days_left: int | None
    periods: list[Credential]
    documents: list[CredentialDocument]
    reminders: list[CredentialReminder]
    renewals: list[Renewal]
    open_renewal: Renewal | None
    renewal_documents: dict[int, list[CredentialDocument]]
    training: list[TrainingRecord]
    training_documents: dict[int, list[CredentialDocument]]
    today: date


def periods_of(credential: Credential) -> list[Credential]:
    """The person's certification periods of the same type, newest first (renewed ones are history)."""
    return list(db.session.scalars(sa.select(Credential).where(
        Credential.staff_id == credential.staff_id, Credential.type_id == credential.type_id)
        .order_by(Credential.issued_on.desc(), Credential.id.desc())))


def documents_by(column, ids: Iterable[int]) -> dict[int, list[CredentialDocument]]:
    """Documents grouped by their owner id (`column` is CredentialDocument.training_id or .renewal_id)."""
    wanted = sorted(set(ids))
    result: dict[int, list[CredentialDocument]] = {}
    if wanted:
        for document in db.session.scalars(sa.select(CredentialDocument).where(column.in_(wanted))
                                           .order_by(CredentialDocument.id)):
            result.setdefault(getattr(document, column.key), []).append(document)
    return result


def training_of(staff_id: int, *, since: date | None = None) -> list[TrainingRecord]:
    """A person's training records, newest first (from `since` when given)."""
    stmt = sa.select(TrainingRecord).where(TrainingRecord.staff_id == staff_id)
    if since is not None:
        stmt = stmt.where(TrainingRecord.completed_on >= since)
    return list(db.session.scalars(stmt.order_by(TrainingRecord.completed_on.desc(), TrainingRecord.id.desc())))


def credential_page(credential: Credential, today: date) -> CredentialPage:
    """The credential with its history, documents, reminders sent, renewals and the holder's training."""
    renewals = list(db.session.scalars(sa.select(Renewal).where(Renewal.credential_id == credential.id)
                                       .order_by(Renewal.submitted_at.desc(), Renewal.id.desc())))
    pending = next((r for r in renewals if r.status == RenewalStatus.SUBMITTED), None)
    reminders = list(db.session.scalars(sa.select(CredentialReminder).where(
        CredentialReminder.credential_id == credential.id).order_by(CredentialReminder.sent_on.desc(),
                                                                    CredentialReminder.id.desc())))
    documents = list(db.session.scalars(sa.select(CredentialDocument).where(
        CredentialDocument.credential_id == credential.id).order_by(CredentialDocument.id)))
    training = training_of(credential.staff_id, since=credential.issued_on)
    return CredentialPage(
        credential=credential, status=status_of(credential, today, has_open_renewal=pending is not None),
        days_left=days_left(credential.expires_on, today),
        periods=periods_of(credential), documents=documents, reminders=reminders, renewals=renewals,
        open_renewal=pending, renewal_documents=documents_by(CredentialDocument.renewal_id, [r.id for r in renewals]),
        training=training, training_documents=documents_by(CredentialDocument.training_id, [t.id for t in training]),
        today=today)


# --- a teacher's own --------------------------------------------------------------------------------------


@dataclass
class Certificate:
    """One open credential on "My certificates"."""

    credential: Credential
    status: CredentialStatus
    days_left: int | None
    open_renewal: Renewal | None
    progress: object | None  # services.HoursProgress when the type has a renewal rule


@dataclass
class MyCertificates:
    certificates: list[Certificate]
    training: list[TrainingRecord]
    training_documents: dict[int, list[CredentialDocument]]
    missing: list[CredentialType] = field(default_factory=list)


def open_credentials_of(staff_id: int) -> list[Credential]:
    """A person's current periods (neither revoked nor renewed), soonest expiry first."""
    return list(db.session.scalars(sa.select(Credential).where(
        Credential.staff_id == staff_id, Credential.revoked_at.is_(None), Credential.superseded_by_id.is_(None))
        .order_by(Credential.expires_on.is_(None), Credential.expires_on, Credential.id)))


def missing_required(staff: StaffMember, today: date, held: Iterable[Credential]) -> list[CredentialType]:
    """Required types (for the person's current classes, and those required of everyone) they hold no valid
    credential of today."""
    from app.school.credentials.qualification import applies

    rows = db.session.execute(sa.select(Assignment.role, Subject, SchoolClass.grade)
                              .join(SchoolClass, SchoolClass.id == Assignment.class_id)
                              .outerjoin(Subject, Subject.id == Assignment.subject_id)
                              .where(Assignment.staff_id == staff.id, covering(Assignment, today))).all()
    # the active required types once, each assignment matched against them (as reports._role_rules does)
    types = list(db.session.scalars(sa.select(CredentialType).where(
        CredentialType.is_active.is_(True),
        CredentialType.required_for.in_([RequiredFor.ALL, RequiredFor.TEACHING, RequiredFor.HOMEROOM]))))
    needed: dict[int, CredentialType] = {t.id: t for t in types if t.required_for == RequiredFor.ALL}
    for role, subject, grade in rows:
        taught = None if role == AssignmentRole.HOMEROOM else subject
        needed.update((t.id, t) for t in types if applies(t, taught, grade))
    # a renewed period still counts until its successor starts (qualification.held_types does the same)
    valid = {c.type_id for c in held if c.counts_on(today)} | {c.type_id for c in db.session.scalars(
        sa.select(Credential).where(Credential.staff_id == staff.id, Credential.revoked_at.is_(None),
                                    Credential.superseded_by_id.is_not(None))) if c.counts_on(today)}
    return sorted((t for t in needed.values() if t.id not in valid), key=lambda t: t.name)


def my_certificates(staff: StaffMember, today: date) -> MyCertificates:
    """The teacher's open credentials with status, countdown and hours progress; their training; what is missing."""
    from app.school.credentials.services import hours_progress

    held = open_credentials_of(staff.id)
    pending = open_renewals(c.id for c in held)
    certificates = [Certificate(c, status_of(c, today, has_open_renewal=c.id in pending),
                                days_left(c.expires_on, today), pending.get(c.id),
                                hours_progress(c) if c.type.renewal_hours else None) for c in held]
    training = training_of(staff.id)
    return MyCertificates(certificates, training,
                          documents_by(CredentialDocument.training_id, [t.id for t in training]),
                          missing_required(staff, today, held))


def upcoming_expiries(staff: StaffMember, today: date, days: int = 90) -> list[tuple[Credential, int]]:
    """The person's open credentials whose last day falls within `days` (or has passed), with the days left."""
    rows = db.session.scalars(sa.select(Credential).where(
        Credential.staff_id == staff.id, Credential.revoked_at.is_(None), Credential.superseded_by_id.is_(None),
        Credential.expires_on.is_not(None), Credential.expires_on <= today + timedelta(days=days))
        .order_by(Credential.expires_on))
    return [(c, days_left(c.expires_on, today)) for c in rows]


# --- the staff profile card -------------------------------------------------------------------------------


def credentials_of(staff: StaffMember) -> list[Credential]:
    """Every credential of one person, current ones first, then by type and newest period."""
    return list(db.session.scalars(sa.select(Credential).join(Credential.type).where(
        Credential.staff_id == staff.id).order_by(
        (Credential.revoked_at.is_not(None) | Credential.superseded_by_id.is_not(None)), CredentialType.name,
        Credential.issued_on.desc())))
