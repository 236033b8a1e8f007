"""The departures board (cases by state, coming last days, the classes still without a replacement), opening a
case, and the case page: its facts, the steps allowed now, the checklist, blockers, settlement and the timeline
drawn from the audit log. Every step is a POST that carries the version the page showed, so two people pressing
the same button at once get a clear conflict instead of both winning."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError, ValidationFailed
from app.core.navigation import register_nav
from app.core.views import actor, show_errors
from app.extensions import db
from app.general.audit.models import AuditEvent
from app.general.audit.queries import events_for_subject
from app.general.auth.policy import authorize, can, requires
from app.general.auth.sessions import fresh_login_required
from app.general.org.models import OrgUnit
from app.school.classes.models import Assignment
from app.school.classes.queries.common import schools_for
from app.school.offboarding import forms
from app.school.offboarding.models import (
    FINISHED,
    FLOW,
    Blocker,
    CaseStatus,
    ChecklistItem,
    DepartureCase,
    DepartureKind,
)
from app.school.offboarding.queries import scoped
from app.school.offboarding.services import access, checklist, settlement
from app.school.offboarding.services import cases as case_services
from app.school.offboarding.services import plan as planning
from app.school.offboarding.services.common import status_label
from app.school.offboarding.timeline import pair, timeline
from app.school.offboarding.views import bp
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today, search_condition, staff_list

register_nav("departures.view", "offboarding.board", _l("Departures"), order=42)

PER_PAGE = 25
STAFF_CHOICES_MAX = 300
OPEN = [str(s) for s in CaseStatus if s not in FINISHED]
BEFORE_REASSIGNMENT = (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.HANDOVER)
AFTER_REASSIGNMENT = (CaseStatus.REASSIGNED, CaseStatus.PARENTS_NOTIFIED, CaseStatus.ACCESS_REVOKED,
                      CaseStatus.SETTLED, CaseStatus.CLOSED)
STATE_FILTERS = ("open", *[str(s) for s in CaseStatus], "finished", "all")


def load_case(case_id: int, permission: str = "departures.view") -> DepartureCase:
    """The case, or 404; 403 unless the user may do `permission` to it (its person's department or school)."""
    case = db.get_or_404(DepartureCase, case_id)
    authorize(permission, case)
    return case


# --- the board -------------------------------------------------------------------------------------------------


def _state_condition(state: str) -> sa.ColumnElement[bool] | None:
    if state == "open":
        return DepartureCase.status.in_(OPEN)
    if state == "finished":
        return DepartureCase.status.in_([str(s) for s in FINISHED])
    if state in {s.value for s in CaseStatus}:
        return DepartureCase.status == state
    return None


@dataclass(frozen=True)
class Risk:
    """A class (or homeroom) of a departing teacher that has nobody to take it over yet."""

    case: DepartureCase
    assignment: Assignment
    days_left: int


def _risks(user, school_id: int | None, today: date) -> list[Risk]:
    stmt = scoped(user, sa.select(DepartureCase)).where(DepartureCase.status.in_(BEFORE_REASSIGNMENT))
    if school_id:
        stmt = stmt.where(DepartureCase.school_id == school_id)
    rows = [Risk(case, assignment, (case.last_working_day - today).days)
            for case in db.session.scalars(stmt) for assignment in planning.unplanned(case)]
    return sorted(rows, key=lambda r: (r.days_left, r.case.staff.full_name, r.assignment.school_class.name,
                                       r.assignment.id))


def _board_filter(schools: list[OrgUnit]) -> forms.BoardFilterForm:
    form = forms.BoardFilterForm(request.args)
    form.school.choices = [SelectChoice("", _("All my schools"))] + [SelectChoice(s.id, s.name) for s in schools]
    form.state.choices = [SelectChoice("open", _("Under way")), SelectChoice("finished", _("Finished")),
                          SelectChoice("all", _("All"))] + [SelectChoice(s.value, status_label(s).capitalize())
                                                             for s in CaseStatus]
    if form.state.data not in STATE_FILTERS:
        form.state.data = "open"
    return form


@bp.get("/")
@requires("departures.view")
def board():
    """The departures of the user's schools: counts by state, the list, the last days coming up, and the risk list
    (classes still without a replacement, most urgent first)."""
    user, today = actor(), local_today()
    schools = schools_for(user)
    form = _board_filter(schools)
    school_id = form.school.data if form.school.data in {s.id for s in schools} else None
    within = 60 if request.args.get("within") == "60" else 30
    base = scoped(user, sa.select(DepartureCase))
    if school_id:
        base = base.where(DepartureCase.school_id == school_id)
    counts = dict(db.session.execute(base.with_only_columns(DepartureCase.status, sa.func.count())
                                     .group_by(DepartureCase.status)).all())
    listed = base.where(*(c for c in (_state_condition(form.state.data), search_condition(form.q.data or ""))
                          if c is not None))
    page = db.paginate(listed.order_by(DepartureCase.last_working_day.desc(), DepartureCase.id.desc()),
                       per_page=PER_PAGE, error_out=False)
    upcoming = db.session.scalars(base.where(DepartureCase.status.in_(OPEN),
                                             DepartureCase.last_working_day.between(today,
                                                                                    today + timedelta(days=within)))
                                  .order_by(DepartureCase.last_working_day, DepartureCase.id)).all()
    return render_template("offboarding/board.html", form=form, page=page, counts=counts, flow=FLOW, today=today,
                           upcoming=upcoming, within=within, risks=_risks(user, school_id, today), schools=schools,
                           open_total=sum(n for s, n in counts.items() if s in OPEN), status_label=status_label,
                           kind_label=case_services.kind_label, filtered=bool(request.args.get("q")) or
                           form.state.data != "open" or bool(school_id))


# --- opening a case ---------------------------------------------------------------------------------------------


def _reachable_staff(user, staff_id: int | None) -> StaffMember | None:
    staff = db.session.get(StaffMember, staff_id) if staff_id else None
    return staff if staff is not None and can(user, "departures.manage", staff) else None


def _staff_choices(user, search: str, keep: StaffMember | None) -> tuple[list[SelectChoice], bool]:
    """Active staff of the user's schools (at most STAFF_CHOICES_MAX; a search narrows them), and whether more
    exist. The chosen person stays in the list whatever the search."""
    people = list(db.session.scalars(staff_list(user, search=search, status="active", sort="school")
                                     .limit(STAFF_CHOICES_MAX + 1)))
    more = len(people) > STAFF_CHOICES_MAX
    people = people[:STAFF_CHOICES_MAX]
    if keep is not None and keep not in people:
        people.insert(0, keep)
    return [SelectChoice("", _("Choose…"))] + [
        SelectChoice(s.id, f"{s.full_name} · {s.employee_number} · {s.school.name}") for s in people], more


def _notice(staff: StaffMember | None, kind: str | None) -> case_services.Notice | None:
    if staff is None or kind not in {k.value for k in DepartureKind}:
        return None
    return case_services.notice_for(staff, kind, local_today(), case_services.labour_contract(staff))


@bp.route("/new", methods=["GET", "POST"])
@requires("departures.manage")
def new_case():
    """An admin opens a departure (a resignation on paper, a contract end, a dismissal, a retirement, a transfer);
    "Check the notice" shows the notice rule and earliest last day without saving."""
    user = actor()
    form = forms.NewCaseForm(data={"staff_id": request.args.get("staff", type=int)} if request.method == "GET"
                             else None)
    staff = _reachable_staff(user, form.staff_id.data)
    search = request.args.get("q", "").strip()[:100]
    form.staff_id.choices, more = _staff_choices(user, search, staff)
    if form.validate_on_submit():
        if staff is None:
            form.staff_id.errors = [_("Choose a member of staff of your schools.")]
        elif not form.check.data:
            try:
                case = case_services.submit(staff, kind=form.kind.data, last_working_day=form.last_working_day.data,
                                            actor=user, private_reason=form.private_reason.data,
                                            waiver_reason=form.waiver_reason.data)
                db.session.commit()
            except DomainError as error:
                show_errors(form, error)
            else:
                flash(_("Departure of %(name)s opened. A head now approves or rejects it.", name=staff.full_name),
                      "success")
                return redirect(url_for(".case", case_id=case.id))
    notice = _notice(staff, form.kind.data)
    if notice is not None and form.last_working_day.data is None and not form.last_working_day.errors:
        form.last_working_day.data, form.last_working_day.raw_data = notice.earliest, None
    status = 422 if form.errors or form.form_errors else 200
    return render_template("offboarding/case_new.html", form=form, notice=notice, staff=staff, search=search,
                           more=more, rule_label=case_services.rule_label), status


def _reached(case: DepartureCase, events: list[AuditEvent]) -> str | None:
    """The step of the main line the case stands at; for a withdrawn or rejected case, the one it had reached."""
    if case.status in FLOW:
        return case.status
    for event in reversed(events):
        before, after = pair((event.changes or {}).get("status") if isinstance(event.changes, dict) else None)
        if after == case.status and before in FLOW:
            return before
    return None


# --- the case page ----------------------------------------------------------------------------------------------


def _fresh(cls: type[FlaskForm], prefix: str, failed: dict[str, FlaskForm], **data) -> FlaskForm:
    """The posted form that failed (to show its errors) or a new one with `data`."""
    return failed.get(prefix) or cls(prefix=prefix, formdata=None, data=data)


def _case_forms(case: DepartureCase, blockers: list[Blocker], failed: dict[str, FlaskForm]) -> dict:
    user, v = actor(), {"version": case.version}
    items = {f"resolve{b.id}": _fresh(forms.ResolveForm, f"resolve{b.id}", failed, version=b.version)
             for b in blockers if b.is_open}
    for item in case.items:
        if not item.is_done and checklist.may_tick(user, item):
            items[f"tick{item.id}"] = _fresh(forms.TickForm, f"tick{item.id}", failed, version=item.version)
        elif item.is_done:
            items[f"reopen{item.id}"] = _fresh(forms.ReopenForm, f"reopen{item.id}", failed, version=item.version)
    return {
        "approve": _fresh(forms.NoteForm, "approve", failed, **v),
        "reject": _fresh(forms.RejectForm, "reject", failed, **v),
        "handover": _fresh(forms.StepForm, "handover", failed, **v),
        "lastday": _fresh(forms.LastDayForm, "lastday", failed, last_working_day=case.last_working_day, **v),
        "withdraw": _fresh(forms.ReasonForm, "withdraw", failed, **v),
        "revoke": _fresh(forms.RevokeForm, "revoke", failed, **v),
        "settle": _fresh(forms.StepForm, "settle", failed, **v),
        "close": _fresh(forms.StepForm, "close", failed, **v),
        "additem": _fresh(forms.AddItemForm, "additem", failed),
        "blocker": _fresh(forms.BlockerForm, "blocker", failed),
        **items,
    }


def _blockers(case: DepartureCase) -> list[Blocker]:
    """The person's blockers: open ones first, then those resolved (newest first)."""
    return list(db.session.scalars(sa.select(Blocker).where(Blocker.staff_id == case.staff_id).order_by(
        Blocker.resolved_at.is_not(None), Blocker.raised_at.desc(), Blocker.id.desc())))


def _may(case: DepartureCase) -> dict[str, bool]:
    """The steps the user may take now (the services check again; this only decides which buttons show)."""
    user, status = actor(), case.status
    manage = can(user, "departures.manage", case)
    decide = can(user, "departures.approve", case) and user.id != case.staff.user_id
    return {
        "manage": manage, "decide": decide and status == CaseStatus.SUBMITTED,
        "handover": manage and status == CaseStatus.APPROVED,
        "plan": manage and status == CaseStatus.HANDOVER,
        "last_day": manage and status in case_services.WITHDRAWABLE,
        "withdraw": manage and status in case_services.WITHDRAWABLE,
        "revoke": manage and status in access.REVOCABLE and case.access_revoked_at is None,
        "settle": manage and status == CaseStatus.ACCESS_REVOKED,
        "close": manage and status == CaseStatus.SETTLED,
        "work_items": status in checklist.WORKING,
        "add_item": manage and status in checklist.WORKING,
        "blockers": can(user, "departures.blockers", case),
        "deliveries": status in AFTER_REASSIGNMENT and case.reassigned_at is not None,
    }


def _render(case: DepartureCase, failed: dict[str, FlaskForm] | None = None, status: int = 200):
    from app.school.offboarding.services import notices

    failed = failed or {}
    may = _may(case)
    unplanned = planning.unplanned(case) if case.status in BEFORE_REASSIGNMENT else []
    blockers = _blockers(case)
    events = events_for_subject("DepartureCase", case.id)
    return render_template(
        "offboarding/case.html", case=case, f=_case_forms(case, blockers, failed), may=may, flow=FLOW,
        today=local_today(), errors=[m for form in failed.values() for m in form.form_errors], unplanned=unplanned,
        blockers=blockers, events=timeline(events), reached=_reached(case, events), status_label=status_label,
        kind_label=case_services.kind_label, rule_label=case_services.rule_label, owner_label=checklist.owner_label,
        blocker_label=checklist.blocker_label, counts=notices.delivery_counts(case) if may["deliveries"] else None,
    ), status


@bp.get("/<int:case_id>")
@requires("departures.view")
def case(case_id: int):
    """One departure: facts, steps, checklist, blockers, settlement and timeline, with the buttons allowed now."""
    return _render(load_case(case_id))


def _case_url(case: DepartureCase, anchor: str = "") -> str:
    return url_for(".case", case_id=case.id) + (f"#{anchor}" if anchor else "")


def _post(case: DepartureCase, prefix: str, form: FlaskForm, call: Callable[[FlaskForm], object],
          done: Callable[[], str] | str, anchor: str = ""):
    """Validate the posted form, call one service, commit and say so. A field error re-renders the page with the
    form (422); a refused step or a conflict (someone acted first) is flashed and the page reloaded."""
    if form.validate_on_submit():
        try:
            call(form)
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(_case_url(case, anchor))
        else:
            flash(done() if callable(done) else done, "success")
            return redirect(_case_url(case, anchor))
    return _render(case, {prefix: form}, 422)


@bp.post("/<int:case_id>/approve")
@requires("departures.approve")
@fresh_login_required
def approve_case(case_id: int):
    """The head approves the departure (after re-entering their password)."""
    case = load_case(case_id, "departures.approve")
    form = forms.NoteForm(prefix="approve")
    dismissal = case.kind == DepartureKind.DISMISSAL
    return _post(case, "approve", form, lambda f: case_services.approve(
        case, actor=actor(), note=f.note.data, expected_version=f.version.data),
        _("Approved. Access ended at once (dismissal).") if dismissal else
        _("Approved. The school office starts the handover; access ends after the last working day."))


@bp.post("/<int:case_id>/reject")
@requires("departures.approve")
def reject_case(case_id: int):
    """The head refuses the departure as filed, saying why; the person is active again."""
    case = load_case(case_id, "departures.approve")
    return _post(case, "reject", forms.RejectForm(prefix="reject"), lambda f: case_services.reject(
        case, actor=actor(), note=f.note.data, expected_version=f.version.data),
        _("Rejected. %(name)s is active again.", name=case.staff.full_name))


@bp.post("/<int:case_id>/handover")
@requires("departures.manage")
def start_handover(case_id: int):
    """The handover begins: the checklist is drawn from the template of the person's role."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "handover", forms.StepForm(prefix="handover"), lambda f: case_services.start_handover(
        case, actor=actor(), expected_version=f.version.data),
        _("Handover started: the checklist is ready. Next, choose who takes over each class."), "checklist")


@bp.post("/<int:case_id>/last-day")
@requires("departures.manage")
def change_last_day(case_id: int):
    """Move the last working day (before the classes move); an earlier day than the notice allows needs a waiver."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "lastday", forms.LastDayForm(prefix="lastday"), lambda f: case_services.change_last_day(
        case, last_working_day=f.last_working_day.data, waiver_reason=f.waiver_reason.data, actor=actor(),
        expected_version=f.version.data),
        lambda: _("Last working day changed to %(day)s.", day=case.last_working_day.isoformat()))


