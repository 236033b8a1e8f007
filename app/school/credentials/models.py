"""Credential types, credentials (certification periods), documents, training records, renewals and the
log of reminders sent.

A credential is one certification period. Renewing it creates a new credential and marks the old one
`superseded_by`: a person's periods stay listed. Status is derived from dates (see `status.py`), never
stored, except the facts that dates cannot tell: revoked, superseded, a renewal under review.
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
from app.school.classes.models import Subject
from app.school.staff.models import StaffMember


class RequiredFor(enum.StrEnum):
    """Who must hold a credential of a type."""

    ALL = "all"            # every active staff member
    TEACHING = "teaching"  # whoever teaches a (listed) subject, in the grade range
    HOMEROOM = "homeroom"  # homeroom teachers, in the grade range
    NONE = "none"          # recorded, never required (e.g. a professional title)


credential_type_subjects = sa.Table(
    "credential_type_subjects",
    db.metadata,
    sa.Column("type_id", sa.ForeignKey("credential_types.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("subject_id", sa.ForeignKey("subjects.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class CredentialType(db.Model):
    """A kind of credential of the district's catalogue: validity, grace, reminders, renewal rule, who needs it."""

    __tablename__ = "credential_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    validity_years: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # None: never expires
    grace_days: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # days before expiry, largest first, e.g. "90,30,7"
    reminder_offsets: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="90,30,7")
    renewal_hours: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 1), nullable=True)
    required_for: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=RequiredFor.NONE)
    grade_min: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    grade_max: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    subjects: Mapped[list[Subject]] = relationship(secondary=credential_type_subjects, order_by="Subject.name",
                                                   lazy="selectin")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("required_for in ('all', 'teaching', 'homeroom', 'none')", name="required_for"),
        sa.CheckConstraint("validity_years IS NULL OR (validity_years >= 1 AND validity_years <= 50)",
                           name="validity_years"),
        sa.CheckConstraint("grace_days >= 0 AND grace_days <= 365", name="grace_days"),
        sa.CheckConstraint("renewal_hours IS NULL OR renewal_hours > 0", name="renewal_hours"),
        sa.CheckConstraint("grade_min IS NULL OR grade_max IS NULL OR grade_min <= grade_max", name="grades"),
    )

    def __repr__(self) -> str:
        return f"<CredentialType {self.code}>"

    @property
    def offsets(self) -> tuple[int, ...]:
        """Reminder offsets in days before expiry, largest first."""
        return tuple(sorted({int(part) for part in self.reminder_offsets.split(",") if part.strip()}, reverse=True))

    def covers_grade(self, grade: int | None) -> bool:
        """True when the type's grade range (if any) includes `grade`."""
        if grade is None:
            return True
        low_ok = self.grade_min is None or grade >= self.grade_min
        return low_ok and (self.grade_max is None or grade <= self.grade_max)


