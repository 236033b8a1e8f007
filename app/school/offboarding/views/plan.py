"""The reassignment plan of a departure: the first day of the new teachers, the ranked colleagues for each class
handed over with a one-click "Choose", the loads that result, the parents' notice (counts, wording, preview), and
the confirmation that applies it all in one transaction; then the deliveries of the notices, with retry."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_sqlalchemy.pagination import Pagination

from app.core.errors import Conflict, DomainError
from app.core.views import actor, show_errors
from app.extensions import db
from app.general.auth.policy import authorize, can, requires
from app.school.classes.models import Assignment
from app.school.offboarding import forms_plan as forms
from app.school.offboarding.models import CaseStatus, DepartureCase, ParentNotice
from app.school.offboarding.services import access, notices
from app.school.offboarding.services import plan as planning
from app.school.offboarding.services.common import status_label
from app.school.offboarding.views import bp
from app.school.staff.models import StaffMember, StaffStatus

PER_PAGE = 50
STATES = ("pending", "sent", "failed", "acknowledged")


def _case(case_id: int, permission: str) -> DepartureCase:
    case = db.get_or_404(DepartureCase, case_id)
    authorize(permission, case)
    return case


def _colleagues(case: DepartureCase) -> list[StaffMember]:
    """Everyone the admin may pick by hand (the service refuses a colleague who is leaving, with a message)."""
    return list(db.session.scalars(sa.select(StaffMember).where(
        StaffMember.school_id == case.school_id, StaffMember.status == StaffStatus.ACTIVE,
        StaffMember.id != case.staff_id).order_by(StaffMember.family_name, StaffMember.given_name, StaffMember.id)))


def _errors_of(error: DomainError, assignment_id: int | None = None) -> tuple[dict[int, str], list[str]]:
    """A service's refusal placed at its line of the plan (`line-<assignment id>`), else above the plan."""
    field = error.field or ""
    if field.startswith("line-") and field[5:].isdigit():
        return {int(field[5:]): error.message}, []
    if assignment_id is not None and field in ("staff", "override_reason"):
        return {assignment_id: error.message}, []
    return {}, [error.message]


def _editing(case: DepartureCase) -> dict:
    """What only the editable plan shows: the loads, the notice preview, the classes left, everyone to pick from."""
    if case.status != CaseStatus.HANDOVER:
        return {"editable": False, "loads": [], "preview": None, "unplanned": [], "colleagues": []}
    return {"editable": True, "loads": planning.loads_after(case), "preview": notices.preview(case),
            "unplanned": planning.unplanned(case), "colleagues": _colleagues(case)}


def _plan_page(case: DepartureCase, *, line_errors: dict[int, str] | None = None, errors: list[str] | None = None,
               day_form: forms.EffectiveDayForm | None = None, wording_form: forms.WordingForm | None = None,
               status: int = 200):
    day = planning.effective_day(case)
    day_form = day_form or forms.EffectiveDayForm(data={"effective_on": day, "version": case.version})
    wording = case.notice_wording or {}
    wording_form = wording_form or forms.WordingForm(data={"wording_en": wording.get("en", ""),
                                                           "wording_zh": wording.get("zh", ""),
                                                           "version": case.version})
    return render_template("offboarding/plan.html", case=case, lines=planning.lines(case), effective_on=day,
                           day_form=day_form, wording_form=wording_form, line_errors=line_errors or {},
                           errors=errors or [], status_label=status_label, **_editing(case)), status


def _status_of(error: DomainError) -> int:
    return 409 if isinstance(error, Conflict) else 422


def _refused(case: DepartureCase, error: DomainError, assignment_id: int | None = None):
    """Roll back, and show the plan again with the service's message at its line (or above the plan)."""
    db.session.rollback()
    line_errors, errors = _errors_of(error, assignment_id)
    return _plan_page(case, line_errors=line_errors, errors=errors, status=_status_of(error))


def _plan_url(case: DepartureCase, anchor: str | None = None) -> str:
    return url_for(".plan", case_id=case.id, _anchor=anchor)


@bp.get("/<int:case_id>/plan")
@requires("departures.manage")
def plan(case_id: int):
    """The reassignment plan (editable while the case is in handover, read only otherwise)."""
    return _plan_page(_case(case_id, "departures.manage"))


