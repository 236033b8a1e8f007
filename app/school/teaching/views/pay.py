"""Pay runs and statements: the runs of the schools in scope, a run's review page (steps, totals, lines against the
baseline, a chart by department), its steps (calculate, approve, send back, lock, correct), the Excel for the payroll
office, one line explained, and the teacher's own statements ("My pay")."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.core.navigation import register_nav
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.policy import authorize, can, requires
from app.general.auth.sessions import fresh_login_required
from app.general.org.models import OrgUnit
from app.school.classes.queries.common import schools_for
from app.school.credentials.views.common import show_errors
from app.school.imports_views import download
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today, staff_for_user
from app.school.teaching import forms
from app.school.teaching.calendar import first_of_month
from app.school.teaching.exports import pay_run_workbook
from app.school.teaching.models import PayLine, PayRun, PayRunStatus, PayScheme
from app.school.teaching.services import payruns
from app.school.teaching.services.ledger import kind_labels
from app.school.teaching.views import bp
from app.school.teaching.views.schemes import actor, form_page

register_nav("pay.view", "teaching.pay_runs", _l("Pay"), order=55, group="teaching")
register_nav("pay.view_own", "teaching.my_pay", _l("My pay"), order=55)

RUNS_PER_PAGE = 25
LINES_PER_PAGE = 50
STEPS = (PayRunStatus.DRAFT, PayRunStatus.CALCULATED, PayRunStatus.APPROVED, PayRunStatus.LOCKED)
CHART_X, CHART_W = 30, 50  # percent of the chart's width (templates/teaching/pay_chart.html)


@bp.app_template_filter("money")
def money(value) -> str:
    """¥1,234.50 (exact: a Decimal is formatted, never turned into a float); a dash for none."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    return f"-¥{-amount:,.2f}" if amount < 0 else f"¥{amount:,.2f}"


def load_run(run_id: int, permission: str = "pay.view") -> PayRun:
    """The run, or 404; 403 unless the user may do `permission` to its school."""
    run = db.get_or_404(PayRun, run_id)
    authorize(permission, run)
    return run


def _month(text: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{text}-01") if text else None
    except ValueError:
        return None


# --- the runs ------------------------------------------------------------------------------------------------


@bp.get("/pay/")
@requires("pay.view")
def pay_runs():
    """The pay runs of the user's schools, newest month first, and the form that opens a month's run."""
    user = actor()
    schools = schools_for(user)
    school_id = request.args.get("school", type=int)
    ids = [s.id for s in schools if school_id in (None, s.id)]
    stmt = (sa.select(PayRun).join(OrgUnit, OrgUnit.id == PayRun.school_id).where(PayRun.school_id.in_(ids))
            .order_by(PayRun.month.desc(), OrgUnit.name, PayRun.number.desc()))
    page = db.paginate(stmt, per_page=RUNS_PER_PAGE, error_out=False)
    month = first_of_month(local_today())
    form = forms.OpenRunForm(school=school_id or (schools[0].id if len(schools) == 1 else None),
                             month=month.strftime("%Y-%m"))
    form.school.choices = [SelectChoice(s.id, s.name) for s in schools]
    return render_template("teaching/pay_runs.html", page=page, schools=schools, school_id=school_id, form=form,
                           month=month, may_manage=can(user, "pay.manage"), status_label=payruns.status_label,
                           month_form=forms.MonthForm(month=month.strftime("%Y-%m")))


@bp.post("/pay/runs/month")
@requires("pay.manage")
def calculate_month():
    """Every school's run of the month in the user's scope calculated in one pass (runs already approved or
    locked are left as they are)."""
    form = forms.MonthForm()
    month = _month(form.month.data)
    if not form.validate_on_submit() or month is None:
        flash(_("Choose a month such as 2026-10."), "danger")
        return redirect(url_for(".pay_runs"))
    schools = [school for school in schools_for(actor()) if can(actor(), "pay.manage", school)]
    try:
        done = payruns.calculate_month(schools, month, actor())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(".pay_runs"))
    flash(ngettext("%(num)d run of %(month)s calculated, %(total)s in all.",
                   "%(num)d runs of %(month)s calculated, %(total)s in all.", len(done.runs),
                   month=month.strftime("%Y-%m"), total=money(done.total)), "success")
    if done.skipped:
        flash(ngettext("%(num)d run was already approved or locked and was left as it is.",
                       "%(num)d runs were already approved or locked and were left as they are.", len(done.skipped)),
              "info")
    return redirect(url_for(".pay_runs"))


