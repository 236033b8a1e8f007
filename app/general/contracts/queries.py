"""Reading contracts and templates: scoped lists, a party's contracts, what is ending or falling due."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.general.contracts.models import (
    Contract,
    ContractStatus,
    ContractTemplate,
    Obligation,
    ObligationStatus,
    SigningCode,
)
from app.general.org.models import OrgUnit, OrgUnitKind
from app.general.org.queries import in_reach, units_in_reach


@dataclass(frozen=True)
class ContractFilter:
    kind: str = ""
    status: str = ""
    employer_id: int | None = None
    q: str = ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def visible_contracts(user, f: ContractFilter | None = None) -> sa.Select:
    """Contracts whose employer lies within the user's scopes, filtered, newest first."""
    f = f or ContractFilter()
    stmt = sa.select(Contract).join(OrgUnit, OrgUnit.id == Contract.employer_id).where(in_reach(user))
    if f.kind:
        stmt = stmt.where(Contract.kind == f.kind)
    if f.status:
        stmt = stmt.where(Contract.status == f.status)
    if f.employer_id:
        stmt = stmt.where(Contract.employer_id == f.employer_id)
    if f.q.strip():
        pattern = _like(f.q.strip())
        stmt = stmt.where(sa.or_(Contract.party_name.ilike(pattern, escape="\\"),
                                 Contract.title.ilike(pattern, escape="\\")))
    return stmt.order_by(Contract.created_at.desc(), Contract.id.desc())


def contract_for_update(contract_id: int) -> Contract | None:
    """The contract, locked for this transaction on PostgreSQL (SELECT … FOR UPDATE; a no-op on SQLite)."""
    stmt = (
        sa.select(Contract).where(Contract.id == contract_id)
        .with_for_update(of=Contract).execution_options(populate_existing=True)
    )
    return db.session.scalar(stmt)


def contracts_for_party(party_type: str, party_id: int) -> list[Contract]:
    """Every contract of one party (e.g. "StaffMember", 12), the newest first — for the party's profile page."""
    stmt = (
        sa.select(Contract)
        .where(Contract.party_type == party_type, Contract.party_id == int(party_id))
        .order_by(Contract.starts_on.desc(), Contract.id.desc())
    )
    return list(db.session.scalars(stmt))


def contracts_for_user(user, *, include_drafts: bool = False) -> list[Contract]:
    """The contracts a portal account is party to (drafts are the school's business until issued)."""
    stmt = sa.select(Contract).where(Contract.party_user_id == user.id)
    if not include_drafts:
        stmt = stmt.where(Contract.status != ContractStatus.DRAFT)
    return list(db.session.scalars(stmt.order_by(Contract.starts_on.desc(), Contract.id.desc())))


def awaiting_signature(user) -> list[Contract]:
    """Issued contracts waiting for this account's signature."""
    stmt = sa.select(Contract).where(Contract.party_user_id == user.id, Contract.status == ContractStatus.ISSUED)
    return list(db.session.scalars(stmt.order_by(Contract.issued_at, Contract.id)))


def contracts_ending_between(start: date, end: date) -> list[Contract]:
    """Active contracts whose agreed last day falls within [start, end]."""
    stmt = (
        sa.select(Contract)
        .where(Contract.status == ContractStatus.ACTIVE, Contract.ends_on.between(start, end))
        .options(selectinload(Contract.party_user))
        .order_by(Contract.ends_on, Contract.id)
    )
    return list(db.session.scalars(stmt))


def expiring_contracts(user, *, on: date, within_days: int = 60) -> list[Contract]:
    """Active contracts in the user's reach that end within `within_days` of `on`."""
    stmt = visible_contracts(user).where(
        Contract.status == ContractStatus.ACTIVE, Contract.ends_on.between(on, on + timedelta(days=within_days))
    ).order_by(None).order_by(Contract.ends_on, Contract.id)
    return list(db.session.scalars(stmt))


