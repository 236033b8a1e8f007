"""Organisation units form a tree; `path` ("/1/4/9/") makes "is inside" a prefix test."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import utcnow
from app.extensions import db


class OrgUnitKind(enum.StrEnum):
    DISTRICT = "district"
    SCHOOL = "school"
    DEPARTMENT = "department"


ALLOWED_PARENT = {
    OrgUnitKind.DISTRICT: {None, OrgUnitKind.DISTRICT},
    OrgUnitKind.SCHOOL: {None, OrgUnitKind.DISTRICT},
    OrgUnitKind.DEPARTMENT: {OrgUnitKind.SCHOOL},
}


class OrgUnit(db.Model):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    code: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    path: Mapped[str] = mapped_column(sa.String(400), nullable=False, default="/", index=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent", order_by="OrgUnit.name")

    __table_args__ = (
        sa.CheckConstraint("kind in ('district', 'school', 'department')", name="kind"),
    )

    def __repr__(self) -> str:
        return f"<OrgUnit {self.id} {self.kind} {self.code}>"

    def contains(self, other: OrgUnit) -> bool:
        """True when `other` is this unit or inside it."""
        return other.path.startswith(self.path)

    @property
    def school(self) -> OrgUnit | None:
        """The school this unit is, or belongs to."""
        unit: OrgUnit | None = self
        while unit is not None and unit.kind != OrgUnitKind.SCHOOL:
            unit = unit.parent
        return unit
