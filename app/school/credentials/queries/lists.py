"""Reading credentials for lists: derived status, the scoped filterable list, the review queues, and the checks
that make a second press of a form harmless."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from app.extensions import db
from app.general.org.models import OrgUnit
from app.school.classes.queries.common import in_scope, local_today, schools_for
from app.school.credentials.models import (
    Credential,
    CredentialDocument,
    CredentialType,
    Renewal,
    RenewalStatus,
    TrainingRecord,
    TrainingStatus,
)
from app.school.credentials.services.common import ClassesInvalid
from app.school.credentials.services.training import clean_training
from app.school.credentials.status import DEFAULT_WARNING_DAYS, CredentialStatus, StatusFacts, derive_status
from app.school.staff.models import StaffMember
from app.school.staff.queries import search_condition

__all__ = ["local_today", "schools_for"]  # dated and scoped as the other school pages

STATUS_FILTERS = ("current", "valid", "expiring", "grace", "expired", "pending_renewal", "revoked", "renewed", "all")


# --- status -----------------------------------------------------------------------------------------------


def warning_days(credential_type: CredentialType) -> int:
    """A credential counts as expiring from the type's first (largest) reminder offset on."""
    offsets = credential_type.offsets
    return offsets[0] if offsets else DEFAULT_WARNING_DAYS


def status_of(credential: Credential, today: date, *, has_open_renewal: bool = False) -> CredentialStatus:
    """The derived status of one credential on `today`."""
    return derive_status(StatusFacts(
        expires_on=credential.expires_on, grace_days=credential.type.grace_days,
        warning_days=warning_days(credential.type), is_revoked=credential.revoked_at is not None,
        is_superseded=credential.superseded_by_id is not None, has_open_renewal=has_open_renewal), today)


def open_renewals(credential_ids: Iterable[int]) -> dict[int, Renewal]:
    """The renewal under review of each credential that has one (one query)."""
    ids = sorted(set(credential_ids))
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Renewal).where(Renewal.credential_id.in_(ids),
                                                       Renewal.status == RenewalStatus.SUBMITTED))
    return {renewal.credential_id: renewal for renewal in rows}


def statuses(credentials: Iterable[Credential], today: date) -> dict[int, CredentialStatus]:
    """The derived status of each credential by id (one query for the open renewals)."""
    items = list(credentials)
    pending = open_renewals(c.id for c in items)
    return {c.id: status_of(c, today, has_open_renewal=c.id in pending) for c in items}


# --- the list ---------------------------------------------------------------------------------------------

# a page's schools in one IN query instead of one per row
_WITH_SCHOOL = selectinload(Credential.staff).selectinload(StaffMember.school)


@dataclass(frozen=True)
class CredentialFilter:
    school_id: int | None = None
    type_id: int | None = None
    status: str = "current"
    q: str = ""


def _has_open_renewal() -> sa.ColumnElement[bool]:
    return sa.exists().where(Renewal.credential_id == Credential.id, Renewal.status == RenewalStatus.SUBMITTED)


def _per_type(types: list[CredentialType], condition) -> sa.ColumnElement[bool]:
    """OR over the catalogue of `condition(type)` restricted to that type (the catalogue is small)."""
    if not types:
        return sa.false()
    return sa.or_(*(sa.and_(Credential.type_id == t.id, condition(t)) for t in types))


def _status_condition(status: str, today: date) -> sa.ColumnElement[bool] | None:
    """The derived status as SQL (the same precedence as `status.derive_status`)."""
    is_open = sa.and_(Credential.revoked_at.is_(None), Credential.superseded_by_id.is_(None))
    if status == "all":
        return None
    if status == CredentialStatus.REVOKED:
        return Credential.revoked_at.is_not(None)
    if status == CredentialStatus.RENEWED:
        return sa.and_(Credential.revoked_at.is_(None), Credential.superseded_by_id.is_not(None))
    if status == CredentialStatus.PENDING_RENEWAL:
        return sa.and_(is_open, _has_open_renewal())
    types = list(db.session.scalars(sa.select(CredentialType)))
    by_date = {
        CredentialStatus.VALID: lambda t: sa.or_(Credential.expires_on.is_(None),
                                                 Credential.expires_on > today + timedelta(days=warning_days(t))),
        CredentialStatus.EXPIRING: lambda t: Credential.expires_on.between(today,
                                                                           today + timedelta(days=warning_days(t))),
        CredentialStatus.GRACE: lambda t: sa.and_(Credential.expires_on < today,
                                                  Credential.expires_on >= today - timedelta(days=t.grace_days)),
        CredentialStatus.EXPIRED: lambda t: Credential.expires_on < today - timedelta(days=t.grace_days),
    }
    if status in by_date:
        return sa.and_(is_open, ~_has_open_renewal(), _per_type(types, by_date[status]))
    return is_open  # "current": the periods people hold now (or last held)


