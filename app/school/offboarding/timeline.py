"""A case's timeline, drawn from the audit log: each event of the case as a readable line (when, who, what, and
the text entered with it), never raw change data."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import format_date, ngettext
from flask_babel import gettext as _

from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.audit.services import SYSTEM
from app.general.auth.models import User
from app.school.classes.models import SchoolClass
from app.school.offboarding.services import cases as case_services
from app.school.offboarding.services import checklist
from app.school.staff.models import StaffMember


def _day(value) -> str:
    """A date the audit log stored as ISO text, written as the locale writes dates."""
    try:
        return format_date(date.fromisoformat(str(value)[:10]), "medium")
    except ValueError:
        return str(value or "—")


def _money(value) -> str:
    """As every money amount on the pages (teaching's `money` filter: ¥1,234.50)."""
    from app.school.teaching.views.pay import money

    try:
        return money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def pair(value) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) and len(value) == 2 else (None, value)


def _plan_label(c: dict, names: dict[int, str], classes: dict[int, str]) -> str:
    where = f"{classes.get(c.get('class_id'), '')} {c.get('subject') or _('homeroom')}".strip()
    new = pair(c.get("new_staff"))[1]
    if new is None:
        return _("Replacement for %(where)s cleared", where=where)
    return _("Replacement for %(where)s: %(name)s", where=where, name=names.get(new, "—"))


def _waived(c: dict) -> str | None:
    return _("Notice waived: %(reason)s", reason=c["waiver_reason"]) if c.get("waiver_reason") else None


def _item_done(c: dict) -> tuple[str, str | None]:
    amount = _("Amount: %(amount)s", amount=_money(c["amount"])) if c.get("amount") is not None else None
    return _("Done: %(title)s", title=_title(c)), " · ".join(
        x for x in (c.get("evidence"), amount) if x) or None


def _title(c: dict) -> str:
    return checklist.item_title(c.get("title") or "")


def _counted(c: dict, key: str) -> int:
    value = c.get(key)
    return len(value) if isinstance(value, list) else int(value or 0)


# action (without "offboarding.") -> (changes, staff names, class names) -> (phrase, text entered with it)
_PHRASES: dict[str, Callable[[dict, dict, dict], tuple[str, str | None]]] = {
    "submitted": lambda c, n, k: (_("Departure filed (%(kind)s), last working day %(day)s",
                                    kind=case_services.kind_label(c.get("kind", "")),
                                    day=_day(c.get("last_working_day"))), _waived(c)),
    "approved": lambda c, n, k: (_("Approved by the head"), c.get("note")),
    "rejected": lambda c, n, k: (_("Rejected by the head"), c.get("note")),
    "withdrawn": lambda c, n, k: (_("Withdrawn"), c.get("reason")),
    "handover_started": lambda c, n, k: (ngettext("Handover started: checklist of %(num)d item",
                                                  "Handover started: checklist of %(num)d items",
                                                  _counted(c, "items")), None),
    "last_day_changed": lambda c, n, k: (_("Last working day moved from %(before)s to %(after)s",
                                           before=_day(pair(c.get("last_working_day"))[0]),
                                           after=_day(pair(c.get("last_working_day"))[1])), _waived(c)),
    "item_added": lambda c, n, k: (_("Checklist item added: %(title)s", title=_title(c)), None),
    "item_done": lambda c, n, k: _item_done(c),
    "item_reopened": lambda c, n, k: (_("Checklist item open again: %(title)s", title=_title(c)),
                                      c.get("reason")),
    "blocker_raised": lambda c, n, k: (_("Blocker raised: %(kind)s", kind=checklist.blocker_label(c.get("kind", ""))),
                                       c.get("description")),
    "blocker_resolved": lambda c, n, k: (_("Blocker resolved"), c.get("resolution")),
    "plan_chosen": lambda c, n, k: (_plan_label(c, n, k), c.get("override_reason")),
    "effective_day_set": lambda c, n, k: (_("First day of the new teachers set to %(day)s",
                                            day=_day(pair(c.get("effective_on"))[1])), None),
    "notice_wording_changed": lambda c, n, k: (_("Wording of the parents' notice changed"), None),
    "reassigned": lambda c, n, k: (ngettext("%(num)d assignment handed over from %(day)s",
                                            "%(num)d assignments handed over from %(day)s",
                                            _counted(c, "assignments"), day=_day(c.get("effective_on"))), None),
    "parents_notices_written": lambda c, n, k: (ngettext("%(num)d parent notice written to the outbox",
                                                         "%(num)d parent notices written to the outbox",
                                                         _counted(c, "guardians")), None),
    "notice_retried": lambda c, n, k: (_("A failed parent notice was sent again"), None),
    "notices_retried": lambda c, n, k: (ngettext("%(num)d failed parent notice sent again",
                                                 "%(num)d failed parent notices sent again",
                                                 _counted(c, "count")), None),
    "notice_acknowledged": lambda c, n, k: (_("A parent acknowledged the notice"), _("through the signed link")
                                            if c.get("via") == "link" else _("in the portal")),
    "parents_notified": lambda c, n, k: (_("Parents notified"), ngettext(
        "%(num)d failed delivery accepted", "%(num)d failed deliveries accepted", _counted(c, "failed_accepted"))
        if _counted(c, "failed_accepted") else None),
    "access_ended": lambda c, n, k: (_("Portal access ended and sessions signed out"), c.get("note")),
    "access_revoked": lambda c, n, k: (_("Access revoked"), None),
    "settled": lambda c, n, k: (_("Settled: final pay %(pay)s, money items %(items)s",
                                  pay=_money(c.get("final_pay")), items=_money(c.get("money_items"))), None),
    "closed": lambda c, n, k: (_("Case closed"), None),
}


def _describe(action: str, c: dict, names: dict[int, str], classes: dict[int, str]) -> tuple[str, str | None]:
    """A readable phrase for one audit event of a case, and the text entered with it (a note, evidence …)."""
    phrase = _PHRASES.get(action)
    return phrase(c, names, classes) if phrase else (action.replace("_", " ").capitalize(), None)


def _actor_label(event: AuditEvent, users: dict[int, str]) -> str:
    if event.actor_id in users:
        return users[event.actor_id]
    if event.actor_label == SYSTEM:
        return _("Staffroom (automatic)")
    if event.actor_label == "anonymous":
        return _("a parent, through the signed link")
    return event.actor_label


def timeline(events: list[AuditEvent]) -> list[dict]:
    """The case's audit events as readable lines (oldest first): when, who, what, and the text entered with it.
    Raw change data is never shown."""
    changes = [e.changes if isinstance(e.changes, dict) else {} for e in events]
    user_ids = {e.actor_id for e in events if e.actor_id}
    staff_ids = {pair(c.get("new_staff"))[1] for c in changes} - {None}
    class_ids = {c.get("class_id") for c in changes} - {None}
    users = dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    names = {s.id: s.full_name for s in db.session.scalars(sa.select(StaffMember).where(
        StaffMember.id.in_(staff_ids)))} if staff_ids else {}
    classes = dict(db.session.execute(sa.select(SchoolClass.id, SchoolClass.name).where(
        SchoolClass.id.in_(class_ids))).all()) if class_ids else {}
    lines = []
    for event, c in zip(events, changes, strict=True):
        label, detail = _describe(event.action.removeprefix("offboarding."), c, names, classes)
        lines.append({"at": event.at, "actor": _actor_label(event, users), "label": label, "detail": detail,
                      "action": event.action})
    return lines
