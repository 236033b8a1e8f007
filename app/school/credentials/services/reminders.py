"""Staged credential reminders: the daily scan behind the `credentials.send_reminders` beat task.

- Reminder: an open credential (not revoked, not renewed) of an active type, whose holder has not departed,
  is due at the smallest offset of its type (e.g. 90/30/7) with 0 <= days left <= offset. It is sent once per
  (credential, offset) — the row in `credential_reminders` is the proof — and never when a row exists for that
  offset or a smaller one, so a run after a missed week sends the one offset due now, not a burst.
- Expiry escalation (`EXPIRED_OFFSET`, 0: configurable offsets are 1..730): a credential of a type required
  of its holder (of everyone; or for teaching / homeroom duties the holder has today) past its last day plus
  the type's grace days; once per credential, to the holder and to the heads over the holder's department or
  school (one message per head per day listing every credential that expired for them in the run).
- A renewal under review does not stop a reminder or an escalation (it may still be rejected, and the date is
  still the date): the message says the request is being reviewed.
- A credential whose holder already holds a later period of the same type (recorded directly rather than
  through a renewal) is left alone.
- Admins: one digest per admin per run (the daily run: one a day) listing everything in their scope that reached
  an offset or expired in the run — never one message per credential. An admin with nothing new gets nothing.

Set-based: one query per kind selects the due credentials (per type and offset window on `expires_on`, an
anti-join on `credential_reminders`); reminder rows and outbox rows are inserted in batches with ON CONFLICT DO
NOTHING, so a concurrent second run (or a repeated day) adds nothing; see `notifications.batch` for the messages.
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.core import names
from app.core.imports.bulk import insert_ignoring_conflicts
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role, User, UserScope
from app.general.contracts.services.common import link
from app.general.notifications.batch import Outbox
from app.general.notifications.models import Channel
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment, AssignmentRole, SchoolClass
from app.school.credentials.models import (
    Credential,
    CredentialReminder,
    CredentialType,
    Renewal,
    RenewalStatus,
    RequiredFor,
)
from app.school.staff.models import StaffMember, StaffStatus

log = logging.getLogger(__name__)

EXPIRED_OFFSET = 0  # the offset_days of an expiry escalation (reminder offsets are 1..730)
DIGEST_MAX_ITEMS = 500  # lines listed in one digest; the rest are counted, the link shows them all
REMINDER = "credentials/messages/reminder"
EXPIRED = "credentials/messages/expired"
DIGEST = "credentials/messages/digest"


@dataclass
class Due:
    """One credential that reached an offset (or expired) in this run, with what the messages need."""

    id: int
    type_id: int
    number: str | None
    expires_on: date
    offset: int
    renewing: bool
    staff_name: str
    staff_email: str | None
    user_id: int | None
    unit_id: int
    school_id: int
    type_name: str = ""
    school_name: str = ""
    days_left: int = 0
    holder: Reader | None = None  # the holder's active account


@dataclass
class Reader:
    """An active admin or head and the unit paths their scopes cover."""

    id: int
    email: str
    locale: str | None
    display_name: str
    role: str
    paths: list[str] = field(default_factory=list)

    def covers(self, path: str) -> bool:
        return any(path.startswith(own) for own in self.paths)


# --- selecting what is due --------------------------------------------------------------------------------


def _open_credentials() -> list[sa.ColumnElement[bool]]:
    """Not revoked, not renewed, holder still here, and no later period of the same type held."""
    later = aliased(Credential)
    has_later = sa.exists().where(
        later.staff_id == Credential.staff_id, later.type_id == Credential.type_id, later.id != Credential.id,
        later.revoked_at.is_(None), later.superseded_by_id.is_(None),
        sa.or_(later.expires_on.is_(None), later.expires_on > Credential.expires_on))
    return [Credential.revoked_at.is_(None), Credential.superseded_by_id.is_(None),
            Credential.expires_on.is_not(None), StaffMember.status != StaffStatus.DEPARTED, ~has_later]


def _select_due(offset: sa.ColumnElement[int], windows: list[sa.ColumnElement[bool]],
                already: sa.ColumnElement[bool]) -> list[Due]:
    renewing = sa.exists().where(Renewal.credential_id == Credential.id, Renewal.status == RenewalStatus.SUBMITTED)
    stmt = (
        sa.select(Credential.id, Credential.type_id, Credential.number, Credential.expires_on, offset,
                  renewing.label("renewing"), StaffMember.family_name, StaffMember.given_name, StaffMember.email,
                  StaffMember.user_id, sa.func.coalesce(StaffMember.department_id, StaffMember.school_id),
                  StaffMember.school_id, User.email, User.locale, User.display_name, User.role)
        .join(StaffMember, StaffMember.id == Credential.staff_id)
        .outerjoin(User, sa.and_(User.id == StaffMember.user_id, User.is_active_account.is_(True)))
        .where(sa.or_(*windows), *_open_credentials(), ~already)
        .order_by(Credential.expires_on, Credential.id)
    )
    return [Due(id=r[0], type_id=r[1], number=r[2], expires_on=r[3], offset=r[4], renewing=bool(r[5]),
                staff_name=names.full_name(r[6], r[7]), staff_email=r[8], user_id=r[9], unit_id=r[10],
                school_id=r[11], holder=Reader(r[9], r[12], r[13], r[14], r[15]) if r[12] is not None else None)
            for r in db.session.execute(stmt)]


def due_reminders(types: list[CredentialType], on: date) -> list[Due]:
    """Credentials at a reminder offset on `on` with no reminder yet at that offset or a smaller one."""
    cases, windows = [], []
    for credential_type in types:
        low = 0
        for offset in sorted(credential_type.offsets):
            window = sa.and_(Credential.type_id == credential_type.id,
                             Credential.expires_on.between(on + timedelta(days=low), on + timedelta(days=offset)))
            cases.append((window, offset))
            windows.append(window)
            low = offset + 1
    if not windows:
        return []
    offset = sa.case(*cases, else_=-1)
    already = sa.exists().where(CredentialReminder.credential_id == Credential.id,
                                CredentialReminder.offset_days.between(1, offset))
    return _select_due(offset.label("offset"), windows, already)


def _needed_for_duties(credential_type: CredentialType, on: date) -> sa.ColumnElement[bool]:
    """The holder has, on `on`, a teaching or homeroom assignment that requires this type (see qualification)."""
    conditions = [Assignment.staff_id == Credential.staff_id, Assignment.starts_on <= on,
                  sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= on)]
    if credential_type.required_for == RequiredFor.HOMEROOM:
        conditions.append(Assignment.role == AssignmentRole.HOMEROOM)
    else:
        conditions.append(Assignment.role == AssignmentRole.SUBJECT)
        if credential_type.subjects:
            conditions.append(Assignment.subject_id.in_([s.id for s in credential_type.subjects]))
    if credential_type.grade_min is not None:
        conditions.append(SchoolClass.grade >= credential_type.grade_min)
    if credential_type.grade_max is not None:
        conditions.append(SchoolClass.grade <= credential_type.grade_max)
    return sa.select(Assignment.id).join(SchoolClass, SchoolClass.id == Assignment.class_id).where(
        *conditions).exists()


def due_escalations(types: list[CredentialType], on: date) -> list[Due]:
    """Credentials of types required of their holder, past expiry plus grace, never escalated."""
    windows = []
    for credential_type in types:
        if credential_type.required_for == RequiredFor.NONE:
            continue
        window = sa.and_(Credential.type_id == credential_type.id,
                         Credential.expires_on < on - timedelta(days=credential_type.grace_days))
        if credential_type.required_for != RequiredFor.ALL:
            window = sa.and_(window, _needed_for_duties(credential_type, on))
        windows.append(window)
    if not windows:
        return []
    already = sa.exists().where(CredentialReminder.credential_id == Credential.id,
                                CredentialReminder.offset_days == EXPIRED_OFFSET)
    return _select_due(sa.literal(EXPIRED_OFFSET, sa.Integer).label("offset"), windows, already)


# --- people -----------------------------------------------------------------------------------------------


def _readers() -> list[Reader]:
    """Every active admin and head with the paths of their scopes (one query)."""
    readers: dict[int, Reader] = {}
    rows = db.session.execute(
        sa.select(User.id, User.email, User.locale, User.display_name, User.role, OrgUnit.path)
        .join(UserScope, UserScope.user_id == User.id).join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(User.role.in_([Role.ADMIN, Role.HEAD]), User.is_active_account.is_(True)).order_by(User.id))
    for r in rows:
        readers.setdefault(r.id, Reader(r.id, r.email, r.locale, r.display_name, r.role)).paths.append(r.path)
    return list(readers.values())


def _units(ids: set[int]) -> dict[int, tuple[str, str]]:
    """Path and name of each unit, by id (one query)."""
    rows = db.session.execute(sa.select(OrgUnit.id, OrgUnit.path, OrgUnit.name).where(OrgUnit.id.in_(sorted(ids))))
    return {r.id: (r.path, r.name) for r in rows}


# --- writing ----------------------------------------------------------------------------------------------


def _claim(items: list[Due], on: date, recipients: dict[int, int]) -> None:
    """Write the reminder rows (a row a concurrent run wrote first stays as it is)."""
    stamp = utcnow()
    insert_ignoring_conflicts(CredentialReminder.__table__, [
        {"credential_id": d.id, "offset_days": d.offset, "expires_on": d.expires_on, "sent_on": on,
         "recipients": recipients.get(d.id, 0), "created_at": stamp} for d in items], ("credential_id", "offset_days"))


# --- messages ---------------------------------------------------------------------------------------------


def _item(d: Due) -> dict:
    return {"credential_id": d.id, "type_name": d.type_name, "staff_name": d.staff_name, "school_name": d.school_name,
            "number": d.number, "expires_on": d.expires_on, "days_left": d.days_left,
            "expired": d.offset == EXPIRED_OFFSET, "renewing": d.renewing}


def _tell_holder(box: Outbox, d: Due, holder: Reader | None, mine: str) -> None:
    """The holder's own message: in the portal and by e-mail with an account, else by e-mail to the staff record."""
    link_ = mine if holder else None
    if d.offset == EXPIRED_OFFSET:
        template, key = EXPIRED, f"credential:{d.id}:expired"
        context = {"items": [_item(d)], "for_holder": True, "name": d.staff_name, "link": link_}
    else:
        template, key = REMINDER, f"credential:{d.id}:reminder:{d.offset}"
        context = {**_item(d), "name": d.staff_name, "offset": d.offset, "link": link_}
    if holder is not None:
        box.add(template, key, context, user=holder)
    elif d.staff_email:
        box.add(template, key, context, address=d.staff_email, channels=(Channel.EMAIL,))


