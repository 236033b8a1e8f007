"""The handover checklist (Labour Contract Law art. 50: handing over is the employee's duty) and blockers.

A case's checklist is drawn from the template of the departing person's role (their account's role; a teacher's
when they have none), configured by admins. Each item has an owner; it is ticked off with who, when and the
evidence. A money item carries what is owed: positive when the school owes the person, negative when the person
owes the school. Blockers (an open complaint or dispute, an unreturned asset, unsettled money) are raised against
the person at any time; an open one stops their departure from being settled.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role
from app.school.offboarding.models import (
    Blocker,
    BlockerKind,
    CaseStatus,
    ChecklistItem,
    ChecklistTemplateItem,
    DepartureCase,
    ItemOwner,
)
from app.school.offboarding.services.cases import open_case_of
from app.school.offboarding.services.common import (
    REASON_MAX,
    actor_id,
    audit,
    check_reach,
    clean_text,
    flush,
    lock,
    raise_if,
)
from app.school.staff.models import StaffMember

TITLE_MAX = 200


def N_(text: str) -> str:  # noqa: N802  (marks a default title for extraction; shown through gettext)
    return text


MONEY_MAX = Decimal("1000000")
# Items may be ticked off from the handover until the case is settled.
WORKING = (CaseStatus.HANDOVER, CaseStatus.REASSIGNED, CaseStatus.PARENTS_NOTIFIED, CaseStatus.ACCESS_REVOKED)

# The default checklist of a teacher (and of heads and admins, who hand over the same things plus their office).
DEFAULT_ITEMS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    Role.TEACHER: (
        (N_("Keys, badge and devices returned (laptop, tablet)"), ItemOwner.IT, False),
        (N_("Grade book complete and handed to the new teachers"), ItemOwner.TEACHER, False),
        (N_("Exam papers and marking handed over"), ItemOwner.TEACHER, False),
        (N_("Student files and records handed over"), ItemOwner.TEACHER, False),
        (N_("Shared drive files moved; accounts handed back"), ItemOwner.IT, False),
        (N_("Library books and equipment returned"), ItemOwner.TEACHER, False),
        (N_("Money owed either way settled"), ItemOwner.FINANCE, True),
        (N_("Exit interview held"), ItemOwner.HEAD, False),
    ),
    Role.HEAD: (
        (N_("Keys, badge and devices returned (laptop, tablet)"), ItemOwner.IT, False),
        (N_("Open approvals and reviews handed to a successor"), ItemOwner.HEAD, False),
        (N_("Student files and records handed over"), ItemOwner.HEAD, False),
        (N_("Shared drive files moved; accounts handed back"), ItemOwner.IT, False),
        (N_("Money owed either way settled"), ItemOwner.FINANCE, True),
        (N_("Exit interview held"), ItemOwner.ADMIN, False),
    ),
    Role.ADMIN: (
        (N_("Keys, badge and devices returned (laptop, tablet)"), ItemOwner.IT, False),
        (N_("Administrator duties handed to a successor"), ItemOwner.ADMIN, False),
        (N_("Shared drive files moved; accounts handed back"), ItemOwner.IT, False),
        (N_("Money owed either way settled"), ItemOwner.FINANCE, True),
        (N_("Exit interview held"), ItemOwner.HEAD, False),
    ),
}
TEMPLATE_ROLES = (Role.TEACHER, Role.HEAD, Role.ADMIN)


def item_title(title: str) -> str:
    """A default line is an English msgid shown translated; an admin's own wording comes back unchanged. (Python's
    gettext, not the template's `_()`, which marks its result safe and %-formats it: a title is data.)"""
    return _(title) if title else ""


def owner_label(owner: str) -> str:
    return {ItemOwner.TEACHER: _("the departing person"), ItemOwner.IT: _("IT"), ItemOwner.FINANCE: _("finance"),
            ItemOwner.HEAD: _("the head"), ItemOwner.ADMIN: _("the school office")}.get(owner, owner)


def blocker_label(kind: str) -> str:
    return {BlockerKind.COMPLAINT: _("open parent complaint"), BlockerKind.DISPUTE: _("dispute"),
            BlockerKind.ASSET: _("unreturned asset"), BlockerKind.MONEY: _("unsettled money")}.get(kind, kind)


