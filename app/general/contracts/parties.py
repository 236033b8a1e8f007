"""Who can be a party to a contract. The sector registers its own sources (e.g. staff members) here.

A source turns a generic reference (`party_type`, `party_id`) into the name, e-mail and portal account the
contract needs, and lists the parties an administrator may choose. Portal accounts of teachers are the
built-in source ("User"), so the module works on its own; a person offered by another source is not
offered a second time as a bare account.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.general.auth.models import Role, User, UserScope
from app.general.org.models import OrgUnit


@dataclass(frozen=True)
class Party:
    """One possible party: the reference stored on the contract and what the contract copies from it."""

    party_type: str
    party_id: int
    name: str
    email: str | None
    user_id: int | None
    unit: OrgUnit | None = None  # where the person works (suggests the employer)

    @property
    def key(self) -> str:
        return f"{self.party_type}:{self.party_id}"


@dataclass(frozen=True)
class PartySource:
    party_type: str
    label: Any
    choices: Callable[[Any], list[Party]]  # the parties `user` may choose
    resolve: Callable[[int], Party | None]


_SOURCES: dict[str, PartySource] = {}


def register_party_source(source: PartySource) -> None:
    """Add (or replace) the source of one party type."""
    _SOURCES[source.party_type] = source


def registered_types() -> set[str]:
    """The party types some source can resolve."""
    return set(_SOURCES)


def resolve(party_type: str, party_id: int) -> Party | None:
    """The party a reference points at, or None when its source is unknown or the row is gone."""
    source = _SOURCES.get(party_type)
    return source.resolve(party_id) if source is not None else None


def parse_key(key: str | None) -> tuple[str, int] | None:
    """("StaffMember", 12) from "StaffMember:12"; None when malformed."""
    party_type, _sep, raw_id = (key or "").partition(":")
    if not party_type or not raw_id.isdigit():
        return None
    return party_type, int(raw_id)


def choices_for(user) -> list[Party]:
    """Every party `user` may choose, from every source, each person once (a registered source wins)."""
    found: list[Party] = []
    for source in sorted(_SOURCES.values(), key=lambda s: s.party_type == USER_PARTY):
        taken = {party.user_id for party in found if party.user_id is not None}
        found += [party for party in source.choices(user) if party.user_id is None or party.user_id not in taken]
    return sorted(found, key=lambda party: party.name)


# --- the built-in source: teachers' portal accounts ---------------------------------------------------------

USER_PARTY = "User"


def _user_party(user: User) -> Party:
    unit = user.scopes[0].org_unit if user.scopes else None
    return Party(USER_PARTY, user.id, user.display_name, user.email, user.id, unit.school or unit if unit else None)


def _user_choices(actor) -> list[Party]:
    paths = [scope.org_unit.path for scope in getattr(actor, "scopes", [])]
    if not paths:
        return []
    stmt = (
        sa.select(User)
        .join(UserScope, UserScope.user_id == User.id)
        .join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(User.role == Role.TEACHER, User.is_active_account.is_(True),
               sa.or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in paths)))
        .distinct()
        .order_by(User.display_name)
    )
    return [_user_party(user) for user in db.session.scalars(stmt)]


def _resolve_user(user_id: int) -> Party | None:
    user = db.session.get(User, user_id)
    return _user_party(user) if user is not None else None


register_party_source(PartySource(USER_PARTY, _l("Portal account"), _user_choices, _resolve_user))