def _grouped(items: list[Due], readers: list[Reader], paths: dict[int, str]) -> dict[int, list[Due]]:
    """For each reader, the items in their scope (readers matched once per unit, not once per item)."""
    by_unit = {unit: [r for r in readers if r.covers(path)] for unit, path in paths.items()}
    grouped: dict[int, list[Due]] = defaultdict(list)
    for d in items:
        for reader in by_unit.get(d.unit_id, ()):
            grouped[reader.id].append(d)
    return grouped


@dataclass
class Audience:
    """Who hears about the due items besides their holders: admins (digest) and heads (escalations) in scope."""

    readers: dict[int, Reader]
    admin_items: dict[int, list[Due]]
    head_items: dict[int, list[Due]]

    def recipients(self, items: list[Due]) -> dict[int, int]:
        """How many people each item is told to (stored on its reminder row)."""
        counts = {d.id: int(d.holder is not None or bool(d.staff_email)) for d in items}
        for grouped in (self.admin_items, self.head_items):
            for reader_items in grouped.values():
                for d in reader_items:
                    counts[d.id] += 1
        return counts


def _audience(items: list[Due], types: dict[int, CredentialType], on: date) -> Audience:
    units = _units({d.unit_id for d in items} | {d.school_id for d in items})
    for d in items:
        d.type_name, d.school_name = types[d.type_id].name, units[d.school_id][1]
        d.days_left = (d.expires_on - on).days
    paths = {unit_id: path for unit_id, (path, _name) in units.items()}
    readers = _readers()
    expired = [d for d in items if d.offset == EXPIRED_OFFSET]
    return Audience(
        readers={r.id: r for r in readers},
        admin_items=_grouped(items, [r for r in readers if r.role == Role.ADMIN], paths),
        head_items=_grouped(expired, [r for r in readers if r.role == Role.HEAD], paths))