@bp.post("/<int:case_id>/plan/effective-day")
@requires("departures.manage")
def plan_effective_day(case_id: int):
    """Set the first day of the new teachers."""
    case = _case(case_id, "departures.manage")
    form = forms.EffectiveDayForm()
    if not form.validate_on_submit():
        return _plan_page(case, day_form=form, status=422)
    try:
        planning.set_effective_on(case, effective_on=form.effective_on.data, actor=actor(),
                              expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        show_errors(form, error)
        return _plan_page(case, day_form=form, status=_status_of(error))
    flash(_("The new teachers start on %(day)s.", day=form.effective_on.data.isoformat()), "success")
    return redirect(_plan_url(case))


@bp.post("/<int:case_id>/plan/choose")
@requires("departures.manage")
def plan_choose(case_id: int):
    """Pick the colleague who takes over one assignment (a blank colleague clears the choice)."""
    case = _case(case_id, "departures.manage")
    form = forms.ChooseForm()
    form.staff_id.choices = []
    if not form.validate_on_submit():
        abort(400)
    assignment = db.get_or_404(Assignment, form.assignment_id.data)
    new_staff = db.get_or_404(StaffMember, form.staff_id.data) if form.staff_id.data is not None else None
    try:
        planning.choose(case, assignment, new_staff, actor=actor(), override_reason=form.override_reason.data,
                    expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        return _refused(case, error, assignment.id)
    if new_staff is not None:
        flash(_("%(name)s is chosen for %(class_name)s.", name=new_staff.full_name,
                class_name=assignment.school_class.name), "success")
    return redirect(_plan_url(case, f"line-{assignment.id}"))


@bp.post("/<int:case_id>/plan/wording")
@requires("departures.manage")
def plan_wording(case_id: int):
    """The opening of the parents' notice per language (blank: the standard wording)."""
    case = _case(case_id, "departures.manage")
    form = forms.WordingForm()
    if not form.validate_on_submit():
        return _plan_page(case, wording_form=form, status=422)
    try:
        planning.set_wording(case, wording={"en": form.wording_en.data, "zh": form.wording_zh.data}, actor=actor(),
                         expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        show_errors(form, error)
        return _plan_page(case, wording_form=form, status=_status_of(error))
    flash(_("The wording of the notice is saved: the preview below shows it."), "success")
    return redirect(_plan_url(case, "notice"))


@bp.post("/<int:case_id>/plan/confirm")
@requires("departures.manage")
def plan_confirm(case_id: int):
    """Apply the whole plan and write every parent's notice, in one transaction (a second press changes nothing)."""
    case = _case(case_id, "departures.manage")
    form = forms.VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        written = planning.confirm(case, actor=actor(), expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        return _refused(case, error)
    flash(ngettext("%(num)d parent notified.", "%(num)d parents notified.", written), "success")
    return redirect(url_for(".deliveries", case_id=case.id))


# --- deliveries ------------------------------------------------------------------------------------------------


class _Deliveries(Pagination):
    """A page of the case's deliveries (the service answers with plain rows, one query per page)."""

    def _query_items(self) -> list:
        args = self._query_args
        return notices.deliveries(args["case"], state=args["state"], limit=self.per_page, offset=self._query_offset)

    def _query_count(self) -> int:
        return self._query_args["total"]


@bp.get("/<int:case_id>/deliveries")
@requires("departures.view")
def deliveries(case_id: int):
    """How each guardian's notice went out: counts per state, a filter, a page of guardians, retries."""
    case = _case(case_id, "departures.view")
    state = request.args.get("state")
    state = state if state in STATES else None
    counts = notices.delivery_counts(case)
    page = _Deliveries(case=case, state=state, total=counts[state] if state else counts["total"],
                       per_page=PER_PAGE, error_out=False)
    may_manage = can(actor(), "departures.manage", case)
    return render_template("offboarding/deliveries.html", case=case, counts=counts, page=page, state=state,
                           states=STATES, may_manage=may_manage, status_label=status_label,
                           may_mark=may_manage and case.status == CaseStatus.REASSIGNED,
                           notified_form=forms.NotifiedForm(data={"version": case.version}))


def _deliveries_url(case: DepartureCase) -> str:
    return url_for(".deliveries", case_id=case.id, state=request.args.get("state") or None)


def _bare_post() -> None:
    if not forms.VersionForm().validate_on_submit():
        abort(400)


@bp.post("/<int:case_id>/deliveries/<int:notice_id>/retry")
@requires("departures.manage")
def retry_notice(case_id: int, notice_id: int):
    """Send one failed notice again (the gateway never gets it twice)."""
    case = _case(case_id, "departures.manage")
    notice = db.get_or_404(ParentNotice, notice_id)
    if notice.case_id != case.id:
        abort(404)
    _bare_post()
    try:
        notices.retry(case, notice, actor=actor())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(_("The notice to %(name)s is queued again.", name=notice.guardian.full_name), "success")
    return redirect(_deliveries_url(case))


@bp.post("/<int:case_id>/deliveries/retry-failed")
@requires("departures.manage")
def retry_failed(case_id: int):
    """Queue every failed notice of the case again."""
    case = _case(case_id, "departures.manage")
    _bare_post()
    try:
        count = notices.retry_all_failed(case, actor=actor())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(ngettext("%(num)d notice is queued again.", "%(num)d notices are queued again.", count)
              if count else _("No delivery has failed: there is nothing to retry."), "success" if count else "info")
    return redirect(_deliveries_url(case))


@bp.post("/<int:case_id>/deliveries/done")
@requires("departures.manage")
def parents_notified(case_id: int):
    """Every notice has gone out: the case moves on (failed deliveries only when the admin accepts them)."""
    case = _case(case_id, "departures.manage")
    form = forms.NotifiedForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        access.mark_parents_notified(case, actor=actor(), accept_failed=bool(form.accept_failed.data),
                                     expected_version=form.version.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(_deliveries_url(case))
    flash(_("Parents are notified: the departure moves on."), "success")
    return redirect(url_for(".case", case_id=case.id))