ROLE_LABELS = {Role.TEACHER: _l("Teacher"), Role.HEAD: _l("Head"), Role.ADMIN: _l("Administrator")}


# --- templates ------------------------------------------------------------------------------------------------


def may_configure(actor: Any) -> bool:
    """The checklist templates serve every school: only an administrator of the district changes them."""
    from app.general.auth.policy import can, reaches_top_level

    return actor == SYSTEM or (can(actor, "departures.configure") and reaches_top_level(actor))


def _check_configure(actor: Any) -> None:
    if not may_configure(actor):
        raise NotAllowed(_("The checklist templates serve every school of the district: a district administrator "
                           "changes them."))


def template_items(role: str, *, active_only: bool = True) -> list[ChecklistTemplateItem]:
    stmt = sa.select(ChecklistTemplateItem).where(ChecklistTemplateItem.role == role)
    if active_only:
        stmt = stmt.where(ChecklistTemplateItem.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(ChecklistTemplateItem.position, ChecklistTemplateItem.id)))


def ensure_default_templates() -> int:
    """Write the default template of each role that has none yet (idempotent). Returns the items written."""
    written = 0
    for role, items in DEFAULT_ITEMS.items():
        if db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem).where(
                ChecklistTemplateItem.role == role)):
            continue
        for position, (title, owner, is_money) in enumerate(items, start=1):
            db.session.add(ChecklistTemplateItem(role=role, position=position * 10, title=title, owner=owner,
                                                 is_money=is_money, is_active=True))
            written += 1
    db.session.flush()
    return written


def _check_money_owner(owner: Any, is_money: Any) -> None:
    """The amount settled is entered by the school (finance, the office), never by the departing person."""
    if is_money and owner == ItemOwner.TEACHER:
        raise ValidationFailed(_("A money item is ticked off by the school: choose finance or the school office."),
                               field="owner")


def _clean_template_fields(title: Any, owner: Any, position: Any) -> tuple[str, str, int]:
    text, problem = clean_text(title, missing=_("Say what must be done."), maximum=TITLE_MAX)
    try:
        pos = int(position) if position not in (None, "") else 0
        pos_problem = None if 0 <= pos <= 10000 else _("Enter a position from 0 to 10000.")
    except (TypeError, ValueError):
        pos, pos_problem = 0, _("Enter a position from 0 to 10000.")
    raise_if({"title": problem, "owner": None if owner in {o.value for o in ItemOwner} else _("Choose who does it."),
              "position": pos_problem})
    return text, str(owner), pos


def add_template_item(role: Any, *, title: Any, owner: Any, is_money: bool = False, position: Any = None,
                      actor: Any) -> ChecklistTemplateItem:
    """Add a line to a role's checklist template (cases already under way keep their own checklist).

    :raises ValidationFailed: an unknown role, an empty title, an unknown owner.
    """
    _check_configure(actor)
    if role not in {r.value for r in TEMPLATE_ROLES}:
        raise ValidationFailed(_("Choose the role whose checklist this is."), field="role")
    text, owner, pos = _clean_template_fields(title, owner, position)
    _check_money_owner(owner, is_money)
    if position in (None, ""):
        pos = (db.session.scalar(sa.select(sa.func.max(ChecklistTemplateItem.position)).where(
            ChecklistTemplateItem.role == role)) or 0) + 10
    item = ChecklistTemplateItem(role=role, title=text, owner=owner, is_money=bool(is_money), position=pos,
                                 is_active=True)
    db.session.add(item)
    flush()
    record("offboarding.template_item_added", subject=item, actor=actor,
           changes={"role": role, "title": text, "owner": owner, "is_money": bool(is_money), "position": pos})
    return item