def _digest(items: list[Due], index: str, on: date) -> dict[str, Any]:
    ordered = sorted(items, key=lambda d: (d.expires_on, d.school_name, d.staff_name, d.id))
    listed = ordered[:DIGEST_MAX_ITEMS]
    return {"on": on, "count": len(ordered), "expired_count": sum(d.offset == EXPIRED_OFFSET for d in ordered),
            "items": [_item(d) for d in listed], "more": len(ordered) - len(listed), "link": index}


def _batch(items: list[Due]) -> str:
    """What a head's or admin's message of this run is about, for its key: the daily run writes one message per
    person; a second run the same day that finds new items writes a second one about those (a repeated run finds
    none: their reminder rows exist), instead of recording them as sent under the first one's key."""
    ids = ",".join(f"{d.id}:{d.offset}" for d in sorted(items, key=lambda d: (d.id, d.offset)))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def _compose(items: list[Due], audience: Audience, on: date) -> tuple[Outbox, int]:
    """Every message of the run: one per holder and item, one per head, one digest per admin."""
    box, mine, index = Outbox(), link("credentials.mine"), link("credentials.index")
    for d in items:
        _tell_holder(box, d, d.holder, mine)
    for head_id, head_items in audience.head_items.items():
        box.add(EXPIRED, f"credentials:expired:{head_id}:{on.isoformat()}:{_batch(head_items)}", {
            "items": [_item(d) for d in head_items], "for_holder": False, "name": None, "link": index},
            user=audience.readers[head_id])
    for admin_id, admin_items in audience.admin_items.items():
        box.add(DIGEST, f"credentials:digest:{admin_id}:{on.isoformat()}:{_batch(admin_items)}",
                _digest(admin_items, index, on),
                user=audience.readers[admin_id])
    return box, len(audience.admin_items)


def send_credential_reminders(on: date) -> dict[str, int]:
    """Remind holders of credentials reaching an offset, escalate expired required ones, digest for admins.

    Safe to run twice or late (see the module's docstring); the caller commits.
    """
    types = {t.id: t for t in db.session.scalars(sa.select(CredentialType).where(CredentialType.is_active.is_(True)))}
    items = due_reminders(list(types.values()), on) + due_escalations(list(types.values()), on)
    counts = {"reminders": 0, "escalations": 0, "digests": 0, "messages": 0}
    if not items:
        log.info("credential reminders for %s: nothing due", on)
        return counts
    audience = _audience(items, types, on)
    _claim(items, on, audience.recipients(items))
    box, counts["digests"] = _compose(items, audience, on)
    counts["messages"] = box.write()
    counts["escalations"] = sum(d.offset == EXPIRED_OFFSET for d in items)
    counts["reminders"] = len(items) - counts["escalations"]
    record("credential.reminders_sent", subject_type="CredentialReminder", actor=SYSTEM, changes={"on": on, **counts})
    log.info("credential reminders for %s: %d reminders, %d escalations, %d digests, %d messages", on,
             counts["reminders"], counts["escalations"], counts["digests"], counts["messages"])
    return counts
