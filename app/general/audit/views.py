"""The admin's audit viewer: filters, pagination, CSV export."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.navigation import register_nav
from app.core.spreadsheets import csv_bytes
from app.extensions import db
from app.general.audit import queries, services
from app.general.audit.forms import AuditFilterForm
from app.general.auth.policy import requires
from app.general.auth.sessions import fresh_login_required

bp = Blueprint("audit", __name__, url_prefix="/audit")
register_nav("audit.view", "audit.index", _l("Audit log"), order=95, group="admin")

EXPORT_LIMIT = 100_000


def _filter_from_request() -> tuple[AuditFilterForm, queries.AuditFilter]:
    form = AuditFilterForm(request.args)
    form.subject_type.choices = [("", _l("Any"))] + [(t, t) for t in queries.subject_types()]
    if not form.validate():
        return form, queries.AuditFilter(date_from=None, date_to=None)
    return form, queries.AuditFilter(
        actor=form.actor.data or "", action=form.action.data or "", subject_type=form.subject_type.data or "",
        subject_id=form.subject_id.data or "", date_from=form.date_from.data, date_to=form.date_to.data,
    )


@bp.get("/")
@requires("audit.view")
def index():
    """Filtered, paginated list of events within the admin's reach."""
    form, audit_filter = _filter_from_request()
    stmt = queries.visible_to(current_user, queries.filtered_events(audit_filter))
    page = db.paginate(stmt, per_page=50, error_out=False)
    return render_template("audit/index.html", form=form, page=page)


@bp.get("/export.csv")
@requires("audit.export")
@fresh_login_required
def export_csv():
    """The filtered events as CSV (cells neutralised against formula injection); the export is audited."""
    _form, audit_filter = _filter_from_request()
    stmt = queries.visible_to(current_user, queries.filtered_events(audit_filter)).limit(EXPORT_LIMIT)
    events = list(db.session.scalars(stmt))
    services.record("audit.exported", changes={"rows": len(events), "filter": request.args.to_dict()})
    db.session.commit()
    header = ["seq", "at", "actor", "ip", "request_id", "action", "subject_type", "subject_id", "changes", "hash"]
    rows = (
        [e.seq, e.at.isoformat(), e.actor_label, e.ip, e.request_id, e.action, e.subject_type, e.subject_id,
         services.canonical_changes(e), e.hash]
        for e in events
    )
    return Response(
        csv_bytes(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