def staff_in_scope(user, stmt: sa.Select) -> sa.Select:
    """`stmt` (already joined to StaffMember) narrowed to staff whose department, else school, lies in a scope
    of `user`: the one scope join of the credentials lists, queues and exports."""
    scope_unit = aliased(OrgUnit)
    return (stmt.join(scope_unit, scope_unit.id == sa.func.coalesce(StaffMember.department_id,
                                                                     StaffMember.school_id))
            .where(in_scope(user, scope_unit)))


def credentials_for(user, credential_filter: CredentialFilter | None = None, today: date | None = None) -> sa.Select:
    """The credentials of the staff `user` reaches, filtered: one statement to paginate."""
    f = credential_filter or CredentialFilter()
    stmt = staff_in_scope(user, sa.select(Credential).join(Credential.staff))
    conditions = [search_condition(f.q or ""), _status_condition(f.status, today or local_today())]
    if f.school_id:
        conditions.append(StaffMember.school_id == f.school_id)
    if f.type_id:
        conditions.append(Credential.type_id == f.type_id)
    stmt = stmt.where(*(c for c in conditions if c is not None))
    return stmt.order_by(Credential.expires_on.is_(None), Credential.expires_on, Credential.id).options(_WITH_SCHOOL)


def credential_types(*, active_only: bool = False) -> list[CredentialType]:
    """The catalogue, by name."""
    stmt = sa.select(CredentialType).order_by(CredentialType.name, CredentialType.id)
    if active_only:
        stmt = stmt.where(CredentialType.is_active.is_(True))
    return list(db.session.scalars(stmt))


def staff_by_number(school_id: int, number: str) -> StaffMember | None:
    """The staff member of a school with this employee number (case-insensitive), if any."""
    return db.session.scalar(sa.select(StaffMember).where(
        StaffMember.school_id == school_id, sa.func.upper(StaffMember.employee_number) == (number or "").upper()))


# --- review queues ----------------------------------------------------------------------------------------


def training_queue(user) -> sa.Select:
    """Training records waiting for verification, of the staff `user` reaches, oldest first."""
    stmt = (sa.select(TrainingRecord).join(StaffMember, StaffMember.id == TrainingRecord.staff_id)
            .where(TrainingRecord.status == TrainingStatus.SUBMITTED))
    return staff_in_scope(user, stmt).order_by(TrainingRecord.created_at, TrainingRecord.id).options(
        selectinload(TrainingRecord.staff).selectinload(StaffMember.school))


def renewals_queue(user, status: str = RenewalStatus.SUBMITTED) -> sa.Select:
    """Renewals of the staff `user` reaches: those under review oldest first (others newest first)."""
    stmt = (sa.select(Renewal).join(Credential, Credential.id == Renewal.credential_id)
            .join(StaffMember, StaffMember.id == Credential.staff_id))
    stmt = staff_in_scope(user, stmt).options(selectinload(Renewal.credential).options(_WITH_SCHOOL))
    if status == RenewalStatus.SUBMITTED:
        return stmt.where(Renewal.status == status).order_by(Renewal.submitted_at, Renewal.id)
    if status in set(RenewalStatus):
        stmt = stmt.where(Renewal.status == status)
    return stmt.order_by(Renewal.submitted_at.desc(), Renewal.id.desc())


def queue_counts(user) -> dict[str, int]:
    """How many training records and renewals wait for `user`'s decision (for the tabs)."""
    def count(stmt: sa.Select) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))

    return {"training": count(training_queue(user)), "renewals": count(renewals_queue(user))}


# --- double submits ---------------------------------------------------------------------------------------


def same_credential(staff_id: int, type_id: int, issued_on: date | None, number: str | None) -> Credential | None:
    """An open credential already recorded with these facts (a second press of the same form)."""
    if issued_on is None:
        return None
    return db.session.scalar(sa.select(Credential).where(
        Credential.staff_id == staff_id, Credential.type_id == type_id, Credential.issued_on == issued_on,
        Credential.revoked_at.is_(None),
        Credential.number.is_(None) if not number else Credential.number == number.strip()).limit(1))


def same_training(staff_id: int, data: dict, *, today: date) -> TrainingRecord | None:
    """A submitted record with exactly these facts (a second press of the same form): the form's values cleaned
    as `services.clean_training` cleans them; none when they are invalid (submitting reports why)."""
    try:
        clean = clean_training(data, today=today)
    except ClassesInvalid:
        return None
    return db.session.scalar(sa.select(TrainingRecord).where(
        TrainingRecord.staff_id == staff_id, TrainingRecord.status == TrainingStatus.SUBMITTED,
        TrainingRecord.completed_on == clean["completed_on"], TrainingRecord.provider == clean["provider"],
        TrainingRecord.topic == clean["topic"], TrainingRecord.hours == clean["hours"]).limit(1))


def same_document(owner_column, owner_id: int, sha256: str) -> CredentialDocument | None:
    """The same file already attached to the same record."""
    return db.session.scalar(sa.select(CredentialDocument).where(
        owner_column == owner_id, CredentialDocument.sha256 == sha256).limit(1))
