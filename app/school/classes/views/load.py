"""Teachers' weekly load: periods used against each teacher's maximum, as a chart and a table."""
from __future__ import annotations

from flask import abort, render_template, request, url_for

from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.general.org.models import OrgUnit
from app.school.classes import forms, queries
from app.school.classes.views import bp
from app.school.classes.views.common import actor, school_choices


@bp.get("/load")
@requires("assignments.manage")
def load():
    """The load of every current teacher of one school on a day (today unless chosen), fullest first."""
    user = actor()
    form = forms.LoadFilterForm(request.args)
    form.school.choices = school_choices(user)
    valid = form.validate()
    school_id = (form.school.data if valid else None) or (form.school.choices[0].value if form.school.choices else None)
    on = (form.on.data if valid else None) or queries.local_today()
    sort = form.sort.data if valid and form.sort.data in ("load", "name") else "load"
    rows, school = [], None
    if school_id is not None:
        school = db.session.get(OrgUnit, school_id) or abort(404)
        authorize("assignments.manage", school)
        rows = queries.load_overview(user, school.id, on, sort=sort)
    form.school.data, form.on.data, form.sort.data = school_id, on, sort
    bars = [{"label": row.name, "value": row.used, "maximum": row.maximum,
             "href": url_for("staff.profile", staff_id=row.staff_id)} for row in rows]
    return render_template("classes/load.html", form=form, rows=rows, bars=bars, school=school, on=on)
