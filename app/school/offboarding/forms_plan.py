"""Forms of the reassignment plan, the parents' notice and its deliveries, the parent's notice page and the
checklist templates: shape only; the rules (dates, qualifications, clashes, states) live in the services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.core.form_filters import optional_int
from app.core.form_filters import strip as _strip
from app.core.form_filters import version as _version
from app.school.offboarding.forms import owner_choices
from app.school.offboarding.services.checklist import TITLE_MAX
from app.school.offboarding.services.plan import OVERRIDE_MAX, WORDING_MAX

# --- the reassignment plan -----------------------------------------------------------------------------------


class VersionForm(FlaskForm):
    """A bare POST form (CSRF token and a button) that carries the version of the case the page showed."""

    version = HiddenField(filters=[_version])


class EffectiveDayForm(VersionForm):
    effective_on = DateField(_l("First day of the new teachers"), validators=[InputRequired()],
                             description=_l("From this day the new teachers take the classes, and the lessons from "
                                            "then on move to them. At the latest the day after the last working "
                                            "day."))


class ChooseForm(VersionForm):
    """One “Choose” of the plan: the assignment, the colleague (blank clears the choice), an optional reason."""

    assignment_id = IntegerField(validators=[InputRequired()])
    staff_id = SelectField(_l("Another colleague"), coerce=optional_int, validate_choice=False,
                           validators=[Optional()])
    override_reason = StringField(_l("Reason, if not qualified"), filters=[_strip],
                                  validators=[Optional(), Length(max=OVERRIDE_MAX)],
                                  description=_l("Needed when the colleague lacks a credential the subject "
                                                 "requires; it is kept in the audit log."))


class WordingForm(VersionForm):
    wording_en = TextAreaField(_l("Opening in English"), filters=[_strip],
                               validators=[Optional(), Length(max=WORDING_MAX)], render_kw={"rows": 4})
    wording_zh = TextAreaField(_l("Opening in Chinese"), filters=[_strip],
                               validators=[Optional(), Length(max=WORDING_MAX)], render_kw={"rows": 4})


# --- deliveries ------------------------------------------------------------------------------------------------


class NotifiedForm(VersionForm):
    accept_failed = BooleanField(_l("Go on without the failed deliveries"))


# --- checklist templates ---------------------------------------------------------------------------------------


class TemplateItemForm(FlaskForm):
    """A line of a role's checklist template (new, or edited in place)."""

    title = StringField(_l("What must be done"), filters=[_strip],
                        validators=[InputRequired(), Length(max=TITLE_MAX)])
    owner = SelectField(_l("Done by"), validate_choice=False, validators=[InputRequired()])
    is_money = BooleanField(_l("Money item (an amount owed either way)"))
    position = IntegerField(_l("Position"), validators=[Optional(), NumberRange(min=0, max=10000)],
                            description=_l("Lines are listed by position, smallest first."))
    is_active = BooleanField(_l("In use"), default=True)
    role = HiddenField()
    version = HiddenField(filters=[_version])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner.choices = owner_choices()
