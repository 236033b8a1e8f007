"""Helpers shared by the contract views: loading with the object check, errors next to fields, labels."""
from __future__ import annotations

from flask import abort, flash, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize
from app.general.contracts import queries
from app.general.contracts.models import Contract, ContractStatus, ContractTemplate, Obligation, ObligationKind


def actor():
    """The logged-in user as a plain object (services keep it beyond the request proxy)."""
    return current_user._get_current_object()


def load_contract(contract_id: int, permission: str, *, for_update: bool = False) -> Contract:
    """The contract, or 404; 403 unless `permission` covers it (the employer in scope, or the party's own)."""
    contract = queries.contract_for_update(contract_id) if for_update else db.session.get(Contract, contract_id)
    if contract is None:
        abort(404)
    authorize(permission, contract)
    return contract


def load_own(contract_id: int, permission: str, *, for_update: bool = False) -> Contract:
    """The logged-in party's own contract (a draft is not theirs to see yet); another person's is refused."""
    contract = load_contract(contract_id, permission, for_update=for_update)
    if contract.party_user_id != current_user.id:
        abort(403)
    if contract.status == ContractStatus.DRAFT:
        abort(404)
    return contract


def load_template(template_id: int, permission: str) -> ContractTemplate:
    """A template the user may see (inside their scopes or owned above them); managing needs the scope itself."""
    template = db.get_or_404(ContractTemplate, template_id)
    if not queries.template_visible(actor(), template):
        abort(404)
    if permission != "contracts.view":
        authorize(permission, template)
    return template


def load_obligation(obligation_id: int, permission: str) -> Obligation:
    obligation = db.get_or_404(Obligation, obligation_id)
    authorize(permission, obligation)
    return obligation


def user_agent() -> str:
    return request.headers.get("User-Agent", "")


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Roll back, then put the message next to the field it names (or above the form)."""
    db.session.rollback()
    field = form._fields.get(error.field or "")
    if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "danger")


def event_label(action: str) -> str:
    """A readable name for an audit action on a contract."""
    labels = {
        "contracts.created": _("Draft created"),
        "contracts.draft_updated": _("Draft changed"),
        "contracts.issued": _("Issued to the party"),
        "contracts.signing_code_sent": _("Signing code sent"),
        "contracts.signing_code_wrong": _("Wrong signing code entered"),
        "contracts.signed": _("Signed by the party"),
        "contracts.countersigned": _("Countersigned by the school"),
        "contracts.demo_signed": _("Signed and countersigned (demo data)"),
        "contracts.draft_deleted": _("Draft deleted"),
        "contracts.ended": _("Ended"),
        "contracts.terminate": _("Terminated"),
        "contracts.expire": _("Expired"),
        "contracts.obligation_created": _("Obligation recorded"),
        "contracts.non_compete_scheduled": _("Non-compete compensation scheduled"),
        "contracts.obligation_done": _("Obligation done"),
        "contracts.obligation_waived": _("Obligation waived"),
    }
    return labels.get(action, action)


def obligation_label(obligation: Obligation) -> str:
    """What an obligation is, in the reader's language (generated ones), or the text it was given."""
    if obligation.kind == ObligationKind.CONFIDENTIALITY:
        return _("Confidentiality, during and after the contract (no end date)")
    if obligation.kind == ObligationKind.NON_COMPETE_COMPENSATION and obligation.period_starts_on:
        return _("Non-compete compensation for %(start)s – %(end)s",
                 start=format_date(obligation.period_starts_on, "medium"),
                 end=format_date(obligation.period_ends_on, "medium"))
    return obligation.description
