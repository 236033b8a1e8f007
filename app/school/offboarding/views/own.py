"""The departing teacher's own pages: their case (state, last day, notice rule, their checklist) and handing in a
resignation. A teacher reaches only their own case; they never see the reassignment or the candidates."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from app.core.errors import DomainError, ValidationFailed
from app.core.navigation import register_nav
from app.core.views import actor, show_errors
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.school.offboarding import forms
from app.school.offboarding.models import FLOW, ChecklistItem, DepartureCase, DepartureKind, ItemOwner
from app.school.offboarding.services import cases as case_services
from app.school.offboarding.services import checklist
from app.school.offboarding.services.common import status_label
from app.school.offboarding.views import bp
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today, staff_for_user

register_nav("departures.view_own", "offboarding.my_case", _l("My departure"), order=60)


def _own_case(staff: StaffMember) -> DepartureCase | None:
    """The teacher's open case, else their latest one."""
    latest = sa.select(DepartureCase).where(DepartureCase.staff_id == staff.id).order_by(
        DepartureCase.submitted_at.desc(), DepartureCase.id.desc())
    return case_services.open_case_of(staff) or db.session.scalars(latest).first()


def _render(staff: StaffMember, case: DepartureCase | None, failed: dict[str, FlaskForm] | None = None,
            status: int = 200):
    failed = failed or {}
    user = actor()
    ticks, withdraw = {}, None
    if case is not None:
        authorize("departures.view_own", case)
        for item in case.items:
            if not item.is_done and item.owner == ItemOwner.TEACHER and case.status in checklist.WORKING \
                    and checklist.may_tick(user, item):
                prefix = f"tick{item.id}"
                ticks[item.id] = failed.get(prefix) or forms.TickForm(prefix=prefix, formdata=None,
                                                                      data={"version": item.version})
        if case.kind == DepartureKind.RESIGNATION and case.status in case_services.WITHDRAWABLE:
            withdraw = failed.get("withdraw") or forms.ReasonForm(prefix="withdraw", formdata=None,
                                                                  data={"version": case.version})
    return render_template("offboarding/my_case.html", staff=staff, case=case, ticks=ticks, withdraw=withdraw,
                           flow=FLOW, today=local_today(), status_label=status_label,
                           rule_label=case_services.rule_label, kind_label=case_services.kind_label,
                           owner_label=checklist.owner_label,
                           errors=[m for form in failed.values() for m in form.form_errors]), status


@bp.get("/mine")
@requires("departures.view_own")
def my_case():
    """The teacher's departure: where it stands, the last working day, and their part of the checklist."""
    staff = staff_for_user(actor())
    if staff is None:
        return render_template("staff/not_linked.html")
    return _render(staff, _own_case(staff))


@bp.route("/resign", methods=["GET", "POST"])
@requires("departures.resign")
def resign():
    """Hand in a resignation: the last working day (the earliest the notice allows, prefilled) and an optional
    private reason."""
    user = actor()
    staff = staff_for_user(user)
    if staff is None:
        return render_template("staff/not_linked.html")
    if case_services.open_case_of(staff) is not None:
        flash(_("Your departure is already under way."), "info")
        return redirect(url_for(".my_case"))
    notice = case_services.notice_for(staff, DepartureKind.RESIGNATION, local_today(),
                                      case_services.labour_contract(staff))
    form = forms.ResignForm(data={"last_working_day": notice.earliest})
    if form.validate_on_submit():
        try:
            case_services.submit(staff, kind=DepartureKind.RESIGNATION, last_working_day=form.last_working_day.data,
                                 actor=user, private_reason=form.private_reason.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Your resignation is handed in. The head will approve it; you will find each next step here."),
                  "success")
            return redirect(url_for(".my_case"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("offboarding/resign.html", form=form, notice=notice, staff=staff,
                           rule_label=case_services.rule_label), status


def _own_open_case() -> tuple[StaffMember, DepartureCase]:
    staff = staff_for_user(actor())
    case = case_services.open_case_of(staff) if staff is not None else None
    if case is None:
        abort(404)
    authorize("departures.view_own", case)
    return staff, case


def _post(staff: StaffMember, case: DepartureCase, prefix: str, form: FlaskForm, call, done: str):
    """Validate, call one service, commit, say so; a field error re-renders the page with the form."""
    if form.validate_on_submit():
        try:
            call(form)
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for(".my_case"))
        else:
            flash(done, "success")
            return redirect(url_for(".my_case"))
    return _render(staff, case, {prefix: form}, 422)


@bp.post("/mine/items/<int:item_id>/done")
@requires("departures.checklist_own")
def tick_own_item(item_id: int):
    """The teacher ticks off one of their own checklist items with the evidence."""
    staff, case = _own_open_case()
    item = db.session.get(ChecklistItem, item_id)
    if item is None or item.case_id != case.id:
        abort(404)
    prefix = f"tick{item.id}"
    return _post(staff, case, prefix, forms.TickForm(prefix=prefix), lambda f: checklist.complete_item(
        item, actor=actor(), evidence=f.evidence.data, amount=f.amount.data, expected_version=f.version.data),
        _("Done: %(title)s.", title=checklist.item_title(item.title)))


@bp.post("/mine/withdraw")
@requires("departures.resign")
def withdraw_own():
    """The teacher takes their resignation back (before their classes are reassigned)."""
    staff, case = _own_open_case()
    return _post(staff, case, "withdraw", forms.ReasonForm(prefix="withdraw"), lambda f: case_services.withdraw(
        case, actor=actor(), reason=f.reason.data, expected_version=f.version.data),
        _("Your resignation is withdrawn. Nothing changes for your classes."))
