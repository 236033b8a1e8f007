"""Hours: a teacher's own ("My hours": a chart by week, totals by kind, the lessons behind each figure, their
timetable) and the overview per school or department for admins and heads, with its export."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.core.navigation import register_nav
from app.core.spreadsheets import csv_bytes, xlsx_bytes
from app.extensions import db
from app.general.audit.services import record
from app.general.auth.policy import authorize, can, requires
from app.general.auth.sessions import fresh_login_required
from app.general.org.models import OrgUnit, OrgUnitKind
from app.school.classes.queries.common import in_scope, local_today
from app.school.imports_kinds import FORMATS
from app.school.imports_views import download
from app.school.staff.models import StaffMember
from app.school.teaching import forms, hours
from app.school.teaching.calendar import iso_week_start, month_bounds
from app.school.teaching.models import Lesson, LessonKind, Term, TimetableSlot
from app.school.teaching.services.ledger import kind_labels, term_of
from app.school.teaching.views import bp
from app.school.teaching.views.ledger import actor

register_nav("teaching.view_own", "teaching.my_hours", _l("My hours"), order=50)

EXPORT_KIND = "teaching_hours"
COLOURS = {"regular": "#0d6efd", "cover": "#fd7e14", "extra": "#198754", "open_class": "#6f42c1",
           "invigilation": "#20c997", "homeroom": "#6c757d"}
CHART_H, PLOT_TOP, PLOT_BOTTOM = 220, 12, 186  # pixels (templates/teaching/_hours_chart.html)
PLOT_X, PLOT_W = 8.0, 90.0  # percent of the width


@dataclass(frozen=True)
class Range:
    first: date
    last: date
    label: str
    term: Term | None = None
    month: str | None = None  # "YYYY-MM" when a month was chosen


def _month(value: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None


def _range(terms: list[Term], term_id: int | None, month: str | None, default_term: Term | None) -> Range:
    """A chosen term (among `terms`), else a chosen month, else `default_term`, else this month."""
    term = next((t for t in terms if t.id == term_id), None)
    first_of = _month(month)
    if term is None and first_of is None:
        term = default_term
    if term is not None:
        return Range(term.starts_on, term.ends_on, term.name, term=term)
    first, last = month_bounds(first_of or local_today())
    return Range(first, last, format_date(first, "MMMM y"), month=first.strftime("%Y-%m"))


def _scale(top) -> int:
    """A round maximum for the chart's axis, at least `top`, in four whole steps."""
    for candidate in (4, 8, 12, 16, 20, 24, 32, 40, 60, 80, 100, 120, 160, 200, 400):
        if top <= candidate:
            return candidate
    return 400 * ((int(top) + 399) // 400)


def chart(weeks: list[hours.WeekHours], link) -> dict:
    """A stacked bar per week (by kind), with the geometry worked out here so that the template only writes it."""
    scale = _scale(max((w.total for w in weeks), default=0) or 1)
    slot = PLOT_W / max(len(weeks), 1)
    plot_h = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for index, week in enumerate(weeks):
        y, parts = float(PLOT_BOTTOM), []
        for kind in hours.KINDS:
            periods = week.by_kind.get(kind)
            if periods:
                height = plot_h * float(periods) / scale
                y -= height
                parts.append({"kind": kind, "periods": periods, "y": f"{y:.1f}", "h": f"{height:.1f}"})
        bars.append({"week": week.week, "total": week.total, "parts": parts, "href": link(week.week),
                     "x": f"{PLOT_X + slot * (index + 0.15):.2f}%", "w": f"{slot * 0.7:.2f}%",
                     "mid": f"{PLOT_X + slot * (index + 0.5):.2f}%", "label": format_date(week.week, "M/d"),
                     "show_label": len(weeks) <= 12 or index % 2 == 0})
    ticks = [{"value": scale * step // 4, "y": f"{PLOT_BOTTOM - plot_h * step / 4:.1f}"} for step in range(5)]
    return {"bars": bars, "ticks": ticks, "height": CHART_H, "axis_y": PLOT_BOTTOM, "colours": COLOURS,
            "plot_x": f"{PLOT_X}%", "plot_end": f"{PLOT_X + PLOT_W}%"}


def weekday_label(weekday: int) -> str:
    """The short name of an ISO weekday in the current language (Mon, 周一 …)."""
    return format_date(date(2024, 1, weekday), "EEE")  # 1 January 2024 was a Monday


def _own_staff() -> StaffMember | None:
    return db.session.scalar(sa.select(StaffMember).where(StaffMember.user_id == current_user.id))


def _own_lessons(staff: StaffMember, first: date, last: date, kind: str | None) -> list[Lesson]:
    stmt = sa.select(Lesson).where(Lesson.taught_by_id == staff.id, Lesson.day >= first, Lesson.day <= last,
                                   Lesson.kind != LessonKind.CANCELLED)
    if kind in hours.KINDS:
        stmt = stmt.where(Lesson.kind == kind)
    return list(db.session.scalars(stmt.order_by(Lesson.day, Lesson.period)))


def _timetable(staff: StaffMember, term: Term | None) -> dict[tuple[int, int], TimetableSlot]:
    if term is None:
        return {}
    slots = db.session.scalars(sa.select(TimetableSlot).where(TimetableSlot.term_id == term.id,
                                                              TimetableSlot.staff_id == staff.id))
    return {(s.weekday, s.period): s for s in slots}


def _listing(staff: StaffMember, span: Range) -> dict | None:
    """The lessons behind a figure: one week's (`week`), or the range's of one kind (`kind`)."""
    kind = request.args.get("kind") if request.args.get("kind") in hours.KINDS else None
    try:
        week = iso_week_start(date.fromisoformat(request.args["week"])) if request.args.get("week") else None
    except ValueError:
        week = None
    if week is None and kind is None:
        return None
    first, last = (max(week, span.first), min(week + timedelta(days=6), span.last)) if week else (span.first, span.last)
    return {"week": week, "kind": kind, "first": first, "last": last,
            "lessons": _own_lessons(staff, first, last, kind) if first <= last else []}


@bp.get("/my-hours")
@requires("teaching.view_own")
def my_hours():
    """The teacher's own periods: by week for a term (the current one unless chosen) or a month, totals by kind,
    the lessons behind each figure and their weekly timetable."""
    staff = _own_staff()
    if staff is None:
        return render_template("teaching/my_hours.html", staff=None)
    terms = list(db.session.scalars(sa.select(Term).where(Term.school_id == staff.school_id)
                                    .order_by(Term.starts_on.desc())))
    today = local_today()
    current = term_of(staff.school_id, today) or next((t for t in terms if t.starts_on <= today), None)
    span = _range(terms, request.args.get("term", type=int), request.args.get("month"), current)
    # what was taught: up to today (the ledger's later lessons are the plan, not hours yet)
    taught_until = min(span.last, today)
    weeks = hours.my_hours(staff, span.first, taught_until) if span.first <= taught_until else []
    keep = {"term": span.term.id} if span.term else {"month": span.month}
    month_first, month_last = month_bounds(_month(span.month) or min(max(today, span.first), span.last))
    month_totals = hours.overall(hours.hours_frame(hours.Filter(staff_ids=(staff.id,)), month_first,
                                                   min(month_last, today), by_day=False)).get(staff.id, {}) \
        if month_first <= today else {}
    return render_template(
        "teaching/my_hours.html", staff=staff, terms=terms, span=span, weeks=weeks, keep=keep,
        chart=chart(weeks, lambda w: url_for(".my_hours", week=w.isoformat(), **keep, _anchor="lessons")),
        range_totals=hours.sum_kinds(weeks), month_totals=month_totals, month_first=month_first,
        listing=_listing(staff, span), labels=kind_labels(), kinds=hours.KINDS, colours=COLOURS,
        slots=_timetable(staff, span.term or current), timetable_term=span.term or current, weekday_label=weekday_label,
        taught_until=taught_until, today=today)


# --- the overview for admins and heads ------------------------------------------------------------------------


def units_for(user) -> list[OrgUnit]:
    """The active schools and departments in the user's scope, each school followed by its departments."""
    stmt = sa.select(OrgUnit).where(OrgUnit.kind.in_([OrgUnitKind.SCHOOL, OrgUnitKind.DEPARTMENT]),
                                    OrgUnit.is_active.is_(True), in_scope(user, OrgUnit))
    units = list(db.session.scalars(stmt))
    schools = sorted((u for u in units if u.kind == OrgUnitKind.SCHOOL), key=lambda u: (u.name, u.id))
    ordered = []
    for school in schools:
        ordered += [school, *sorted((u for u in units if u.parent_id == school.id), key=lambda u: u.name)]
    return ordered + [u for u in units if u not in ordered]


def _school_of(unit: OrgUnit) -> int:
    return unit.id if unit.kind == OrgUnitKind.SCHOOL else unit.parent_id


def _overview():
    """The filter form, the unit, the range and the rows the overview and its export share."""
    units = units_for(actor())
    form = forms.HoursFilterForm(request.args)
    form.validate()
    unit = next((u for u in units if u.id == form.unit.data), units[0] if units else None)
    if unit is not None:
        authorize("teaching.view", unit)
    terms = list(db.session.scalars(sa.select(Term).where(Term.school_id == _school_of(unit))
                                    .order_by(Term.starts_on.desc()))) if unit else []
    span = _range(terms, form.term.data, form.month.data, None)
    form.unit.choices = [SelectChoice(u.id, u.name if u.kind == OrgUnitKind.SCHOOL else f"— {u.name}") for u in units]
    form.unit.data = unit.id if unit else None
    form.term.choices = [SelectChoice("", "—")] + [SelectChoice(t.id, t.name) for t in terms]
    form.month.data = span.month or ""
    sort = form.sort.data if form.sort.data in ("name", "total") else "name"
    rows = hours.department_overview(unit, span.first, span.last, sort=sort) if unit else []
    return form, unit, span, rows, sort


@bp.get("/hours", endpoint="hours")
@requires("teaching.view")
def hours_overview():
    """Periods per teacher of a school or department for a month (this one unless chosen) or a term, by kind."""
    form, unit, span, rows, sort = _overview()
    args = {k: v for k, v in request.args.items() if k in ("unit", "month", "term", "sort")}
    return render_template("teaching/hours.html", form=form, unit=unit, span=span, rows=rows, sort=sort,
                           totals=hours.sum_kinds(rows), labels=kind_labels(), kinds=hours.KINDS,
                           can_export=can(actor(), "exports.run"), export_args=args)


def _export_rows(rows: list[hours.TeacherHours], unit: OrgUnit, span: Range):
    for row in rows:
        yield [row.employee_number, row.name, unit.name if unit.kind == OrgUnitKind.SCHOOL else unit.parent.name,
               row.department, span.first, span.last, *(row.by_kind.get(k, hours.ZERO) for k in hours.KINDS),
               row.total]


@bp.get("/hours/export.<fmt>")
@requires("teaching.view")
@fresh_login_required
def hours_export(fmt: str):
    """The overview as CSV or Excel (every cell neutralised); audited."""
    if fmt not in FORMATS or not can(actor(), "exports.run"):
        abort(404 if fmt not in FORMATS else 403)
    _form, unit, span, rows, _sort = _overview()
    if unit is None:
        abort(404)
    labels = kind_labels()
    header = [_("Employee number"), _("Name"), _("School"), _("Department"), _("From"), _("To"),
              *(labels[k] for k in hours.KINDS), _("Total periods")]
    data = list(_export_rows(rows, unit, span))
    content = csv_bytes(header, data) if fmt == "csv" else xlsx_bytes(header, data, title=EXPORT_KIND)
    record("exports.downloaded", subject_type="Export", subject_id=EXPORT_KIND, actor=actor(), unit=unit,
           changes={"kind": EXPORT_KIND, "format": fmt, "rows": len(data), "unit": unit.code,
                    "from": span.first.isoformat(), "to": span.last.isoformat()})
    db.session.commit()
    return download(content, f"{EXPORT_KIND}-{unit.code}-{span.first.isoformat()}.{fmt}", fmt)
