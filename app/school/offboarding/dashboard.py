"""The dashboard cards of the departure flow: for admins and heads, the open departures in their scope, the next
last working days and how many classes still have no replacement; for a parent, the notices not yet read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.general.auth.policy import can
from app.school.offboarding.models import FINISHED, CaseStatus, DepartureCase, ParentNotice
from app.school.offboarding.queries import visible_cases
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today

BEFORE_REASSIGNMENT = (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.HANDOVER)


@dataclass
class Card:
    by_status: dict[str, int]
    upcoming: list[DepartureCase]
    at_risk: int
    today: date
    open_total: int = field(default=0)


def card_for(user: Any) -> Card | None:
    """The admins' and heads' departures card (None for others)."""
    if not can(user, "departures.view"):
        return None
    from app.school.offboarding.services.plan import unplanned

    open_cases = visible_cases(user).where(DepartureCase.status.not_in([str(s) for s in FINISHED]))
    cases = list(db.session.scalars(open_cases.order_by(DepartureCase.last_working_day, DepartureCase.id)))
    by_status: dict[str, int] = {}
    for case in cases:
        by_status[case.status] = by_status.get(case.status, 0) + 1
    at_risk = sum(len(unplanned(case)) for case in cases if case.status in BEFORE_REASSIGNMENT)
    today = local_today()
    upcoming = [c for c in cases if c.last_working_day >= today][:5]
    return Card(by_status, upcoming, at_risk, today, len(cases))


def unread_notices(user: Any) -> int | None:
    """A parent's notices not yet acknowledged (None for others)."""
    if not can(user, "notices.view_own"):
        return None
    from app.school.classes.models import Guardian

    return db.session.scalar(sa.select(sa.func.count()).select_from(ParentNotice)
                             .join(Guardian, Guardian.id == ParentNotice.guardian_id)
                             .where(Guardian.user_id == user.id, ParentNotice.acknowledged_at.is_(None)))


def own_case(user: Any) -> DepartureCase | None:
    """A teacher's own departure under way (None for others, or when there is none)."""
    if not can(user, "departures.view_own"):
        return None
    return db.session.scalars(sa.select(DepartureCase).join(StaffMember, StaffMember.id == DepartureCase.staff_id)
                              .where(StaffMember.user_id == user.id,
                                     DepartureCase.status.not_in([str(s) for s in FINISHED]))).first()
