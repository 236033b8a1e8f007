"""Pay schemes and bonuses: the dated schemes of each school (which one is in effect), the scheme form (a used scheme
is read-only: a change is a new version from a date), the bonus catalogue, and bonus awards (proposed by admins and
heads, decided by heads)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth.policy import authorize, can, requires
from app.general.org.models import OrgUnit
from app.school.classes.queries.common import schools_for
from app.school.staff.models import StaffMember, StaffStatus
from app.school.staff.queries import local_today
from app.school.teaching import forms
from app.school.teaching.calendar import first_of_month, next_month
from app.school.teaching.models import (
    PAID_KINDS,
    AwardStatus,
    BonusAward,
    BonusType,
    PayRun,
    PayRunStatus,
    PayScheme,
)
from app.school.teaching.services import schemes as services
from app.school.teaching.services.ledger import kind_labels
from app.school.teaching.views import bp
from app.school.teaching.views.calendar import actor, form_page, show_errors

PER_PAGE = 50






def plain(value) -> str:
    """A Decimal as typed by a person: 64 rather than 64.0, 45.5 rather than 45.50 (money keeps its cents)."""
    return "" if value is None else format(value.normalize(), "f")


def paid_kinds() -> dict[str, str]:
    """Each paid lesson kind and its label, in the order the form shows them."""
    labels = kind_labels()
    return {kind.value: labels[kind] for kind in PAID_KINDS}


def chosen_school(schools: list[OrgUnit]) -> OrgUnit | None:
    """The school named by `?school=` among the user's, else the only one they have."""
    wanted = request.args.get("school", type=int)
    if wanted is not None:
        return next((s for s in schools if s.id == wanted), None) or abort(404)
    return schools[0] if len(schools) == 1 else None


# --- schemes -----------------------------------------------------------------------------------------------


def _closed_months(school_ids: list[int]) -> dict[int, date]:
    """Per school, the newest month an approved or locked run covers (a scheme starting before it is used)."""
    if not school_ids:
        return {}
    return dict(db.session.execute(
        sa.select(PayRun.school_id, sa.func.max(PayRun.month)).where(
            PayRun.school_id.in_(school_ids), PayRun.status.in_([PayRunStatus.APPROVED, PayRunStatus.LOCKED]))
        .group_by(PayRun.school_id)).all())


@bp.get("/pay/schemes")
@requires("pay.view")
def schemes():
    """Per school in scope: its dated schemes (the one in effect today marked) and its bonus catalogue."""
    every = schools_for(actor())
    school = chosen_school(every) if request.args.get("school") else None
    shown = [school] if school else every
    ids = [s.id for s in shown]
    today = local_today()
    by_school: dict[int, list[PayScheme]] = {i: [] for i in ids}
    for scheme in db.session.scalars(sa.select(PayScheme).where(PayScheme.school_id.in_(ids))
                                     .order_by(PayScheme.effective_from.desc())):
        by_school[scheme.school_id].append(scheme)
    catalogue: dict[int, list[BonusType]] = {i: [] for i in ids}
    for bonus_type in db.session.scalars(sa.select(BonusType).where(BonusType.school_id.in_(ids))
                                         .order_by(BonusType.is_active.desc(), BonusType.name)):
        catalogue[bonus_type.school_id].append(bonus_type)
    closed = _closed_months(ids)
    current = {i: next((s.id for s in items if s.effective_from <= today), None) for i, items in by_school.items()}
    used = {s.id for i, items in by_school.items() for s in items
            if closed.get(i) is not None and closed[i] >= first_of_month(s.effective_from)}
    return render_template("teaching/schemes.html", schools=shown, every=every, school=school, schemes=by_school,
                           catalogue=catalogue, current=current, used=used, today=today, kinds=paid_kinds(),
                           may_manage=can(actor(), "pay.manage"))