@bp.post("/<int:case_id>/withdraw")
@requires("departures.manage")
def withdraw_case(case_id: int):
    """Take the departure back before the classes move; the person is active again."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "withdraw", forms.ReasonForm(prefix="withdraw"), lambda f: case_services.withdraw(
        case, actor=actor(), reason=f.reason.data, expected_version=f.version.data),
        _("Withdrawn. %(name)s is active again.", name=case.staff.full_name))


@bp.post("/<int:case_id>/revoke")
@requires("departures.manage")
def revoke_access(case_id: int):
    """End the person's access now (before the scheduled time), saying why."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "revoke", forms.RevokeForm(prefix="revoke"), lambda f: access.revoke_early(
        case, actor=actor(), note=f.note.data, expected_version=f.version.data),
        _("Access ended: %(name)s can no longer sign in.", name=case.staff.full_name))


@bp.post("/<int:case_id>/settle")
@requires("departures.manage")
def settle_case(case_id: int):
    """Work out the final pay, total the money items, end the labour contract; the person has departed."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "settle", forms.StepForm(prefix="settle"), lambda f: settlement.settle(
        case, actor=actor(), expected_version=f.version.data),
        _("Settled: the final pay is worked out and the labour contract ended. Close the case when nothing is "
          "left open."), "settlement")


@bp.post("/<int:case_id>/close")
@requires("departures.manage")
def close_case(case_id: int):
    """Close a settled case once nothing is open."""
    case = load_case(case_id, "departures.manage")
    return _post(case, "close", forms.StepForm(prefix="close"), lambda f: settlement.close(
        case, actor=actor(), expected_version=f.version.data), _("Closed. The departure is complete."))


# --- checklist and blockers -------------------------------------------------------------------------------------


def _item(case: DepartureCase, item_id: int) -> ChecklistItem:
    item = db.session.get(ChecklistItem, item_id)
    if item is None or item.case_id != case.id:
        abort(404)
    return item


@bp.post("/<int:case_id>/items/<int:item_id>/done")
@requires("departures.view")
def tick_item(case_id: int, item_id: int):
    """Tick an item off with its evidence (and the amount of a money item): admins any, a head the head's."""
    case = load_case(case_id)
    item = _item(case, item_id)
    prefix = f"tick{item.id}"
    return _post(case, prefix, forms.TickForm(prefix=prefix), lambda f: checklist.complete_item(
        item, actor=actor(), evidence=f.evidence.data, amount=f.amount.data, expected_version=f.version.data),
        _("Done: %(title)s.", title=checklist.item_title(item.title)), f"item-{item.id}")


