"""Forms of the teaching pages: shape only; the rules (dates, clashes, assignments, scope) live in services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.core.form_filters import optional_int
from app.core.form_filters import strip as _strip
from app.core.form_filters import version as _version

# --- calendar and timetable ------------------------------------------------------------------------------


def weekday_choices(blank=None) -> list[SelectChoice]:
    """Monday … Sunday as select choices (ISO numbers), after an optional blank."""
    from app.school.teaching.services.timetable import WEEKDAY_NAMES

    return ([SelectChoice("", blank)] if blank is not None else []) + [
        SelectChoice(number, name) for number, name in WEEKDAY_NAMES.items()]


class TermForm(FlaskForm):
    school = SelectField(_l("School"), coerce=optional_int, validators=[InputRequired()])
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)],
                       description=_l("For example “2026-2027 autumn term” (第一学期)."))
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[InputRequired()])
    cover_window_days = IntegerField(_l("Cover fairness window (school days)"), default=10,
                                     validators=[InputRequired(), NumberRange(min=1, max=60)],
                                     description=_l("When covers are suggested, colleagues with the fewest covers "
                                                    "over this many school days come first."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))


class EditTermForm(TermForm):
    """A term keeps its school."""

    school = None


class ClosureForm(FlaskForm):
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)],
                       description=_l("For example “National Day holiday” or “Make-up day for National Day”."))
    follows_weekday = SelectField(_l("Kind"), coerce=optional_int, validate_choice=False,
                                  description=_l("A make-up day (调休) is a single day taught with another weekday's "
                                                 "timetable, such as a Saturday taught as a Friday."))
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[Optional()],
                        description=_l("Leave empty for a single day."))
    submit = SubmitField(_l("Add"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follows_weekday.choices = [SelectChoice("", _l("Holiday or closure: no lessons"))] + [
            SelectChoice(c.value, _l("Make-up day taught as %(day)s", day=c.label))
            for c in weekday_choices()]


class SlotForm(FlaskForm):
    weekday = SelectField(_l("Weekday"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    period = SelectField(_l("Period"), coerce=optional_int, validate_choice=False, validators=[InputRequired()],
                         choices=[SelectChoice(n, str(n)) for n in range(1, 13)])
    class_id = SelectField(_l("Class"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    subject_id = SelectField(_l("Subject"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    staff_id = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weekday.choices = weekday_choices()


class TimetableFilterForm(FlaskForm):
    """Whose week the timetable page shows: one class or one teacher."""

    class Meta:
        csrf = False

    class_id = SelectField(_l("Class"), coerce=optional_int, validate_choice=False)
    staff_id = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False)


class ConfirmForm(FlaskForm):
    """A bare POST form (CSRF token and a button) that carries the version of the row the page showed."""

    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))