def _prefill(source: PayScheme | None, *, new: bool) -> dict:
    """The form's values from a scheme (a new one starts on the first of next month, the rest as the source)."""
    data: dict = {}
    if source is not None:
        data = {"name": source.name, "effective_from": source.effective_from,
                "standard_monthly_periods": plain(source.standard_monthly_periods),
                "overtime_rate": str(source.overtime_rate), "homeroom_allowance": str(source.homeroom_allowance),
                "point_value": str(source.point_value), "version": source.version,
                "multipliers": [{"basis": m.basis, "low": str(m.low), "high": str(m.high), "factor": plain(m.factor)}
                                for m in source.multipliers][:forms.MULTIPLIER_ROWS]}
        data.update({f"rate_{kind}": str(source.rate_for(kind)) for kind in paid_kinds()})
    if new:
        data["effective_from"] = next_month(first_of_month(local_today()))
        data.pop("version", None)
    return data


def _scheme_data(form) -> dict:
    data = {name: form[name].data for name in ("name", "effective_from", "standard_monthly_periods", "overtime_rate",
                                               "homeroom_allowance", "point_value")}
    data.update({f"rate_{kind}": form[f"rate_{kind}"].data for kind in paid_kinds()})
    data["multipliers"] = [{k: row.form[k].data for k in ("basis", "low", "high", "factor")}
                           for row in form.multipliers]
    return data


def _show_scheme_errors(form, error: DomainError) -> None:
    """Roll back; each message next to its field, a multiplier's under its row (`multipliers-<n>`)."""
    db.session.rollback()
    errors = getattr(error, "errors", None) or {error.field or "": error.message}
    rows = form.multipliers.entries
    for name, message in errors.items():
        index = int(name.rsplit("-", 1)[1]) if name.startswith("multipliers-") else None
        field = form._fields.get(name)
        if index is not None and index < len(rows):
            rows[index].form.form_errors.append(message)
        elif field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def _scheme_page(form, *, title: str, school: OrgUnit | None, source: PayScheme | None = None):
    status = 422 if form.errors or form.form_errors or any(e.form.form_errors for e in form.multipliers) else 200
    return render_template("teaching/scheme_form.html", form=form, title=title, school=school, source=source,
                           kinds=paid_kinds()), status


@bp.route("/pay/schemes/new", methods=["GET", "POST"])
@requires("pay.manage")
def new_scheme():
    """A new scheme from a date, prefilled from the scheme it follows (`?from=`) or the one in effect today."""
    every = schools_for(actor())
    source = db.session.get(PayScheme, request.args.get("from", type=int) or 0)
    if source is not None:
        authorize("pay.manage", source)
    school = source.school if source else chosen_school(every)
    if source is None and school is not None:
        source = services.scheme_in_effect(school.id, local_today())
    form = forms.scheme_form(paid_kinds(), with_school=True,
                             data=None if request.method == "POST" else {
                                 **_prefill(source, new=True), "school": school.id if school else None})
    form.school.choices = [SelectChoice(s.id, s.name) for s in every]
    if form.validate_on_submit():
        target = db.session.get(OrgUnit, form.school.data) or abort(404)
        authorize("pay.manage", target)
        try:
            scheme = services.save_scheme(target, _scheme_data(form), actor())
            db.session.commit()
        except DomainError as error:
            _show_scheme_errors(form, error)
        else:
            flash(_("%(name)s has been saved: it applies from %(day)s.", name=scheme.name,
                    day=scheme.effective_from.isoformat()), "success")
            return redirect(url_for(".schemes", school=scheme.school_id))
    return _scheme_page(form, title=_("New pay scheme"), school=school, source=source)


@bp.route("/pay/schemes/<int:scheme_id>/edit", methods=["GET", "POST"])
@requires("pay.manage")
def edit_scheme(scheme_id: int):
    """Correct a scheme no approved or locked run has used; a used one is shown read-only."""
    scheme = db.get_or_404(PayScheme, scheme_id)
    authorize("pay.manage", scheme)
    if services.scheme_is_used(scheme):
        if request.method == "POST":
            flash(_("An approved or locked pay run has used this scheme, so it can no longer change. Add a new "
                    "version from the day the change applies."), "danger")
        return render_template("teaching/scheme_show.html", scheme=scheme, kinds=paid_kinds()), \
            409 if request.method == "POST" else 200
    form = forms.scheme_form(paid_kinds(), with_school=False,
                             data=None if request.method == "POST" else _prefill(scheme, new=False))
    if form.validate_on_submit():
        try:
            services.save_scheme(scheme.school, _scheme_data(form), actor(), scheme=scheme,
                                 expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            _show_scheme_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".schemes", school=scheme.school_id))
    return _scheme_page(form, title=_("Edit %(name)s", name=scheme.name), school=scheme.school)


