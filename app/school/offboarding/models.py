"""Departure cases and what hangs off them: the handover checklist (from a per-role template), blockers raised
against the person, the reassignment plan, and one notice per guardian per case.

A case moves submitted → approved → handover → reassigned → parents_notified → access_revoked → settled → closed
(or ends withdrawn / rejected) only through app/school/offboarding/services; its version column makes two people
pressing the same button at once meet a conflict instead of both winning.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import User
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment, Guardian
from app.school.staff.models import StaffMember


class DepartureKind(enum.StrEnum):
    RESIGNATION = "resignation"
    CONTRACT_END = "contract_end"
    DISMISSAL = "dismissal"
    RETIREMENT = "retirement"
    TRANSFER = "transfer"


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    HANDOVER = "handover"
    REASSIGNED = "reassigned"
    PARENTS_NOTIFIED = "parents_notified"
    ACCESS_REVOKED = "access_revoked"
    SETTLED = "settled"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


# The main line, in order; withdrawn and rejected end a case early.
FLOW = (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.HANDOVER, CaseStatus.REASSIGNED,
        CaseStatus.PARENTS_NOTIFIED, CaseStatus.ACCESS_REVOKED, CaseStatus.SETTLED, CaseStatus.CLOSED)
FINISHED = frozenset({CaseStatus.CLOSED, CaseStatus.WITHDRAWN, CaseStatus.REJECTED})
_FINISHED_SQL = "status NOT IN ('closed', 'withdrawn', 'rejected')"


class NoticeRule(enum.StrEnum):
    STATUTORY = "statutory"      # 30 days' written notice (Labour Contract Law art. 37)
    PROBATION = "probation"      # 3 days during probation (art. 37)
    CONTRACT = "contract"        # the labour contract's own notice days
    CONTRACT_END = "contract_end"  # the contract's agreed last day
    NONE = "none"                # dismissal: no notice period


class ItemOwner(enum.StrEnum):
    TEACHER = "teacher"
    IT = "it"
    FINANCE = "finance"
    HEAD = "head"
    ADMIN = "admin"


class BlockerKind(enum.StrEnum):
    COMPLAINT = "complaint"
    DISPUTE = "dispute"
    ASSET = "asset"
    MONEY = "money"


class DepartureCase(db.Model):
    __tablename__ = "departure_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False, index=True)
    school_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(sa.String(14), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(18), nullable=False, default=CaseStatus.SUBMITTED, index=True)
    submitted_on: Mapped[date] = mapped_column(nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Private: seen by admins and heads, never by parents (and never in a notice).
    private_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    notice_rule: Mapped[str] = mapped_column(sa.String(14), nullable=False)
    notice_days: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    earliest_last_day: Mapped[date] = mapped_column(nullable=False)
    last_working_day: Mapped[date] = mapped_column(nullable=False, index=True)
    waiver_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    waived_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    # The reassignment: the first day of the new teachers, and the wording of the parents' notice per language.
    effective_on: Mapped[date | None] = mapped_column(nullable=True)
    notice_wording: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    reassigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    parents_notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Access: when the beat task disables the account (the end of the last working day; at once for a dismissal).
    revoke_access_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    access_revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # True when this case disabled the account (it was active): only then may withdrawing the case give it back.
    disabled_account: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Settlement: the final month's pay as computed (or as the month's approved run has it), money items, contract.
    final_pay: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2), nullable=True)
    final_pay_detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    money_items_total: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2), nullable=True)
    contract_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contracts.id", ondelete="SET NULL"),
                                                    nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)  # withdrawn or rejected
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    staff: Mapped[StaffMember] = relationship(lazy="joined")
    school: Mapped[OrgUnit] = relationship(lazy="joined")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    items: Mapped[list[ChecklistItem]] = relationship(back_populates="case", order_by="ChecklistItem.position",
                                                      lazy="selectin")
    plan: Mapped[list[Reassignment]] = relationship(back_populates="case", order_by="Reassignment.id",
                                                    lazy="selectin")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("kind in ('resignation', 'contract_end', 'dismissal', 'retirement', 'transfer')",
                           name="kind"),
        sa.CheckConstraint("status in ('submitted', 'approved', 'handover', 'reassigned', 'parents_notified', "
                           "'access_revoked', 'settled', 'closed', 'withdrawn', 'rejected')", name="status"),
        sa.CheckConstraint("notice_rule in ('statutory', 'probation', 'contract', 'contract_end', 'none')",
                           name="notice_rule"),
        sa.CheckConstraint("notice_days >= 0", name="notice_days"),
        sa.CheckConstraint("last_working_day >= earliest_last_day OR waiver_reason IS NOT NULL", name="waiver"),
        # One open case per person: a second resignation while one is under way is refused by the database too.
        sa.Index("ix_departure_cases_one_open", "staff_id", unique=True,
                 sqlite_where=sa.text(_FINISHED_SQL), postgresql_where=sa.text(_FINISHED_SQL)),
    )

    def __repr__(self) -> str:
        return f"<DepartureCase {self.id} staff={self.staff_id} {self.kind} {self.status}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        """The departing teacher reads their own case (through the `departures.view_own` permission)."""
        return self.staff.user_id

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED

    @property
    def waived(self) -> bool:
        return self.last_working_day < self.earliest_last_day


class ChecklistTemplateItem(db.Model):
    """One line of the handover checklist a departing member of a role gets (configured by admins)."""

    __tablename__ = "checklist_template_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)  # the account's role
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    owner: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    is_money: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("role in ('admin', 'head', 'teacher')", name="role"),
        sa.CheckConstraint("owner in ('teacher', 'it', 'finance', 'head', 'admin')", name="owner"),
    )

    def __repr__(self) -> str:
        return f"<ChecklistTemplateItem {self.id} {self.role} {self.title!r}>"


class ChecklistItem(db.Model):
    """One handover task of a case: who owns it, who ticked it off and when, with what evidence. A money item
    carries an amount: positive when the school owes the teacher, negative when the teacher owes the school."""

    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("departure_cases.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    owner: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    is_money: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    evidence: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    case: Mapped[DepartureCase] = relationship(back_populates="items")
    done_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("owner in ('teacher', 'it', 'finance', 'head', 'admin')", name="owner"),
        sa.UniqueConstraint("case_id", "title"),
    )

    def __repr__(self) -> str:
        return f"<ChecklistItem {self.id} case={self.case_id} {self.title!r} done={self.done_at is not None}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.case.scope_unit

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class Blocker(db.Model):
    """Something that must be resolved before the person's departure can be settled (raised at any time)."""

    __tablename__ = "departure_blockers"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False,
                                          index=True)
    kind: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    description: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    raised_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    raised_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                       nullable=True)
    resolution: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    staff: Mapped[StaffMember] = relationship(lazy="joined")
    raised_by: Mapped[User | None] = relationship(foreign_keys=[raised_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("kind in ('complaint', 'dispute', 'asset', 'money')", name="kind"),
        sa.Index("ix_departure_blockers_open", "staff_id", "resolved_at"),
    )

    def __repr__(self) -> str:
        return f"<Blocker {self.id} staff={self.staff_id} {self.kind} open={self.resolved_at is None}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Reassignment(db.Model):
    """One line of the plan: the departing teacher's assignment and the colleague chosen to take it over. Once
    the plan is confirmed, `new_assignment_id` is the assignment that took over."""

    __tablename__ = "reassignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("departure_cases.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    old_assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="RESTRICT"),
                                                   nullable=False, index=True)
    new_staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_members.id", ondelete="RESTRICT"),
                                                     nullable=True, index=True)
    override_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    new_assignment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assignments.id", ondelete="RESTRICT"),
                                                          nullable=True)
    effective_on: Mapped[date | None] = mapped_column(nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    case: Mapped[DepartureCase] = relationship(back_populates="plan")
    old_assignment: Mapped[Assignment] = relationship(foreign_keys=[old_assignment_id], lazy="joined")
    new_assignment: Mapped[Assignment | None] = relationship(foreign_keys=[new_assignment_id])
    new_staff: Mapped[StaffMember | None] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("case_id", "old_assignment_id"),)

    def __repr__(self) -> str:
        return f"<Reassignment {self.id} case={self.case_id} {self.old_assignment_id}→{self.new_staff_id}>"


