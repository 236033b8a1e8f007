"""Teachers: "My contracts", one's own contract, and the signing page (fresh login, one-time code)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.core.net import client_ip
from app.extensions import db
from app.general.auth.policy import requires
from app.general.auth.sessions import fresh_login_required
from app.general.contracts import forms, queries, services
from app.general.contracts.models import ContractStatus
from app.general.contracts.views import bp
from app.general.contracts.views.common import actor, load_own, show_errors, user_agent
from app.general.contracts.views.documents import render_printable


@bp.get("/mine")
@requires("contracts.view_own")
def mine():
    """The contracts the logged-in person is party to; those waiting for a signature first."""
    contracts = queries.contracts_for_user(actor())
    waiting = [c for c in contracts if c.status == ContractStatus.ISSUED]
    others = [c for c in contracts if c.status != ContractStatus.ISSUED]
    return render_template("contracts/mine.html", waiting=waiting, others=others)


@bp.get("/mine/<int:contract_id>")
@requires("contracts.view_own")
def own(contract_id: int):
    """One's own contract: the exact text, the signatures and what remains after the end."""
    contract = load_own(contract_id, "contracts.view_own")
    return render_template("contracts/own.html", contract=contract)


@bp.get("/mine/<int:contract_id>/print")
@requires("contracts.view_own")
def own_print(contract_id: int):
    """Printable copy of one's own contract with the signature trace."""
    contract = load_own(contract_id, "contracts.view_own")
    return render_printable(contract, url_for(".own", contract_id=contract_id))


def _sign_page(contract, form: forms.SigningCodeForm, status: int = 200):
    form.text_sha256.data = contract.rendered_sha256
    return render_template("contracts/sign.html", contract=contract, form=form,
                           code_form=forms.VersionedForm(), minutes=int(services.CODE_TTL.total_seconds() // 60),
                           code_sent=queries.has_live_code(contract, actor())), status


@bp.get("/mine/<int:contract_id>/sign")
@requires("contracts.sign_own")
@fresh_login_required
def sign(contract_id: int):
    """Review the exact text, ask for a code, enter it and sign."""
    contract = load_own(contract_id, "contracts.sign_own")
    if contract.status != ContractStatus.ISSUED:
        flash(_("This contract is not waiting for your signature."), "info")
        return redirect(url_for(".own", contract_id=contract_id))
    return _sign_page(contract, forms.SigningCodeForm())


@bp.post("/mine/<int:contract_id>/code")
@requires("contracts.sign_own")
@fresh_login_required
def request_code(contract_id: int):
    """E-mail a one-time code to the party (at most five an hour)."""
    contract = load_own(contract_id, "contracts.sign_own", for_update=True)
    if not forms.VersionedForm().validate_on_submit():
        abort(400)
    row = services.request_signing_code(contract, user=actor())
    db.session.commit()
    flash(_("A code has been sent to %(address)s. It is valid for %(minutes)d minutes.", address=row.sent_to,
            minutes=int(services.CODE_TTL.total_seconds() // 60)), "success")
    return redirect(url_for(".sign", contract_id=contract_id, _anchor="code"))


@bp.post("/mine/<int:contract_id>/sign")
@requires("contracts.sign_own")
@fresh_login_required
def sign_submit(contract_id: int):
    """Sign with the code: the signature records time, IP, browser and the SHA-256 of the text shown."""
    contract = load_own(contract_id, "contracts.sign_own", for_update=True)
    form = forms.SigningCodeForm()
    if not form.validate_on_submit():
        return _sign_page(contract, form, 422)
    try:
        services.sign_as_party(contract, code=form.code.data, user=actor(), ip=client_ip(), user_agent=user_agent(),
                               shown_sha256=form.text_sha256.data)
    except services.SigningCodeRejected as error:
        db.session.commit()  # keep the attempt count and its audit event
        show_errors(form, error)
        return _sign_page(db.session.get(type(contract), contract_id), form, 422)
    db.session.commit()
    flash(_("You have signed the contract. The school will countersign it."), "success")
    return redirect(url_for(".own", contract_id=contract_id))
