"""Blockers raised against a person at any time (from their profile), with or without a departure under way."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.core.errors import DomainError
from app.core.views import actor, form_page, show_errors
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.school.offboarding.models import BlockerKind
from app.school.offboarding.services import checklist
from app.school.offboarding.views import bp
from app.school.staff.models import StaffMember


class PersonBlockerForm(FlaskForm):
    kind = SelectField(_l("What is open"), choices=[])
    description = TextAreaField(_l("Details"), validators=[DataRequired(), Length(max=500)])


def _form() -> PersonBlockerForm:
    form = PersonBlockerForm()
    form.kind.choices = [(k.value, checklist.blocker_label(k.value)) for k in BlockerKind]
    return form


@bp.route("/staff/<int:staff_id>/blockers/new", methods=["GET", "POST"])
@requires("departures.blockers")
def raise_person_blocker(staff_id: int):
    """Raise a blocker against a person (an open complaint, an unreturned laptop): it holds their departure's
    settlement until resolved."""
    staff = db.get_or_404(StaffMember, staff_id)
    authorize("departures.blockers", staff)
    form = _form()
    back = url_for("staff.profile", staff_id=staff.id)
    if form.validate_on_submit():
        try:
            checklist.raise_blocker(staff, kind=form.kind.data, description=form.description.data, actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("Blocker recorded: it holds %(name)s's departure until it is resolved.", name=staff.full_name),
                  "success")
            return redirect(back)
    return form_page("offboarding/person_blocker.html", form, title=_("Raise a blocker: %(name)s",
                                                                       name=staff.full_name),
                     back_url=back, back_label=_("Back to the profile"),
                     intro=_("A blocker is anything that must be resolved before the person's departure can be "
                             "settled: an open parent complaint or dispute, an unreturned asset, money owed."))
