"""Admin pages: the scoped list, drafting and editing, issuing, ending, obligations."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import ValidationFailed
from app.extensions import db
from app.general.auth.models import User
from app.general.auth.policy import authorize, requires
from app.general.contracts import forms, parties, queries, services
from app.general.contracts.models import Contract, ContractTemplate
from app.general.contracts.services.lifecycle import require_draft
from app.general.contracts.services.terms import monthly_compensation, stored_date
from app.general.contracts.views import bp
from app.general.contracts.views.common import actor, load_contract, load_obligation, show_errors
from app.general.org.models import OrgUnit

PER_PAGE = 25


@bp.get("/")
@requires("contracts.view")
def index():
    """Contracts of the employers within the user's scopes, filtered by kind, status, employer or name."""
    form = forms.ContractFilterForm(request.args)
    form.employer.choices = forms.choices([("", _("All employers"))] +
                                         [(u.id, u.name) for u in queries.employers_for(actor())])
    valid = form.validate()
    contract_filter = queries.ContractFilter(
        kind=form.kind.data or "", status=form.status.data or "",
        employer_id=form.employer.data, q=form.q.data or "",
    ) if valid else queries.ContractFilter()
    page = db.paginate(queries.visible_contracts(actor(), contract_filter), per_page=PER_PAGE, error_out=False)
    return render_template("contracts/index.html", form=form, page=page)


def _template_choices(form: forms.ContractForm, current=None) -> None:
    templates = queries.latest_templates(actor(), active_only=True)
    if current is not None and all(t.id != current.id for t in templates):
        templates.insert(0, current)
    form.template.choices = [forms.SelectChoice("", _("— choose —"))] + [
        forms.SelectChoice(t.id, f"{t.name} · v{t.version} · {t.locale}", optgroup=forms.KIND_LABELS.get(t.kind))
        for t in templates
    ]
    employers = sorted(queries.employers_for(actor()), key=lambda unit: (unit.kind != "school", unit.name))
    form.employer.choices = forms.choices((unit.id, unit.name) for unit in employers)


def _chosen(form: forms.ContractForm):
    template = db.session.get(ContractTemplate, form.template.data) or abort(400)
    employer = db.session.get(OrgUnit, form.employer.data) or abort(400)
    authorize("contracts.manage", employer)
    return template, employer


def _prefill(form: forms.NewContractForm, choices: list[parties.Party]) -> None:
    """?party=StaffMember:12 (from a profile page) and ?template=3 preselect the form on first load."""
    wanted = request.args.get("party")
    party = next((p for p in choices if p.key == wanted), None)
    if party is not None:
        form.party.data = party.key
        if party.unit is not None:
            form.employer.data = (party.unit.school or party.unit).id
    form.template.data = request.args.get("template", type=int) or form.template.data


@bp.route("/new", methods=["GET", "POST"])
@requires("contracts.manage")
def create():
    """Draft a contract for a party from a template (nothing is sent until it is issued)."""
    form = forms.NewContractForm()
    _template_choices(form)
    choices = parties.choices_for(actor())
    form.party.choices = forms.choices([("", _("— choose —"))] +
                                       [(p.key, f"{p.name} ({p.email})" if p.email else p.name) for p in choices])
    if request.method == "GET":
        _prefill(form, choices)
    if form.validate_on_submit():
        party = next((p for p in choices if p.key == form.party.data), None) or abort(400)
        template, employer = _chosen(form)
        try:
            contract = services.create_contract(
                actor=actor(), template=template, employer=employer, party_type=party.party_type,
                party_id=party.party_id, party_name=party.name, party_email=form.party_email.data or party.email,
                party_user=db.session.get(User, party.user_id) if party.user_id else None,
                title=form.title.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data, terms=form.terms(),
            )
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(_("The draft is saved. Check it, then issue it to the party."), "success")
            return redirect(url_for(".show", contract_id=contract.id))
    return render_template("contracts/form.html", form=form, contract=None), 422 if form.errors else 200


def _edit_form(contract: Contract) -> forms.ContractForm:
    terms = contract.terms or {}
    return forms.ContractForm(
        template=contract.template_id, employer=contract.employer_id, title=contract.title,
        party_email=contract.party_email, starts_on=contract.starts_on, ends_on=contract.ends_on,
        notice_days=terms.get("notice_days"), probation_ends_on=stored_date(terms.get("probation_ends_on")),
        non_compete_months=terms.get("non_compete_months"),
        non_compete_monthly_compensation=monthly_compensation(terms), currency=terms.get("currency") or "CNY",
        row_version=contract.row_version,
    )