@bp.post("/<int:case_id>/items/<int:item_id>/reopen")
@requires("departures.manage")
def reopen_item(case_id: int, item_id: int):
    """Undo a tick, saying why."""
    case = load_case(case_id, "departures.manage")
    item = _item(case, item_id)
    prefix = f"reopen{item.id}"
    return _post(case, prefix, forms.ReopenForm(prefix=prefix), lambda f: checklist.reopen_item(
        item, actor=actor(), reason=f.reason.data, expected_version=f.version.data),
        _("Open again: %(title)s.", title=checklist.item_title(item.title)), f"item-{item.id}")


@bp.post("/<int:case_id>/items")
@requires("departures.manage")
def add_item(case_id: int):
    """An extra checklist item for this case only."""
    case = load_case(case_id, "departures.manage")
    form = forms.AddItemForm(prefix="additem")
    return _post(case, "additem", form, lambda f: checklist.add_item(
        case, title=f.title.data, owner=f.owner.data, is_money=f.is_money.data, actor=actor()),
        lambda: _("Added to the checklist: %(title)s.", title=form.title.data), "checklist")


@bp.post("/<int:case_id>/blockers")
@requires("departures.blockers")
def raise_blocker(case_id: int):
    """Record something that must be resolved before the departure can be settled."""
    case = load_case(case_id, "departures.blockers")
    return _post(case, "blocker", forms.BlockerForm(prefix="blocker"), lambda f: checklist.raise_blocker(
        case.staff, kind=f.kind.data, description=f.description.data, actor=actor()),
        _("Blocker recorded: the departure cannot be settled until it is resolved."), "blockers")


@bp.post("/<int:case_id>/blockers/<int:blocker_id>/resolve")
@requires("departures.blockers")
def resolve_blocker(case_id: int, blocker_id: int):
    """Mark a blocker of the person resolved, saying how."""
    case = load_case(case_id, "departures.blockers")
    blocker = db.session.get(Blocker, blocker_id)
    if blocker is None or blocker.staff_id != case.staff_id:
        abort(404)
    prefix = f"resolve{blocker.id}"
    return _post(case, prefix, forms.ResolveForm(prefix=prefix), lambda f: checklist.resolve_blocker(
        blocker, actor=actor(), resolution=f.resolution.data, expected_version=f.version.data),
        _("Blocker resolved."), "blockers")