class ParentNotice(db.Model):
    """The one notice a guardian gets for a case: what changed for which of their children (`changes`, facts only,
    never the reason for leaving), the outbox key its deliveries carry, and the acknowledgement."""

    __tablename__ = "parent_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("departure_cases.id", ondelete="CASCADE"), nullable=False)
    guardian_id: Mapped[int] = mapped_column(sa.ForeignKey("guardians.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    school_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False)
    channel: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    changes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    wording: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    outbox_key: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_via: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)

    case: Mapped[DepartureCase] = relationship()
    guardian: Mapped[Guardian] = relationship(lazy="joined")
    school: Mapped[OrgUnit] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("case_id", "guardian_id"),
        sa.CheckConstraint("channel in ('email', 'sms')", name="channel"),
        sa.CheckConstraint("acknowledged_via IS NULL OR acknowledged_via in ('portal', 'link')",
                           name="acknowledged_via"),
    )

    def __repr__(self) -> str:
        return f"<ParentNotice {self.id} case={self.case_id} guardian={self.guardian_id}>"

    @property
    def owner_user_id(self) -> int | None:
        """Only the guardian's own account reads it in the portal (the signed link reads it without one)."""
        return self.guardian.user_id

    @property
    def scope_unit(self) -> OrgUnit:
        return self.school