@bp.route("/<int:contract_id>/edit", methods=["GET", "POST"])
@requires("contracts.manage")
def edit(contract_id: int):
    """Change a draft; an issued contract is locked."""
    contract = load_contract(contract_id, "contracts.manage")
    require_draft(contract)
    form = _edit_form(contract)
    _template_choices(form, current=contract.template)
    if form.validate_on_submit():
        template, employer = _chosen(form)
        try:
            services.update_draft(
                contract, actor=actor(), expected_version=form.expected_version(), template=template,
                employer=employer, title=form.title.data, party_email=form.party_email.data,
                starts_on=form.starts_on.data, ends_on=form.ends_on.data, terms=form.terms(),
            )
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(_("The draft is saved."), "success")
            return redirect(url_for(".show", contract_id=contract_id))
    return render_template("contracts/form.html", form=form, contract=contract), 422 if form.errors else 200


def _confirmed(form_class=forms.VersionedForm):
    form = form_class()
    if not form.validate_on_submit():
        abort(400)
    return form


@bp.post("/<int:contract_id>/issue")
@requires("contracts.manage")
def issue(contract_id: int):
    """Freeze the text and send it to the party for signature."""
    contract = load_contract(contract_id, "contracts.manage", for_update=True)
    services.issue_contract(contract, actor=actor(), expected_version=_confirmed().expected_version())
    db.session.commit()
    flash(_("The contract is issued: %(name)s has been asked to sign it.", name=contract.party_name), "success")
    return redirect(url_for(".show", contract_id=contract_id))


@bp.post("/<int:contract_id>/delete")
@requires("contracts.manage")
def delete(contract_id: int):
    """Discard a draft."""
    contract = load_contract(contract_id, "contracts.manage", for_update=True)
    _confirmed()
    services.delete_draft(contract, actor=actor())
    db.session.commit()
    flash(_("The draft is deleted."), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:contract_id>/end")
@requires("contracts.manage")
def end(contract_id: int):
    """Record the normal end of an active contract."""
    contract = load_contract(contract_id, "contracts.manage", for_update=True)
    form = _confirmed(forms.EndForm)
    services.end_contract(contract, actor=actor(), on=form.on.data, reason=form.reason.data,
                          expected_version=form.expected_version())
    db.session.commit()
    flash(_("The contract has ended."), "success")
    return redirect(url_for(".show", contract_id=contract_id))


@bp.post("/<int:contract_id>/terminate")
@requires("contracts.manage")
def terminate(contract_id: int):
    """End a contract early, or withdraw one not yet in force."""
    contract = load_contract(contract_id, "contracts.manage", for_update=True)
    form = _confirmed(forms.EndForm)
    services.terminate_contract(contract, actor=actor(), on=form.on.data, reason=form.reason.data,
                                expected_version=form.expected_version())
    db.session.commit()
    flash(_("The contract is terminated."), "success")
    return redirect(url_for(".show", contract_id=contract_id))


@bp.post("/<int:contract_id>/obligations")
@requires("contracts.manage")
def obligation_add(contract_id: int):
    """Record another obligation of a signed contract."""
    contract = load_contract(contract_id, "contracts.manage")
    form = forms.AddObligationForm()
    if not form.validate_on_submit():
        flash(_("Describe the obligation; a due date and an amount are optional."), "danger")
        return redirect(url_for(".show", contract_id=contract_id, _anchor="obligations"))
    services.add_obligation(contract, actor=actor(), description=form.description.data, due_on=form.due_on.data,
                            amount=form.amount.data)
    db.session.commit()
    flash(_("The obligation is recorded."), "success")
    return redirect(url_for(".show", contract_id=contract_id, _anchor="obligations"))


@bp.post("/obligations/<int:obligation_id>/done")
@requires("contracts.manage")
def obligation_done(obligation_id: int):
    """Mark an obligation done (e.g. a month's compensation paid)."""
    obligation = load_obligation(obligation_id, "contracts.manage")
    form = _confirmed(forms.ObligationForm)
    services.mark_obligation_done(obligation, actor=actor(), note=form.note.data,
                                  expected_version=form.expected_version())
    db.session.commit()
    flash(_("The obligation is marked as done."), "success")
    return redirect(url_for(".show", contract_id=obligation.contract_id, _anchor="obligations"))


@bp.post("/obligations/<int:obligation_id>/waive")
@requires("contracts.manage")
def obligation_waive(obligation_id: int):
    """Release an obligation (a reason is required)."""
    obligation = load_obligation(obligation_id, "contracts.manage")
    form = _confirmed(forms.ObligationForm)
    services.waive_obligation(obligation, actor=actor(), reason=form.note.data,
                              expected_version=form.expected_version())
    db.session.commit()
    flash(_("The obligation is waived."), "success")
    return redirect(url_for(".show", contract_id=obligation.contract_id, _anchor="obligations"))
