"""Contract templates (versioned bodies), contracts with a generic party, signatures, signing codes, obligations.

A party is a generic reference (`party_type` + `party_id`, e.g. "StaffMember" 12) plus the portal account
that signs; this module never imports the sector code that owns the party. The employer is an org unit,
which is also the scope an admin's reach is checked against.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.errors import Conflict
from app.core.models import install_guards, utcnow
from app.extensions import db
from app.general.auth.models import User
from app.general.org.models import OrgUnit


class ContractKind(enum.StrEnum):
    LABOUR = "labour"
    CONFIDENTIALITY = "confidentiality"
    NON_COMPETE = "non_compete"
    OTHER = "other"


class ContractStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SIGNED = "signed"
    ACTIVE = "active"
    ENDED = "ended"
    TERMINATED = "terminated"
    EXPIRED = "expired"


FINISHED = frozenset({ContractStatus.ENDED, ContractStatus.TERMINATED, ContractStatus.EXPIRED})


class SignerRole(enum.StrEnum):
    PARTY = "party"
    SCHOOL = "school"


class ObligationKind(enum.StrEnum):
    CONFIDENTIALITY = "confidentiality"
    NON_COMPETE_COMPENSATION = "non_compete_compensation"
    OTHER = "other"


class ObligationStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    WAIVED = "waived"


def _in(column: str, values) -> str:
    return f"{column} in ({', '.join(repr(str(v)) for v in values)})"


class ContractLocked(Conflict):
    """Something tried to change what was issued or signed."""


class ContractTemplate(db.Model):
    """One version of a template body. A new body is a new row (`version` + 1) of the same `family`."""

    __tablename__ = "contract_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(sa.String(32), nullable=False, index=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="en")
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # The unit that owns the template; contracts of employers inside it may use it.
    org_unit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("family", "version"),
        sa.CheckConstraint(_in("kind", ContractKind), name="kind"),
        sa.CheckConstraint("version >= 1", name="version"),
    )

    def __repr__(self) -> str:
        return f"<ContractTemplate {self.id} {self.family} v{self.version} {self.kind}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.org_unit


class Contract(db.Model):
    """A contract between an employer (org unit) and a party; its text is frozen when it is issued."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contract_templates.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    template_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False, index=True)
    employer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    party_type: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    party_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    party_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    party_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    party_email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    starts_on: Mapped[date] = mapped_column(nullable=False)
    ends_on: Mapped[date | None] = mapped_column(nullable=True, index=True)
    terms: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(sa.String(12), nullable=False, default=ContractStatus.DRAFT, index=True)
    rendered_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    rendered_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    ended_on: Mapped[date | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    row_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    template: Mapped[ContractTemplate] = relationship(lazy="joined")
    employer: Mapped[OrgUnit] = relationship(lazy="joined")
    party_user: Mapped[User | None] = relationship(foreign_keys=[party_user_id])
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="contract", order_by="Signature.signed_at", lazy="selectin"
    )
    obligations: Mapped[list[Obligation]] = relationship(
        back_populates="contract", order_by=lambda: (Obligation.due_on, Obligation.id)
    )

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ContractKind), name="kind"),
        sa.CheckConstraint(_in("status", ContractStatus), name="status"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        sa.CheckConstraint("status = 'draft' OR (rendered_text IS NOT NULL AND rendered_sha256 IS NOT NULL)",
                           name="frozen_text"),
        sa.Index("ix_contracts_party", "party_type", "party_id"),
        sa.Index("ix_contracts_status_ends_on", "status", "ends_on"),
    )

    def __repr__(self) -> str:
        return f"<Contract {self.id} {self.kind} {self.status} {self.party_type}:{self.party_id}>"

    @property
    def scope_unit(self) -> OrgUnit:
        """The employer: an admin or head reaches the contract when their scope covers it."""
        return self.employer

    @property
    def owner_user_id(self) -> int | None:
        """The party's own account may read (and sign) the contract."""
        return self.party_user_id

    def signature_of(self, role: str) -> Signature | None:
        return next((s for s in self.signatures if s.signer_role == role), None)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


# Columns that are part of what was issued and signed: never changed once the contract left the draft state.
LOCKED_COLUMNS = ("template_id", "template_version", "kind", "employer_id", "party_type", "party_id", "title",
                  "starts_on", "ends_on", "terms", "rendered_text", "rendered_sha256")


@sa.event.listens_for(Contract, "before_update")
def _refuse_changes_after_issue(_mapper, _connection, contract: Contract) -> None:
    """Model-level guard (the database triggers below are the second line)."""
    state = sa.inspect(contract)
    status_history = state.attrs.status.history
    previous = status_history.deleted[0] if status_history.deleted else contract.status
    if previous == ContractStatus.DRAFT:
        return
    if contract.status == ContractStatus.DRAFT:
        raise ContractLocked("an issued contract cannot go back to draft")
    changed = [name for name in LOCKED_COLUMNS if state.attrs[name].history.has_changes()]
    if changed:
        raise ContractLocked(f"contract {contract.id} is {previous}: {', '.join(changed)} cannot change")