def update_template_item(item: ChecklistTemplateItem, *, title: Any, owner: Any, is_money: bool, position: Any,
                         is_active: bool, actor: Any, expected_version: int | None = None) -> None:
    """Change a template line (or switch it off); future checklists use the new wording."""
    _check_configure(actor)
    text, owner, pos = _clean_template_fields(title, owner, position)
    _check_money_owner(owner, is_money)
    lock(ChecklistTemplateItem, item, expected_version)
    before = {"title": item.title, "owner": item.owner, "is_money": item.is_money, "position": item.position,
              "is_active": item.is_active}
    item.title, item.owner, item.is_money, item.position, item.is_active = text, owner, bool(is_money), pos, \
        bool(is_active)
    after = {"title": item.title, "owner": item.owner, "is_money": item.is_money, "position": item.position,
             "is_active": item.is_active}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return
    flush()
    record("offboarding.template_item_changed", subject=item, actor=actor, changes=changes)


def template_role_of(staff: StaffMember) -> str:
    role = staff.user.role if staff.user is not None else Role.TEACHER
    return role if role in {r.value for r in TEMPLATE_ROLES} else Role.TEACHER


def generate_checklist(case: DepartureCase) -> list[ChecklistItem]:
    """The case's checklist from its role's template (the defaults when none is configured); nothing twice."""
    role = template_role_of(case.staff)
    lines = template_items(role)
    if not lines and not db.session.scalar(sa.select(sa.func.count()).select_from(ChecklistTemplateItem).where(
            ChecklistTemplateItem.role == role)):
        ensure_default_templates()
        lines = template_items(role)
    existing = {item.title for item in case.items}
    created = []
    for line in lines:
        if line.title in existing:
            continue
        item = ChecklistItem(case=case, position=line.position, title=line.title, owner=line.owner,
                             is_money=line.is_money)
        db.session.add(item)
        created.append(item)
    db.session.flush()
    return created


# --- ticking items off -----------------------------------------------------------------------------------------


def may_tick(user: Any, item: ChecklistItem) -> bool:
    """Admins tick any item in scope; the departing teacher their own items; a head the head's items."""
    from app.general.auth.policy import can

    if can(user, "departures.manage", item):
        return True
    if item.owner == ItemOwner.TEACHER and not item.is_money and getattr(user, "id", None) == item.case.staff.user_id:
        return True
    return item.owner == ItemOwner.HEAD and getattr(user, "role", None) == Role.HEAD and \
        can(user, "departures.view", item)


def _clean_amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or abs(amount) >= MONEY_MAX or amount != amount.quantize(
            Decimal("0.01")):
        raise ValidationFailed(_("Enter an amount such as 120.00 (negative when the person owes the school)."),
                               field="amount")
    return amount.quantize(Decimal("0.01"))


def _check_working(case: DepartureCase) -> None:
    if case.status not in WORKING:
        raise InvalidTransition(_("The checklist can be worked from the start of the handover until the departure "
                                  "is settled."))


def complete_item(item: ChecklistItem, *, actor: Any, evidence: Any, amount: Any = None,
                  expected_version: int | None = None) -> None:
    """Tick an item off with the evidence (what was returned, where the files are). A money item needs the amount
    settled (0.00 when nothing is owed). Pressing twice changes nothing.

    :raises NotAllowed: not the item's owner or an admin. :raises ValidationFailed: no evidence; a money item
    without an amount. :raises Conflict: someone changed the item meanwhile.
    """
    if not may_tick(actor, item):
        raise NotAllowed(_("This item is for %(owner)s to tick off.", owner=owner_label(item.owner)))
    _check_working(item.case)
    text, problem = clean_text(evidence, missing=_("Say what was done or returned (the evidence)."),
                               maximum=REASON_MAX)
    raise_if({"evidence": problem})
    money = _clean_amount(amount)
    if item.is_money and money is None:
        raise ValidationFailed(_("Enter the amount settled: positive when the school paid the person, negative when "
                                 "the person paid the school, 0.00 when nothing was owed."), field="amount")
    lock(ChecklistItem, item, expected_version)
    if item.is_done:
        return
    item.done_at, item.done_by_id, item.evidence = utcnow(), actor_id(actor), text
    if item.is_money:
        item.amount = money
    flush()
    audit(item.case, "item_done", actor, item_id=item.id, title=item.title, evidence=text,
          amount=str(money) if item.is_money else None)


