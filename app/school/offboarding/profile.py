"""The staff profile's departure card: the person's departure under way (state, last working day, link) and their
open blockers, for admins and heads; the person themselves sees their own case's state."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.general.auth.policy import can
from app.school.offboarding.models import DepartureCase
from app.school.offboarding.services.cases import open_case_of
from app.school.offboarding.services.checklist import open_blockers
from app.school.staff.models import StaffMember, StaffStatus


def profile_card(staff: StaffMember, viewer: Any, own: bool) -> dict | None:
    """None when there is nothing to say to this viewer (no case, no blocker, no right to start one)."""
    staff_view = can(viewer, "departures.view", staff)
    if not (own or staff_view):
        return None
    case = open_case_of(staff)
    latest = case or db.session.scalars(sa.select(DepartureCase).where(DepartureCase.staff_id == staff.id)
                                        .order_by(DepartureCase.id.desc()).limit(1)).first()
    blockers = open_blockers(staff.id) if staff_view else []
    may_start = case is None and staff.status == StaffStatus.ACTIVE and can(viewer, "departures.manage", staff)
    may_block = staff_view and can(viewer, "departures.blockers", staff)
    if latest is None and not blockers and not may_start and not may_block:
        return None
    return {"case": latest, "blockers": blockers, "may_start": may_start, "may_block": may_block,
            "staff_view": staff_view}