def active_contracts_ended_before(on: date) -> list[Contract]:
    """Active contracts whose agreed last day is before `on` (due to expire)."""
    stmt = sa.select(Contract).where(Contract.status == ContractStatus.ACTIVE, Contract.ends_on < on)
    return list(db.session.scalars(stmt.order_by(Contract.id)))


def open_obligations_due_between(start: date, end: date) -> list[Obligation]:
    """Open obligations whose due day falls within [start, end]."""
    stmt = (
        sa.select(Obligation)
        .where(Obligation.status == ObligationStatus.OPEN, Obligation.due_on.between(start, end))
        .order_by(Obligation.due_on, Obligation.id)
    )
    return list(db.session.scalars(stmt))


def has_live_code(contract: Contract, user) -> bool:
    """Has this person an unused, unexpired signing code for the contract (the page says so)?"""
    from app.core.models import utcnow

    stmt = sa.select(SigningCode.id).where(
        SigningCode.contract_id == contract.id, SigningCode.user_id == user.id, SigningCode.used_at.is_(None),
        SigningCode.expires_at > utcnow(),
    )
    return db.session.scalar(stmt.limit(1)) is not None


# --- templates ---------------------------------------------------------------------------------------------------


def _visible_unit(user) -> sa.ColumnElement[bool]:
    """A template's unit is visible when inside the user's scopes or above one of them (a district template)."""
    paths = [scope.org_unit.path for scope in user.scopes]
    if not paths:
        return sa.false()
    above = [sa.literal(path).startswith(OrgUnit.path) for path in paths]
    return sa.or_(in_reach(user), *above)


def latest_templates(user, *, active_only: bool = False) -> list[ContractTemplate]:
    """The newest version of every template family the user can see, by kind and name."""
    newest = (
        sa.select(ContractTemplate.family, sa.func.max(ContractTemplate.version).label("version"))
        .group_by(ContractTemplate.family)
        .subquery()
    )
    stmt = (
        sa.select(ContractTemplate)
        .join(newest, sa.and_(newest.c.family == ContractTemplate.family, newest.c.version == ContractTemplate.version))
        .join(OrgUnit, OrgUnit.id == ContractTemplate.org_unit_id)
        .where(_visible_unit(user))
        .order_by(ContractTemplate.kind, ContractTemplate.name, ContractTemplate.id)
    )
    if active_only:
        stmt = stmt.where(ContractTemplate.is_active.is_(True))
    return list(db.session.scalars(stmt))


def template_visible(user, template: ContractTemplate) -> bool:
    """May the user read this template (inside their scopes, or owned by a unit above them)?"""
    unit = template.org_unit
    return any(scope.org_unit.contains(unit) or unit.contains(scope.org_unit) for scope in user.scopes)


def template_versions(family: str) -> list[ContractTemplate]:
    """Every version of one template, the newest first."""
    stmt = sa.select(ContractTemplate).where(ContractTemplate.family == family)
    return list(db.session.scalars(stmt.order_by(ContractTemplate.version.desc())))


def template_in_use(template: ContractTemplate) -> int:
    """How many contracts use this template version."""
    stmt = sa.select(sa.func.count()).select_from(Contract).where(Contract.template_id == template.id)
    return db.session.scalar(stmt) or 0


def employers_for(user) -> list[OrgUnit]:
    """The units a user may name as employer: active schools and districts within their scopes."""
    return units_in_reach(user, kinds={OrgUnitKind.SCHOOL, OrgUnitKind.DISTRICT})


def template_owners_for(user) -> list[OrgUnit]:
    """The units that can own a template the user creates (the same as the employers)."""
    return employers_for(user)


def timeline(contract: Contract) -> list:
    """The contract's audit events, oldest first (status changes, signatures, obligations)."""
    from app.general.audit.queries import events_for_subject

    return events_for_subject("Contract", contract.id)
