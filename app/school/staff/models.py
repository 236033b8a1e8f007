"""A staff member belongs to a school (and usually a department), may have a portal account, and
lists the subjects they may teach. People are never deleted: they depart."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import names
from app.core.models import concat, postgresql_only, trigram_index, utcnow
from app.extensions import db
from app.general.auth.models import User
from app.general.org.models import OrgUnit


class StaffStatus(enum.StrEnum):
    ACTIVE = "active"
    ON_NOTICE = "on_notice"
    DEPARTED = "departed"


staff_subjects = sa.Table(
    "staff_subjects",
    db.metadata,
    sa.Column("staff_id", sa.ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("subject_id", sa.ForeignKey("subjects.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class StaffMember(db.Model):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    employee_number: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    family_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    given_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True, index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    hired_on: Mapped[date] = mapped_column(nullable=False)
    probation_ends_on: Mapped[date | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(sa.String(12), nullable=False, default=StaffStatus.ACTIVE, index=True)
    max_weekly_periods: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=16)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    departed_on: Mapped[date | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    school: Mapped[OrgUnit] = relationship(foreign_keys=[school_id], lazy="joined")
    department: Mapped[OrgUnit | None] = relationship(foreign_keys=[department_id], lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")
    subjects: Mapped[list[Subject]] = relationship(  # noqa: F821 (defined in app.school.classes.models)
        secondary=staff_subjects, order_by="Subject.name", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.UniqueConstraint("school_id", "employee_number"),
        sa.CheckConstraint("status in ('active', 'on_notice', 'departed')", name="status"),
        sa.CheckConstraint("max_weekly_periods >= 0 AND max_weekly_periods <= 60", name="max_weekly_periods"),
    )

    def __repr__(self) -> str:
        return f"<StaffMember {self.id} {self.employee_number} {self.full_name}>"

    @property
    def full_name(self) -> str:
        """Family name first for CJK names (王芳), given name first otherwise (Emily Johnson)."""
        return names.full_name(self.family_name, self.given_name)

    @property
    def scope_unit(self) -> OrgUnit:
        """The unit the policy checks an admin's or head's scope against."""
        return self.department or self.school

    @property
    def owner_user_id(self) -> int | None:
        """The teacher's own account may read their own record."""
        return self.user_id


# What the staff search compares each word with: "王芳 RS1-T001 wang.fang@…", the names written together (so a
# CJK full name matches), then the number and the e-mail after a space, which no search word contains, so a word
# matches exactly when it lies within the names, the number or the e-mail. The spaces are SQL text, not bound
# parameters, so the query's expression is the trigram index's expression.
STAFF_SEARCH_TEXT = concat(StaffMember.family_name, StaffMember.given_name, sa.text("' '"),
                           StaffMember.employee_number, sa.text("' '"),
                           sa.func.coalesce(StaffMember.email, sa.text("''")))
trigram_index("ix_staff_members_search_trgm", STAFF_SEARCH_TEXT)
# The list's default order (by name, case-insensitive), carrying what the list filters and joins on: its pages'
# ids come from the index alone (an index-only scan), even deep pages, instead of a sort of every staff member.
postgresql_only(sa.Index("ix_staff_members_name_order", sa.func.lower(StaffMember.family_name),
                         sa.func.lower(StaffMember.given_name), StaffMember.id,
                         postgresql_include=["family_name", "given_name", "status", "department_id", "school_id"]))
