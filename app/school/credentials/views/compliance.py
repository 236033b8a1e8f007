"""Compliance for admins and heads: per school and across schools, a chart, the problem list, its export."""
from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from app.core.navigation import register_nav
from app.extensions import db
from app.general.auth.policy import can, requires
from app.general.auth.sessions import fresh_login_required
from app.school.credentials import reports
from app.school.credentials.views import bp
from app.school.imports_kinds import FORMATS, build_export
from app.school.imports_views import chosen_school, download
from app.school.staff.queries import local_today

register_nav("compliance.view", "credentials.compliance", _l("Compliance"), order=45, group="credentials")

PER_PAGE = 25  # as the staff list
FRAGMENTS_KEPT = 64
EXPORT_KIND = "credential_compliance"


def _filters() -> reports.Filters:
    """The list's filters from the query string; anything unknown is ignored."""
    problem = request.args.get("problem", "")
    return reports.Filters(school_id=request.args.get("school", type=int) or None,
                           type_id=request.args.get("type", type=int) or None,
                           problem=problem if problem in reports.FILTERS else "")


PLOT_X, PLOT_W = 16, 70  # percent of the chart's width (templates/credentials/compliance_chart.html)


def _legend() -> dict[str, str]:
    return {reports.OK: str(_l("Compliant")), **{k: str(v) for k, v in reports.PROBLEM_LABELS.items()}}


def _chart(compliance: reports.Compliance) -> list[dict]:
    """One stacked bar per school: its staff by their worst problem, as shares of 100 (geometry worked out here,
    so that the template only writes it out)."""
    bars = []
    for school in compliance.schools:
        x, parts = float(PLOT_X), []
        for problem in reversed(reports.SEVERITY):
            count = school.worst.get(problem, 0)
            if count:
                width = PLOT_W * count / school.staff
                parts.append({"problem": problem, "count": count, "x": f"{x:.2f}%", "w": f"{width:.2f}%"})
                x += width
        bars.append({"label": school.code, "name": school.name, "parts": parts, "percent": school.percent,
                     "href": url_for(".compliance", school=school.school_id) + "#problems"})
    return bars


_fragments: dict = {}  # (summary key, locale) -> rendered summary


def _summary_html(result: reports.Compliance) -> Markup:
    """The cards, chart and table per school, rendered once per data version, scope and language."""
    key = (result.summary_key, str(get_locale())) if result.summary_key is not None else None
    if key is not None and key in _fragments:
        return _fragments[key]
    html = render_template("credentials/compliance_summary.html", result=result, bars=_chart(result), legend=_legend())
    html = Markup(html)  # noqa: S704 (a template's output: Jinja escaped every value in it)
    if key is not None:
        if len(_fragments) >= FRAGMENTS_KEPT:
            _fragments.clear()
        _fragments[key] = html
    return html


@bp.get("/compliance")
@requires("compliance.view")
def compliance():
    """Who holds the credentials their work requires: summaries, a chart per school, the filterable list."""
    filters = _filters()
    result = reports.compliance_for(current_user, local_today(), filters)
    page = result.page(request.args.get("page", 1, type=int), PER_PAGE)
    return render_template("credentials/compliance.html", result=result, page=page, filters=filters,
                           summary=_summary_html(result), problems=reports.FILTER_LABELS, labels=_legend(),
                           can_export=can(current_user, "exports.run"),
                           export_args={k: v for k, v in request.args.items() if k in ("school", "type", "problem")})


@bp.get("/compliance/export.<fmt>")
@requires("compliance.view")
@fresh_login_required
def compliance_export(fmt: str):
    """The filtered list as CSV or Excel (the user's scopes only, every cell neutralised); audited."""
    if fmt not in FORMATS or not can(current_user, "exports.run"):
        abort(404 if fmt not in FORMATS else 403)
    filters = _filters()
    extra = {"problem": filters.problem, "type_id": filters.type_id}
    content, filename = build_export(EXPORT_KIND, fmt, current_user._get_current_object(), chosen_school(),
                                     filters={k: v for k, v in extra.items() if v})
    db.session.commit()
    return download(content, filename, fmt)