@bp.post("/pay/runs/open")
@requires("pay.manage")
def open_pay_run():
    """Open (or go to) the school's run for the month; a locked month is corrected from its run instead."""
    form = forms.OpenRunForm()
    form.school.choices = [SelectChoice(s.id, s.name) for s in schools_for(actor())]
    month = _month(form.month.data)
    if not form.validate_on_submit() or month is None:
        flash(_("Choose a school and a month such as 2026-10."), "danger")
        return redirect(url_for(".pay_runs"))
    school = db.session.get(OrgUnit, form.school.data) or abort(404)
    authorize("pay.manage", school)
    try:
        run = payruns.open_run(school, month, actor())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        locked = payruns.latest_run(school.id, month)
        return redirect(url_for(".pay_run", run_id=locked.id) if locked else url_for(".pay_runs"))
    return redirect(url_for(".pay_run", run_id=run.id))


def _department_bars(run: PayRun) -> list[dict]:
    """The run's total per department, largest first."""
    rows = db.session.execute(
        sa.select(OrgUnit.name, sa.func.count(), sa.func.sum(PayLine.total))
        .select_from(PayLine).join(StaffMember, StaffMember.id == PayLine.staff_id)
        .outerjoin(OrgUnit, OrgUnit.id == StaffMember.department_id).where(PayLine.run_id == run.id)
        .group_by(OrgUnit.name).order_by(sa.func.sum(PayLine.total).desc())).all()
    return _bars([(name or _("No department"), count, Decimal(total)) for name, count, total in rows])


def _bars(rows: list[tuple[str, int | None, Decimal]]) -> list[dict]:
    """(label, count, total) rows as bars: the widths are worked out here so the template only writes them out."""
    top = max((total for _label, _count, total in rows), default=Decimal("0")) or Decimal("1")
    return [{"label": label, "count": count, "total": total, "w": f"{CHART_W * float(total / top):.2f}%"}
            for label, count, total in rows]


def _trend_bars(run: PayRun, months: int = 6) -> list[dict]:
    """The school's final total of each of the last `months` months (this run for its own month)."""
    first = run.month
    for _back in range(months - 1):
        first = first_of_month(first - timedelta(days=1))
    finals: dict[date, Decimal] = {}
    for month, total in db.session.execute(sa.select(PayRun.month, PayRun.total).where(
            PayRun.school_id == run.school_id, PayRun.month >= first, PayRun.month < run.month,
            PayRun.status == PayRunStatus.LOCKED).order_by(PayRun.month, PayRun.number)):
        finals[month] = Decimal(total)  # the newest locked version wins
    finals[run.month] = run.total
    return _bars([(month.strftime("%Y-%m"), None, total) for month, total in sorted(finals.items())])


def _lines_page(run: PayRun, changed: set[int], changed_first: bool):
    order = [StaffMember.family_name, StaffMember.given_name, StaffMember.id]
    if changed_first and changed:
        order.insert(0, sa.case((PayLine.staff_id.in_(changed), 0), else_=1))
    stmt = (sa.select(PayLine).join(StaffMember, StaffMember.id == PayLine.staff_id)
            .where(PayLine.run_id == run.id).order_by(*order))
    return db.paginate(stmt, per_page=LINES_PER_PAGE, error_out=False)


def _parts(run: PayRun) -> dict:
    sums = db.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(PayLine.periods), 0), sa.func.coalesce(sa.func.sum(PayLine.lesson_amount), 0),
        sa.func.coalesce(sa.func.sum(PayLine.overtime_amount), 0),
        sa.func.coalesce(sa.func.sum(PayLine.allowance_amount), 0),
        sa.func.coalesce(sa.func.sum(PayLine.bonus_amount), 0)).where(PayLine.run_id == run.id)).one()
    return dict(zip(("periods", "lessons", "overtime", "allowance", "bonuses"), (Decimal(v) for v in sums),
                    strict=True))