# --- the bonus catalogue ---------------------------------------------------------------------------------------


def _bonus_type_data(form) -> dict:
    return {name: form[name].data for name in ("code", "name", "amount", "points", "monthly_cap", "is_active")}


@bp.route("/pay/bonus-types/new", methods=["GET", "POST"])
@requires("pay.manage")
def new_bonus_type():
    """Add a bonus to a school's catalogue."""
    every = schools_for(actor())
    school = chosen_school(every)
    form = forms.BonusTypeForm(school=school.id if school else None)
    form.school.choices = [SelectChoice(s.id, s.name) for s in every]
    if form.validate_on_submit():
        target = db.session.get(OrgUnit, form.school.data) or abort(404)
        authorize("pay.manage", target)
        try:
            bonus_type = services.save_bonus_type(target, _bonus_type_data(form), actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("%(name)s has been added to the catalogue.", name=bonus_type.name), "success")
            return redirect(url_for(".schemes", school=bonus_type.school_id))
    return form_page(form, title=_("New bonus"), back_url=url_for(".schemes"), back_label=_("Pay schemes"),
                     intro=_("A bonus is worth a fixed amount or a number of points; a cap limits what one teacher "
                             "receives from it in a month."))


@bp.route("/pay/bonus-types/<int:bonus_type_id>/edit", methods=["GET", "POST"])
@requires("pay.manage")
def edit_bonus_type(bonus_type_id: int):
    """Change a catalogue entry (bonuses already approved keep their amount)."""
    bonus_type = db.get_or_404(BonusType, bonus_type_id)
    authorize("pay.manage", bonus_type)
    form = forms.EditBonusTypeForm(data=None if request.method == "POST" else {
        "code": bonus_type.code, "name": bonus_type.name, "amount": plain(bonus_type.amount),
        "points": plain(bonus_type.points), "monthly_cap": plain(bonus_type.monthly_cap),
        "is_active": bonus_type.is_active, "version": bonus_type.version})
    if form.validate_on_submit():
        try:
            services.save_bonus_type(bonus_type.school, _bonus_type_data(form), actor(), bonus_type=bonus_type,
                                     expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".schemes", school=bonus_type.school_id))
    return form_page(form, title=_("Edit %(name)s", name=bonus_type.name),
                     back_url=url_for(".schemes", school=bonus_type.school_id), back_label=_("Pay schemes"),
                     intro=_("Bonuses already approved keep the amount fixed when they were approved."))


# --- awards ------------------------------------------------------------------------------------------------------