class Credential(db.Model):
    """One certification period of one staff member: issued and (maybe) expiring; revoked or renewed later."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    type_id: Mapped[int] = mapped_column(
        sa.ForeignKey("credential_types.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    number: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    issuer: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    issued_on: Mapped[date] = mapped_column(nullable=False)
    expires_on: Mapped[date | None] = mapped_column(nullable=True, index=True)  # last valid day
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"), nullable=True, unique=True
    )
    note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    staff: Mapped[StaffMember] = relationship(lazy="joined")
    type: Mapped[CredentialType] = relationship(lazy="joined")
    superseded_by: Mapped[Credential | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("expires_on IS NULL OR expires_on >= issued_on", name="dates"),
        sa.Index("ix_credentials_staff_type", "staff_id", "type_id"),
    )

    def __repr__(self) -> str:
        return f"<Credential {self.id} {self.type_id} staff={self.staff_id} {self.issued_on}..{self.expires_on}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        return self.staff.user_id

    @property
    def is_open(self) -> bool:
        """Neither revoked nor replaced by a renewal: the period a person holds now (or last held)."""
        return self.revoked_at is None and self.superseded_by_id is None

    def counts_on(self, day: date) -> bool:
        """True when the credential makes its holder qualified on `day` (grace days included)."""
        if self.revoked_at is not None or self.issued_on > day:
            return False
        if self.expires_on is None:
            return True
        return (day - self.expires_on).days <= self.type.grace_days


class TrainingStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"


class TrainingRecord(db.Model):
    """Continuing professional development: hours of training a teacher did, verified by an admin."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    completed_on: Mapped[date] = mapped_column(nullable=False)
    provider: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    topic: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 1), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=TrainingStatus.SUBMITTED, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    staff: Mapped[StaffMember] = relationship(lazy="joined")
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("status in ('submitted', 'verified', 'rejected')", name="status"),
        sa.CheckConstraint("hours > 0 AND hours <= 1000", name="hours"),
        sa.Index("ix_training_records_staff_day", "staff_id", "completed_on"),
    )

    def __repr__(self) -> str:
        return f"<TrainingRecord {self.id} staff={self.staff_id} {self.hours}h {self.status}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        return self.staff.user_id


class RenewalStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Renewal(db.Model):
    """A teacher's request to renew a credential: evidence, the rule's count, and the decision."""

    __tablename__ = "credential_renewals"

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=RenewalStatus.SUBMITTED, index=True)
    note: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    hours_counted: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 1), nullable=True)  # at the decision
    hours_required: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 1), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    new_credential_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"), nullable=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    credential: Mapped[Credential] = relationship(foreign_keys=[credential_id], lazy="joined")
    new_credential: Mapped[Credential | None] = relationship(foreign_keys=[new_credential_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("status in ('submitted', 'approved', 'rejected', 'withdrawn')", name="status"),
        # one open renewal per credential, on both backends (partial unique index)
        sa.Index("uq_credential_renewals_open", "credential_id", unique=True,
                 sqlite_where=sa.text("status = 'submitted'"), postgresql_where=sa.text("status = 'submitted'")),
    )

    def __repr__(self) -> str:
        return f"<Renewal {self.id} credential={self.credential_id} {self.status}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.credential.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        return self.credential.owner_user_id


class CredentialDocument(db.Model):
    """An uploaded PDF or image: evidence for a credential, a training record or a renewal.

    The file lives outside the web root under a random name; only the policy serves it.
    """

    __tablename__ = "credential_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        sa.ForeignKey("staff_members.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    credential_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    training_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("training_records.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    renewal_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credential_renewals.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    stored_name: Mapped[str] = mapped_column(sa.String(80), nullable=False, unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    staff: Mapped[StaffMember] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            "(CASE WHEN credential_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN training_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN renewal_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner"),
        sa.CheckConstraint("content_type in ('application/pdf', 'image/png', 'image/jpeg')", name="content_type"),
    )

    def __repr__(self) -> str:
        return f"<CredentialDocument {self.id} {self.content_type} staff={self.staff_id}>"

    @property
    def scope_unit(self) -> OrgUnit:
        return self.staff.scope_unit

    @property
    def owner_user_id(self) -> int | None:
        return self.staff.user_id


class CredentialReminder(db.Model):
    """One reminder sent for one credential at one offset (0: expired, escalated to the head).

    The unique pair is what makes the daily scan safe to run twice or late.
    """

    __tablename__ = "credential_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        sa.ForeignKey("credentials.id", ondelete="CASCADE"), nullable=False
    )
    offset_days: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    expires_on: Mapped[date] = mapped_column(nullable=False)
    sent_on: Mapped[date] = mapped_column(nullable=False, index=True)
    recipients: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("credential_id", "offset_days"),)

    def __repr__(self) -> str:
        return f"<CredentialReminder credential={self.credential_id} {self.offset_days}d on {self.sent_on}>"
