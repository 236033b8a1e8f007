"""The contract workflow: draft → issued → signed → active → ended / terminated / expired.

Each transition is guarded (InvalidTransition), checks the row version the form saw (Conflict), flushes,
is audited and never commits. Signing itself is in signing.py.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask_babel import gettext as _

from app.core.errors import InvalidTransition, ValidationFailed
from app.core.models import utcnow
from app.extensions import db
from app.general.auth.models import User
from app.general.contracts import rendering
from app.general.contracts.models import Contract, ContractStatus, ContractTemplate
from app.general.contracts.services.common import SYSTEM, audit, check_version, flush, link, local_today, require_can
from app.general.contracts.services.obligations import create_obligations_on_activation, schedule_non_compete
from app.general.contracts.services.templates import latest_version
from app.general.contracts.services.terms import clean_terms
from app.general.notifications.services import notify, notify_user
from app.general.org.models import OrgUnit

log = logging.getLogger(__name__)

S = ContractStatus
# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "issue": (frozenset({S.DRAFT}), S.ISSUED),
    "sign": (frozenset({S.ISSUED}), S.SIGNED),
    "countersign": (frozenset({S.SIGNED}), S.ACTIVE),
    "end": (frozenset({S.ACTIVE}), S.ENDED),
    "terminate": (frozenset({S.ISSUED, S.SIGNED, S.ACTIVE}), S.TERMINATED),
    "expire": (frozenset({S.ACTIVE}), S.EXPIRED),
}
TITLE_MAX, EMAIL_MAX, REASON_MAX = 200, 254, 2000


def status_label(status: str) -> str:
    labels = {
        S.DRAFT: _("draft"), S.ISSUED: _("issued"), S.SIGNED: _("signed"), S.ACTIVE: _("active"),
        S.ENDED: _("ended"), S.TERMINATED: _("terminated"), S.EXPIRED: _("expired"),
    }
    return labels.get(status, status)


def transition(contract: Contract, action: str) -> str:
    """Move `contract` along `action`; returns the previous status.

    :raises InvalidTransition: when the contract's status does not allow it.
    """
    sources, target = TRANSITIONS[action]
    if contract.status not in sources:
        raise InvalidTransition(_("This is not possible for a contract that is %(status)s.",
                                  status=status_label(contract.status)))
    previous, contract.status = contract.status, target
    return previous


def require_draft(contract: Contract) -> None:
    """:raises InvalidTransition: once the contract has been issued (its text and terms are locked)."""
    if contract.status != S.DRAFT:
        raise InvalidTransition(_("This contract has been issued: its text and terms can no longer be changed."))


# --- drafts ----------------------------------------------------------------------------------------------------


def _clean_title(title: str | None, template: ContractTemplate) -> str:
    title = " ".join((title or "").split()) or template.name
    if len(title) > TITLE_MAX:
        raise ValidationFailed(_("A title has at most %(n)d characters.", n=TITLE_MAX), field="title")
    return title


def _check_dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is None:
        raise ValidationFailed(_("Enter the first day."), field="starts_on")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(_("The last day cannot be before the first."), field="ends_on")


def _check_template(template: ContractTemplate, employer: OrgUnit) -> None:
    latest = latest_version(template.family)
    if not template.is_active or latest is None or latest.id != template.id:
        raise ValidationFailed(_("Choose an active template (its newest version)."), field="template")
    _check_template_scope(template, employer)


def _check_template_scope(template: ContractTemplate, employer: OrgUnit) -> None:
    if not template.org_unit.contains(employer):
        raise ValidationFailed(_("This template belongs to %(unit)s and cannot be used for %(employer)s.",
                                 unit=template.org_unit.name, employer=employer.name), field="template")


def _check_employer(employer: OrgUnit, actor: Any) -> None:
    if not employer.is_active:
        raise ValidationFailed(_("%(name)s is deactivated.", name=employer.name), field="employer")
    require_can(actor, "contracts.manage", employer)


def _clean_email(email: str | None, party_user: User | None) -> str | None:
    email = (email or "").strip() or (party_user.email if party_user else None)
    if email and (len(email) > EMAIL_MAX or "@" not in email):
        raise ValidationFailed(_("Enter a valid e-mail address."), field="party_email")
    return email


def create_contract(*, actor: Any, template: ContractTemplate, employer: OrgUnit, party_type: str, party_id: int,
                    party_name: str, party_email: str | None = None, party_user: User | None = None,
                    title: str | None = None, starts_on: date | None = None, ends_on: date | None = None,
                    terms: dict | None = None) -> Contract:
    """A draft contract from the template's newest version; nothing is sent yet.

    :raises ValidationFailed: for a bad field (named in `field`).
    """
    _check_employer(employer, actor)
    _check_template(template, employer)
    _check_dates(starts_on, ends_on)
    name = " ".join((party_name or "").split())
    if not name or not party_type or party_id is None:
        raise ValidationFailed(_("Choose the party."), field="party")
    if party_user is not None and not party_user.is_active:
        raise ValidationFailed(_("The party's portal account is deactivated."), field="party")
    contract = Contract(
        template=template, template_version=template.version, kind=template.kind, employer=employer,
        party_type=party_type, party_id=int(party_id), party_user_id=party_user.id if party_user else None,
        party_name=name[:200], party_email=_clean_email(party_email, party_user),
        title=_clean_title(title, template), starts_on=starts_on, ends_on=ends_on,
        terms=clean_terms(template.kind, terms, starts_on=starts_on, ends_on=ends_on), status=S.DRAFT,
        created_by_id=None if actor == SYSTEM else actor.id,
    )
    db.session.add(contract)
    flush()
    audit("created", contract, actor, kind=contract.kind, party=f"{party_type}:{party_id}",
          template=template.family, template_version=template.version, terms=contract.terms)
    log.info("contract %s drafted for %s:%s", contract.id, party_type, party_id)
    return contract


def update_draft(contract: Contract, *, actor: Any, expected_version: int | None = None,
                 template: ContractTemplate | None = None, employer: OrgUnit | None = None,
                 title: str | None = None, party_email: str | None = None, starts_on: date | None = None,
                 ends_on: date | None = None, terms: dict | None = None) -> Contract:
    """Change a draft (the party stays: another person gets another contract).

    :raises InvalidTransition: once issued. :raises Conflict: when the form saw an older version.
    """
    require_draft(contract)
    check_version(contract, expected_version)
    require_can(actor, "contracts.manage", contract)
    template, employer = template or contract.template, employer or contract.employer
    _check_employer(employer, actor)
    if template.id != contract.template_id:
        _check_template(template, employer)
    else:
        _check_template_scope(template, employer)
    _check_dates(starts_on, ends_on)
    before = {"title": contract.title, "starts_on": contract.starts_on, "ends_on": contract.ends_on,
              "terms": contract.terms, "template_version": contract.template_version, "employer": contract.employer_id}
    contract.template, contract.template_version, contract.kind = template, template.version, template.kind
    contract.employer, contract.title = employer, _clean_title(title, template)
    contract.party_email = _clean_email(party_email, contract.party_user)
    contract.starts_on, contract.ends_on = starts_on, ends_on
    contract.terms = clean_terms(template.kind, terms, starts_on=starts_on, ends_on=ends_on)
    flush()
    audit("draft_updated", contract, actor, before=before)
    return contract


def delete_draft(contract: Contract, *, actor: Any) -> None:
    """Discard a draft nobody has seen (issued contracts are never deleted).

    :raises InvalidTransition: once issued.
    """
    require_draft(contract)
    require_can(actor, "contracts.manage", contract)
    audit("draft_deleted", contract, actor, title=contract.title, party=f"{contract.party_type}:{contract.party_id}")
    db.session.delete(contract)
    flush()


# --- issue -----------------------------------------------------------------------------------------------------


def render_contract(contract: Contract, *, issued_on: date | None = None) -> str:
    """The contract's text from its template version and its own values (what issuing freezes)."""
    values = rendering.placeholder_values(
        party_name=contract.party_name, party_email=contract.party_email, employer_name=contract.employer.name,
        title=contract.title, starts_on=contract.starts_on, ends_on=contract.ends_on, terms=contract.terms,
        issued_on=issued_on or local_today(),
    )
    return rendering.render_body(contract.template.body, values)