def reopen_item(item: ChecklistItem, *, actor: Any, reason: Any, expected_version: int | None = None) -> None:
    """Undo a tick (returned the wrong laptop): the item is open again; admins only, with the reason."""
    check_reach(actor, "departures.manage", item)
    _check_working(item.case)
    text, problem = clean_text(reason, missing=_("Say why the item is open again."), maximum=REASON_MAX)
    raise_if({"reason": problem})
    lock(ChecklistItem, item, expected_version)
    if not item.is_done:
        return
    item.done_at = item.done_by_id = None
    item.evidence = None
    flush()
    audit(item.case, "item_reopened", actor, item_id=item.id, title=item.title, reason=text)


def add_item(case: DepartureCase, *, title: Any, owner: Any, is_money: bool = False, actor: Any) -> ChecklistItem:
    """An extra item for this case only (a musical instrument on loan)."""
    check_reach(actor, "departures.manage", case)
    _check_working(case)
    text, owner_value, _pos = _clean_template_fields(title, owner, None)
    _check_money_owner(owner_value, is_money)
    if any(i.title == text for i in case.items):
        raise ValidationFailed(_("This checklist already has that item."), field="title")
    item = ChecklistItem(case=case, title=text, owner=owner_value, is_money=bool(is_money),
                         position=max((i.position for i in case.items), default=0) + 10)
    db.session.add(item)
    flush()
    audit(case, "item_added", actor, item_id=item.id, title=text, owner=owner_value, is_money=bool(is_money))
    return item


def open_items(case: DepartureCase) -> list[ChecklistItem]:
    return [item for item in case.items if not item.is_done]


# --- blockers --------------------------------------------------------------------------------------------------


def open_blockers(staff_id: int) -> list[Blocker]:
    return list(db.session.scalars(sa.select(Blocker).where(Blocker.staff_id == staff_id,
                                                            Blocker.resolved_at.is_(None)).order_by(Blocker.id)))


def raise_blocker(staff: StaffMember, *, kind: Any, description: Any, actor: Any) -> Blocker:
    """Record something that must be resolved before the person's departure can be settled (at any time)."""
    check_reach(actor, "departures.blockers", staff)
    text, problem = clean_text(description, missing=_("Describe what is open."), maximum=REASON_MAX)
    raise_if({"kind": None if kind in {k.value for k in BlockerKind} else _("Choose what kind of blocker it is."),
              "description": problem})
    blocker = Blocker(staff=staff, kind=kind, description=text, raised_by_id=actor_id(actor), raised_at=utcnow())
    db.session.add(blocker)
    flush()
    case = open_case_of(staff)
    if case is not None:
        audit(case, "blocker_raised", actor, blocker_id=blocker.id, kind=kind, description=text)
    else:
        record("offboarding.blocker_raised", subject=blocker, actor=actor,
               changes={"staff_id": staff.id, "kind": kind, "description": text})
    return blocker


def resolve_blocker(blocker: Blocker, *, actor: Any, resolution: Any, expected_version: int | None = None) -> None:
    """Mark a blocker resolved, saying how. Pressing twice changes nothing."""
    check_reach(actor, "departures.blockers", blocker)
    text, problem = clean_text(resolution, missing=_("Say how it was resolved."), maximum=REASON_MAX)
    raise_if({"resolution": problem})
    lock(Blocker, blocker, expected_version)
    if not blocker.is_open:
        return
    blocker.resolved_at, blocker.resolved_by_id, blocker.resolution = utcnow(), actor_id(actor), text
    flush()
    case = open_case_of(blocker.staff_id)
    if case is not None:
        audit(case, "blocker_resolved", actor, blocker_id=blocker.id, resolution=text)
    else:
        record("offboarding.blocker_resolved", subject=blocker, actor=actor, changes={"resolution": text})


def require_nothing_open(case: DepartureCase, doing: str) -> None:
    """:raises InvalidTransition: naming the open checklist items and blockers."""
    items, blockers = open_items(case), open_blockers(case.staff_id)
    if items or blockers:
        parts = [item_title(i.title) for i in items] + [blocker_label(b.kind) + ": " + b.description for b in blockers]
        raise InvalidTransition(_("The departure cannot be %(doing)s while these are open: %(open)s.", doing=doing,
                                  open="; ".join(parts)))