@bp.get("/pay/runs/<int:run_id>")
@requires("pay.view")
def pay_run(run_id: int):
    """A run under review: its step, totals, each teacher's line against the baseline (last month, or the version a
    correction replaces), the totals by department, and the buttons of the next step."""
    run = load_run(run_id)
    user = actor()
    base = payruns.baseline(run)
    diffs = payruns.differences(run, base) if run.status != PayRunStatus.DRAFT else {}
    changed = {i for i, d in diffs.items() if d.after is not None and d.change != 0}
    changed_first = request.args.get("sort") == "changed"
    versions = list(db.session.scalars(sa.select(PayRun).where(PayRun.school_id == run.school_id,
                                                               PayRun.month == run.month).order_by(PayRun.number)))
    if run.line_count:  # every teacher's pay is on this page: reading it is audited, like one line
        record("pay.run_viewed", subject=run, actor=user, changes={"lines": run.line_count, "number": run.number})
        db.session.commit()
    return render_template(
        "teaching/pay_run.html", run=run, base=base, diffs=diffs, changed=changed, changed_first=changed_first,
        page=_lines_page(run, changed, changed_first), parts=_parts(run), bars=_department_bars(run),
        trend=_trend_bars(run),
        chart_x=CHART_X, steps=STEPS, status_label=payruns.status_label, versions=versions,
        gone=sorted((d for d in diffs.values() if d.after is None), key=lambda d: d.name),
        is_newest=versions[-1].id == run.id, may_manage=can(user, "pay.manage", run),
        may_approve=can(user, "pay.approve", run), step=forms.RunStepForm(data={"version": run.version}))