def issue_contract(contract: Contract, *, actor: Any, expected_version: int | None = None) -> Contract:
    """Freeze the text (and its SHA-256) and ask the party to sign: inbox and e-mail with a link.

    :raises InvalidTransition: unless a draft. :raises ValidationFailed: when the party has no portal account.
    """
    check_version(contract, expected_version)
    require_can(actor, "contracts.manage", contract)
    if contract.party_user is None or not contract.party_user.is_active:
        raise ValidationFailed(_("The party needs an active portal account to sign: link one first."), field="party")
    text = render_contract(contract)
    transition(contract, "issue")
    contract.rendered_text, contract.rendered_sha256 = text, rendering.sha256_text(text)
    contract.issued_at = utcnow()
    flush()
    notify_user(contract.party_user, template="contracts/messages/issued", key=f"contract:{contract.id}:issued",
                context=_message_context(contract, "contracts.own"))
    audit("issued", contract, actor, sha256=contract.rendered_sha256, template_version=contract.template_version)
    log.info("contract %s issued", contract.id)
    return contract


def _message_context(contract: Contract, endpoint: str) -> dict:
    return {"title": contract.title, "party_name": contract.party_name, "employer_name": contract.employer.name,
            "starts_on": contract.starts_on, "ends_on": contract.ends_on,
            "link": link(endpoint, contract_id=contract.id)}


