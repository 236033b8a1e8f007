"""The contract page for admins and heads, the countersignature, and the printable signed copy."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.core.net import client_ip
from app.extensions import db
from app.general.auth.policy import can, requires
from app.general.auth.sessions import fresh_login_required
from app.general.contracts import forms, queries, services
from app.general.contracts.models import Contract, ContractStatus
from app.general.contracts.views import bp
from app.general.contracts.views.common import actor, load_contract, user_agent


def _draft_preview(contract: Contract) -> tuple[str | None, str | None]:
    """The text a draft would have if issued today, or the reason it cannot be rendered."""
    try:
        return services.render_contract(contract), None
    except ValidationFailed as error:
        return None, error.message


@bp.get("/<int:contract_id>")
@requires("contracts.view")
def show(contract_id: int):
    """One contract: its text, terms, signatures, obligations and timeline, with the actions allowed now."""
    contract = load_contract(contract_id, "contracts.view")
    preview, preview_error = _draft_preview(contract) if contract.status == ContractStatus.DRAFT else (None, None)
    newer = services.latest_version(contract.template.family)
    return render_template(
        "contracts/show.html", contract=contract, preview=preview, preview_error=preview_error,
        newer_template=newer if newer is not None and newer.id != contract.template_id else None,
        events=queries.timeline(contract), manage=can(actor(), "contracts.manage", contract),
        may_countersign=can(actor(), "contracts.countersign", contract) and contract.party_user_id != actor().id,
        confirm_form=forms.VersionedForm(row_version=contract.row_version),
        end_form=forms.EndForm(row_version=contract.row_version), obligation_form=forms.AddObligationForm(),
    )


@bp.post("/<int:contract_id>/countersign")
@requires("contracts.countersign")
@fresh_login_required
def countersign(contract_id: int):
    """The school signs after the party (a recent password is required, as for the party)."""
    contract = load_contract(contract_id, "contracts.countersign", for_update=True)
    form = forms.VersionedForm()
    if not form.validate_on_submit():
        abort(400)
    services.countersign(contract, actor=actor(), ip=client_ip(), user_agent=user_agent(),
                         expected_version=form.expected_version())
    db.session.commit()
    flash(_("Countersigned: the contract is now in force."), "success")
    return redirect(url_for(".show", contract_id=contract_id))


def render_printable(contract: Contract, back_url: str):
    """The printable copy: the frozen text and the signature trace (nothing printable before issue)."""
    if contract.rendered_text is None:
        abort(404)
    return render_template("contracts/print.html", contract=contract, back_url=back_url,
                           text_ok=services.text_matches(contract))


@bp.get("/<int:contract_id>/print")
@requires("contracts.view")
def print_copy(contract_id: int):
    """Printable signed copy with the signature trace."""
    contract = load_contract(contract_id, "contracts.view")
    return render_printable(contract, url_for(".show", contract_id=contract_id))