def _step(run_id: int, permission: str, action, done: str):
    """One POSTed step of a run (with the version the page showed), then back to the run."""
    run = load_run(run_id, permission)
    form = forms.RunStepForm()
    if form.validate_on_submit():
        try:
            action(run, actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash(done, "success")
    return redirect(url_for(".pay_run", run_id=run_id))


@bp.post("/pay/runs/<int:run_id>/calculate")
@requires("pay.manage")
def calculate_pay_run(run_id: int):
    """(Re)calculate the run's lines from the ledger, the schemes, homeroom duties and approved bonuses."""
    return _step(run_id, "pay.manage", payruns.calculate_run,
                 _("Calculated. Review the lines, then ask a head to approve them."))


@bp.post("/pay/runs/<int:run_id>/approve")
@requires("pay.approve")
def approve_pay_run(run_id: int):
    """A head approves the calculated figures."""
    return _step(run_id, "pay.approve", payruns.approve_run,
                 _("Approved. An administrator locks the run and the teachers receive their statements."))


@bp.post("/pay/runs/<int:run_id>/lock")
@requires("pay.manage")
def lock_pay_run(run_id: int):
    """Make the approved run final and publish the teachers' statements (once)."""
    return _step(run_id, "pay.manage", payruns.lock_run,
                 _("Locked. The teachers have their statements; the Excel file is ready for the payroll office."))


def _reason_page(run_id: int, *, correction: bool):
    run = load_run(run_id, "pay.manage")
    form = forms.RunReasonForm(data=None if request.method == "POST" else {"version": run.version})
    if form.validate_on_submit():
        try:
            if correction:
                target = payruns.start_correction(run, form.reason.data, actor())
            else:
                target = payruns.return_run(run, form.reason.data, actor(), expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Correction started: calculate it, review the differences, then approve and lock it.")
                  if correction else _("Sent back: it can be recalculated."), "success")
            return redirect(url_for(".pay_run", run_id=target.id))
    month = run.month.strftime("%Y-%m")
    return form_page(form, title=_("Correct the pay for %(month)s", month=month) if correction
                     else _("Send the pay for %(month)s back", month=month),
                     back_url=url_for(".pay_run", run_id=run.id), back_label=_("Pay run %(month)s", month=month),
                     intro=_("A correction is a new version of the locked run; the locked one stays as it was and "
                             "each teacher's statement will show the difference.") if correction
                     else _("The approval is withdrawn and the run can be recalculated and approved again."))


@bp.route("/pay/runs/<int:run_id>/return", methods=["GET", "POST"])
@requires("pay.manage")
def return_pay_run(run_id: int):
    """Send an approved run back for recalculation, saying why."""
    return _reason_page(run_id, correction=False)


@bp.route("/pay/runs/<int:run_id>/correct", methods=["GET", "POST"])
@requires("pay.manage")
def correct_pay_run(run_id: int):
    """Start a correction of the newest locked run of a month, saying why."""
    return _reason_page(run_id, correction=True)


@bp.get("/pay/runs/<int:run_id>/export.xlsx")
@requires("pay.view")
@fresh_login_required
def pay_run_export(run_id: int):
    """The run's lines as Excel for the payroll office (every cell neutralised); audited."""
    run = load_run(run_id)
    if run.status == PayRunStatus.DRAFT:
        abort(404)
    content, filename, count = pay_run_workbook(run, payruns.baseline(run))
    record("exports.downloaded", subject=run, actor=actor(),
           changes={"kind": "pay_run", "format": "xlsx", "rows": count, "school": run.school.code,
                    "month": run.month.strftime("%Y-%m"), "number": run.number, "status": run.status})
    db.session.commit()
    return download(content, filename, "xlsx")


# --- statements ------------------------------------------------------------------------------------------------


def _factor(value: Decimal) -> Decimal:
    """1.000, 1.100 … (three decimals, more only when a product of multipliers needs them)."""
    step = Decimal("0.001")
    return value.quantize(step) if value == value.quantize(step) else value.normalize()


def statement(line: PayLine) -> dict:
    """The line's detail as the parts of a readable statement (scheme names and kind labels resolved)."""
    detail = line.detail or {}
    overtime = detail.get("overtime")
    ids = {int(x["scheme"]) for x in detail.get("lessons", [])} | set(detail.get("schemes") or [])
    if overtime:
        ids.add(int(overtime["scheme"]))
    names = dict(db.session.execute(sa.select(PayScheme.id, PayScheme.name).where(PayScheme.id.in_(ids))).all()) \
        if ids else {}
    labels = kind_labels()
    lessons = [{"kind": labels.get(x["kind"], x["kind"]), "scheme": names.get(int(x["scheme"]), ""),
                "periods": Decimal(x["periods"]), "rate": Decimal(x["rate"]), "factor": _factor(Decimal(x["factor"])),
                "amount": Decimal(x["amount"])} for x in detail.get("lessons", [])]
    if overtime:
        overtime = {**{k: Decimal(overtime[k]) for k in ("load", "periods", "rate", "amount")},
                    "scheme": names.get(int(overtime["scheme"]), "")}
    allowance = detail.get("allowance")
    employment = detail.get("employment")
    return {"lessons": lessons, "overtime": overtime,
            "allowance": {**allowance, "amount": Decimal(allowance["amount"])} if allowance else None,
            "bonuses": [{"name": b["name"], "amount": Decimal(b["amount"])} for b in detail.get("bonuses", [])],
            "employment": {**employment, "proration": Decimal(employment["proration"])} if employment else None,
            "schemes": [names.get(i, "") for i in detail.get("schemes") or []], "total": line.total,
            "dropped": bool(detail.get("dropped"))}


def _previous(line: PayLine) -> PayLine | None:
    """For a line of a correction: the same teacher's line in the version it corrects."""
    if not line.run.corrects_id:
        return None
    return db.session.scalar(sa.select(PayLine).where(PayLine.run_id == line.run.corrects_id,
                                                      PayLine.staff_id == line.staff_id))


@bp.get("/pay/lines/<int:line_id>")
@requires("pay.view")
def pay_line(line_id: int):
    """One teacher's line explained; reading someone else's pay is audited."""
    line = db.get_or_404(PayLine, line_id)
    authorize("pay.view", line)
    if line.owner_user_id != current_user.id:
        record("pay.line_read", subject=line, actor=actor(),
               changes={"staff": line.staff_id, "run": line.run_id, "month": line.run.month.strftime("%Y-%m")})
        db.session.commit()
    return render_template("teaching/pay_line.html", line=line, statement=statement(line), previous=_previous(line),
                           status_label=payruns.status_label)


def _own_line(line_id: int) -> PayLine:
    """A line of a locked run that belongs to the logged-in teacher; any other answers 404."""
    line = db.session.get(PayLine, line_id)
    if line is None or line.owner_user_id != current_user.id or not line.run.is_locked \
            or not can(current_user, "pay.view_own", line):
        abort(404)
    return line


@bp.get("/pay/mine")
@requires("pay.view_own")
def my_pay():
    """The teacher's statements of locked runs, newest month first, each with its breakdown."""
    staff = staff_for_user(actor())
    if staff is None:
        return render_template("staff/not_linked.html")
    authorize("pay.view_own", staff)
    stmt = (sa.select(PayLine).join(PayRun, PayRun.id == PayLine.run_id)
            .where(PayLine.staff_id == staff.id, PayRun.status == PayRunStatus.LOCKED)
            .order_by(PayRun.month.desc(), PayRun.number.desc()))
    page = db.paginate(stmt, per_page=12, error_out=False)
    newest = {}
    for line in page.items:
        newest.setdefault(line.run.month, line.id)
    return render_template("teaching/my_pay.html", staff=staff, page=page, newest=newest,
                           statements={line.id: statement(line) for line in page.items},
                           previous={line.id: _previous(line) for line in page.items})


@bp.get("/pay/mine/<int:line_id>")
@requires("pay.view_own")
def my_pay_line(line_id: int):
    """One of the teacher's own statements (another teacher's answers 404)."""
    line = _own_line(line_id)
    return render_template("teaching/pay_line.html", line=line, statement=statement(line), previous=_previous(line),
                           own=True, status_label=payruns.status_label)