# --- activation and the end --------------------------------------------------------------------------------------


def activate(contract: Contract, *, actor: Any) -> None:
    """Both sides have signed: the contract is in force; obligations are created from its terms."""
    transition(contract, "countersign")
    contract.activated_at = utcnow()
    flush()
    create_obligations_on_activation(contract, actor=actor)
    if contract.party_user is not None:
        notify_user(contract.party_user, template="contracts/messages/active", key=f"contract:{contract.id}:active",
                    context=_message_context(contract, "contracts.own"))
    elif contract.party_email:
        notify(template="contracts/messages/active", channel="email", key=f"contract:{contract.id}:active:email",
               address=contract.party_email, context=_message_context(contract, "contracts.own"))


def _finish(contract: Contract, action: str, *, actor: Any, on: date, reason: str | None) -> Contract:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_("A reason has at most %(n)d characters.", n=REASON_MAX), field="reason")
    if on < contract.starts_on and contract.status == S.ACTIVE:
        raise ValidationFailed(_("The last day cannot be before the contract starts."), field="on")
    previous = transition(contract, action)
    contract.ended_on, contract.end_reason, contract.ended_at = on, reason or None, utcnow()
    flush()
    if previous == S.ACTIVE:
        schedule_non_compete(contract, on, actor=actor)
    audit(action if action != "end" else "ended", contract, actor, previous=previous, last_day=on, reason=reason)
    log.info("contract %s %s (was %s)", contract.id, contract.status, previous)
    return contract


def end_contract(contract: Contract, *, actor: Any, on: date | None = None, reason: str | None = None,
                 expected_version: int | None = None) -> Contract:
    """An active contract ends normally (last day `on`, by default its agreed end or today).

    :raises InvalidTransition: unless active.
    """
    check_version(contract, expected_version)
    require_can(actor, "contracts.manage", contract)
    return _finish(contract, "end", actor=actor, on=on or contract.ends_on or local_today(), reason=reason)


def terminate_contract(contract: Contract, *, actor: Any, reason: str, on: date | None = None,
                       expected_version: int | None = None) -> Contract:
    """End a contract early, or withdraw one that was issued but not yet in force; a reason is required.

    :raises InvalidTransition: for a draft or a contract already finished.
    """
    check_version(contract, expected_version)
    require_can(actor, "contracts.manage", contract)
    if not (reason or "").strip():
        raise ValidationFailed(_("Give the reason."), field="reason")
    return _finish(contract, "terminate", actor=actor, on=on or local_today(), reason=reason)


def expire_contract(contract: Contract, *, actor: Any = SYSTEM, on: date | None = None) -> Contract:
    """An active contract whose agreed last day has passed (the daily task does this).

    :raises InvalidTransition: unless active and past its end date.
    """
    today = on or local_today()
    if contract.ends_on is None or contract.ends_on >= today:
        raise InvalidTransition(_("This contract has not reached its last day yet."))
    return _finish(contract, "expire", actor=actor, on=contract.ends_on, reason=None)