class Signature(db.Model):
    """Evidence of one signature: who, when (server time), from where, and the hash of the exact text."""

    __tablename__ = "contract_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contracts.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    signer_role: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    signer_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False,
                                                index=True)
    signer_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    signer_email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    ip: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    user_agent: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    text_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    template_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    otp_confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    contract: Mapped[Contract] = relationship(back_populates="signatures")
    signer: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("contract_id", "signer_role"),
        sa.CheckConstraint(_in("signer_role", SignerRole), name="signer_role"),
    )

    def __repr__(self) -> str:
        return f"<Signature {self.id} contract={self.contract_id} {self.signer_role} {self.text_sha256[:12]}>"


class SigningCode(db.Model):
    """A one-time code e-mailed to the party; stored as a keyed hash, valid for minutes, few attempts."""

    __tablename__ = "contract_signing_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contracts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    sent_to: Mapped[str] = mapped_column(sa.String(254), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (sa.Index("ix_contract_signing_codes_user_created", "user_id", "created_at"),)

    def __repr__(self) -> str:
        return f"<SigningCode {self.id} contract={self.contract_id} attempts={self.attempts}>"


class Obligation(db.Model):
    """What outlives the contract: confidentiality, a month of non-compete compensation, anything else."""

    __tablename__ = "contract_obligations"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contracts.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False)
    period_starts_on: Mapped[date | None] = mapped_column(nullable=True)
    period_ends_on: Mapped[date | None] = mapped_column(nullable=True)
    due_on: Mapped[date | None] = mapped_column(nullable=True, index=True)
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2), nullable=True)
    currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=ObligationStatus.OPEN, index=True)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    row_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    contract: Mapped[Contract] = relationship(back_populates="obligations", lazy="joined")
    done_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ObligationKind), name="kind"),
        sa.CheckConstraint(_in("status", ObligationStatus), name="status"),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name="amount"),
    )

    def __repr__(self) -> str:
        return f"<Obligation {self.id} contract={self.contract_id} {self.kind} {self.due_on} {self.status}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.contract.employer

    @property
    def owner_user_id(self) -> int | None:
        return self.contract.party_user_id


# --- database guards ---------------------------------------------------------------------------------
# Signatures are never updated or deleted; an issued contract's text, terms and parties never change and
# it never returns to draft. The migration holds frozen copies of these statements; the listeners give
# create_all() (the test suite) the same triggers.
PG_SIGNATURE_GUARD = """
CREATE OR REPLACE FUNCTION contract_signatures_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'contract_signatures is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contract_signatures_append_only
    BEFORE UPDATE OR DELETE ON contract_signatures
    FOR EACH ROW EXECUTE FUNCTION contract_signatures_refuse_change();
"""
PG_CONTRACT_GUARD = """
CREATE OR REPLACE FUNCTION contracts_refuse_locked_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'contract % is %: only a draft can be deleted', OLD.id, OLD.status;
    END IF;
    IF NEW.status = 'draft'
        OR NEW.rendered_text IS DISTINCT FROM OLD.rendered_text
        OR NEW.rendered_sha256 IS DISTINCT FROM OLD.rendered_sha256
        OR NEW.template_id IS DISTINCT FROM OLD.template_id
        OR NEW.template_version IS DISTINCT FROM OLD.template_version
        OR NEW.kind IS DISTINCT FROM OLD.kind
        OR NEW.employer_id IS DISTINCT FROM OLD.employer_id
        OR NEW.party_type IS DISTINCT FROM OLD.party_type
        OR NEW.party_id IS DISTINCT FROM OLD.party_id
        OR NEW.title IS DISTINCT FROM OLD.title
        OR NEW.starts_on IS DISTINCT FROM OLD.starts_on
        OR NEW.ends_on IS DISTINCT FROM OLD.ends_on
        OR NEW.terms::text IS DISTINCT FROM OLD.terms::text
    THEN
        RAISE EXCEPTION 'contract % is %: its issued text and terms are locked', OLD.id, OLD.status;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contracts_locked_after_issue
    BEFORE UPDATE OR DELETE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_refuse_locked_change();
"""
_SQLITE_LOCKED = " OR ".join(
    ["NEW.status = 'draft'"] + [f"NEW.{column} IS NOT OLD.{column}" for column in LOCKED_COLUMNS]
)
SQLITE_SIGNATURE_GUARDS = (
    "CREATE TRIGGER contract_signatures_no_update BEFORE UPDATE ON contract_signatures "
    "BEGIN SELECT RAISE(ABORT, 'contract_signatures is append-only (UPDATE refused)'); END;",
    "CREATE TRIGGER contract_signatures_no_delete BEFORE DELETE ON contract_signatures "
    "BEGIN SELECT RAISE(ABORT, 'contract_signatures is append-only (DELETE refused)'); END;",
)
SQLITE_CONTRACT_GUARDS = (
    f"CREATE TRIGGER contracts_locked_after_issue BEFORE UPDATE ON contracts "
    f"WHEN OLD.status <> 'draft' AND ({_SQLITE_LOCKED}) "
    f"BEGIN SELECT RAISE(ABORT, 'an issued contract''s text and terms are locked'); END;",
    "CREATE TRIGGER contracts_no_delete_after_issue BEFORE DELETE ON contracts WHEN OLD.status <> 'draft' "
    "BEGIN SELECT RAISE(ABORT, 'only a draft contract can be deleted'); END;",
)


install_guards(Contract.__table__, PG_CONTRACT_GUARD, SQLITE_CONTRACT_GUARDS)
install_guards(Signature.__table__, PG_SIGNATURE_GUARD, SQLITE_SIGNATURE_GUARDS)
