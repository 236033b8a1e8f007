"""Staff members as contract parties: the staff module's source for the general contracts module.

Contracts store a generic reference ("StaffMember", id); this source turns it into the name, e-mail and
portal account a contract copies, and offers the current staff in the administrator's scope.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.school.staff import queries
from app.school.staff.models import StaffMember

PARTY_TYPE = "StaffMember"


def _party(staff: StaffMember):
    from app.general.contracts.parties import Party

    return Party(PARTY_TYPE, staff.id, staff.full_name, staff.email, staff.user_id, staff.school)


def party_choices(user) -> list:
    """Current staff (active or on notice) the user may see, as contract parties."""
    return [_party(staff) for staff in db.session.scalars(queries.staff_list(user, status="current"))]


def resolve_party(staff_id: int):
    """The party for a stored reference, or None when the staff member does not exist."""
    staff = db.session.get(StaffMember, staff_id)
    return _party(staff) if staff is not None else None


def register() -> None:
    """Offer staff members as parties to the contracts module (when it is installed)."""
    try:
        from app.general.contracts.parties import PartySource, register_party_source
    except ImportError as error:
        if (error.name or "").startswith("app.general.contracts"):
            return
        raise
    register_party_source(PartySource(PARTY_TYPE, _l("Staff member"), party_choices, resolve_party))
