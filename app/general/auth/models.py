"""Users with a role and scopes (org units); login attempts; second-factor recovery codes."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import utcnow
from app.extensions import db
from app.general.org.models import OrgUnit


class Role(enum.StrEnum):
    ADMIN = "admin"
    HEAD = "head"
    TEACHER = "teacher"
    PARENT = "parent"


ROLES_NEEDING_SECOND_FACTOR = {Role.ADMIN, Role.HEAD}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    phone: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    is_active_account: Mapped[bool] = mapped_column("is_active", sa.Boolean, nullable=False, default=True)
    # Bumped on logout, password change and deactivation: every cookie carrying an older epoch stops working.
    session_epoch: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(nullable=True)

    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        sa.CheckConstraint("role in ('admin', 'head', 'teacher', 'parent')", name="role"),
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.email}>"

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.is_active_account

    def get_id(self) -> str:
        """Flask-Login's session id carries the epoch, so bumping it ends every session and remember cookie."""
        return f"{self.id}:{self.session_epoch}"

    @property
    def needs_second_factor(self) -> bool:
        return self.role in ROLES_NEEDING_SECOND_FACTOR

    @property
    def scope_units(self) -> list[OrgUnit]:
        return [s.org_unit for s in self.scopes]


class UserScope(db.Model):
    """A user's reach: a scope on a unit covers that unit and everything inside it."""

    __tablename__ = "user_scopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    org_unit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True
    )

    user: Mapped[User] = relationship(back_populates="scopes")
    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("user_id", "org_unit_id"),)

    def __repr__(self) -> str:
        return f"<UserScope user={self.user_id} unit={self.org_unit_id}>"


class RecoveryCode(db.Model):
    """A one-time second-factor recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} user={self.user_id} used={self.used_at is not None}>"


class LoginAttempt(db.Model):
    """Every login attempt, kept for the security view and purged after 90 days."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, index=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, index=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    ip: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    succeeded: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="")

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.email} ok={self.succeeded} {self.reason}>"