def _month(text: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{text}-01") if text else None
    except ValueError:
        return None


@bp.get("/pay/bonuses")
@requires("pay.view")
def bonuses():
    """The bonus awards of the schools in scope, filtered by status and by month (paid in, else earned in)."""
    user = actor()
    form = forms.AwardFilterForm(request.args)
    ids = [s.id for s in schools_for(user)]
    stmt = (sa.select(BonusAward).join(BonusType, BonusType.id == BonusAward.bonus_type_id)
            .where(BonusType.school_id.in_(ids)).order_by(BonusAward.earned_on.desc(), BonusAward.id.desc()))
    if form.status.data in {s.value for s in AwardStatus}:
        stmt = stmt.where(BonusAward.status == form.status.data)
    month = _month(form.month.data)
    if month is not None:
        last = next_month(month)
        stmt = stmt.where(sa.or_(BonusAward.pay_month == month,
                                 sa.and_(BonusAward.pay_month.is_(None), BonusAward.earned_on >= month,
                                         BonusAward.earned_on < last)))
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    return render_template("teaching/bonuses.html", form=form, page=page, confirm=forms.DecisionForm(),
                           may_propose=can(user, "bonus.propose"), may_decide=can(user, "bonus.decide"),
                           has_catalogue=bool(ids) and db.session.scalar(sa.select(sa.func.count()).select_from(
                               BonusType).where(BonusType.school_id.in_(ids))) > 0)


@bp.route("/pay/bonuses/new", methods=["GET", "POST"])
@requires("bonus.propose")
def propose_bonus():
    """Propose a bonus for a teacher of one school, with what was achieved and the evidence."""
    every = schools_for(actor())
    school = chosen_school(every) or (every[0] if every else abort(404))
    form = forms.ProposeBonusForm()
    form.staff_id.choices = [SelectChoice("", "—")] + [SelectChoice(s.id, f"{s.full_name} ({s.employee_number})")
                                                       for s in _teachers(school)]
    form.bonus_type_id.choices = [SelectChoice("", "—")] + [SelectChoice(t.id, t.name) for t in db.session.scalars(
        sa.select(BonusType).where(BonusType.school_id == school.id, BonusType.is_active.is_(True))
        .order_by(BonusType.name))]
    if form.validate_on_submit():
        staff = db.session.get(StaffMember, form.staff_id.data) or abort(404)
        bonus_type = db.session.get(BonusType, form.bonus_type_id.data) or abort(404)
        authorize("bonus.propose", staff)
        try:
            award = services.propose_award(staff, bonus_type, form.earned_on.data, form.description.data,
                                           form.evidence.data, actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The %(bonus)s for %(name)s is proposed; a head decides on it.", bonus=award.bonus_type.name,
                    name=staff.full_name), "success")
            return redirect(url_for(".bonuses", status="proposed"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("teaching/bonus_propose.html", form=form, title=_("Propose a bonus"),
                           back_url=url_for(".bonuses"), back_label=_("Bonuses"), schools=every, school=school,
                           intro=_("A head of the school decides on it; once approved it is paid with that month's "
                                   "pay.")), status


def _teachers(school: OrgUnit) -> list[StaffMember]:
    return list(db.session.scalars(sa.select(StaffMember).where(
        StaffMember.school_id == school.id, StaffMember.status != StaffStatus.DEPARTED)
        .order_by(StaffMember.family_name, StaffMember.given_name, StaffMember.id)))


def _decide(award_id: int, approve: bool):
    award = db.get_or_404(BonusAward, award_id)
    authorize("bonus.decide", award)
    form = forms.DecisionForm(data=None if request.method == "POST" else {"version": award.version})
    if form.validate_on_submit():
        decide = services.approve_award if approve else services.reject_award
        try:
            decide(award, form.note.data, actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Approved: %(amount)s paid with %(month)s.", amount=f"¥{award.amount:,.2f}",
                    month=award.pay_month.strftime("%Y-%m")) if approve else _("Not approved."), "success")
            return redirect(url_for(".bonuses", status="proposed"))
    title = _("Approve this bonus") if approve else _("Decline this bonus")
    intro = _("%(bonus)s for %(name)s, achieved on %(day)s: %(text)s (evidence: %(evidence)s)",
              bonus=award.bonus_type.name, name=award.staff.full_name, day=award.earned_on.isoformat(),
              text=award.description, evidence=award.evidence)
    return form_page(form, title=title, back_url=url_for(".bonuses"), back_label=_("Bonuses"), intro=intro)


@bp.route("/pay/bonuses/<int:award_id>/approve", methods=["GET", "POST"])
@requires("bonus.decide")
def approve_award(award_id: int):
    """A head approves a proposed bonus: its amount is fixed (within the cap) and paid with the month's run."""
    return _decide(award_id, approve=True)


@bp.route("/pay/bonuses/<int:award_id>/reject", methods=["GET", "POST"])
@requires("bonus.decide")
def reject_award(award_id: int):
    """A head declines a proposed bonus, saying why."""
    return _decide(award_id, approve=False)
