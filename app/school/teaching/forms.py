"""Forms of the teaching pages: shape only; the rules (dates, clashes, assignments, scope) live in services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
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
    subject_id = SelectField(_lp("school subject", "Subject"), coerce=optional_int, validate_choice=False,
                             validators=[InputRequired()])
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


class GenerateForm(FlaskForm):
    """Regenerate the term's lessons from a day on (today unless chosen): the past stays as it was taught."""

    from_day = DateField(_l("Apply changes from"), validators=[Optional()],
                         description=_l("Lessons before this day are left as they are. Choose an earlier day to "
                                        "bring back the lessons of a holiday removed by mistake, for example."))
    submit = SubmitField(_l("Generate lessons"))


# --- ledger, covers and hours --------------------------------------------------------------------------------


class LedgerFilterForm(FlaskForm):
    """Which lessons the ledger lists: a school, a date range, and optionally a teacher, a class or a kind."""

    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    first = DateField(_l("From"), validators=[Optional()])
    last = DateField(_l("To"), validators=[Optional()])
    teacher = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False)
    school_class = SelectField(_l("Class"), coerce=optional_int, validate_choice=False)
    kind = SelectField(_l("Kind"), validate_choice=False)


class CoverForm(FlaskForm):
    """Give a lesson to a colleague (the ledger credits them)."""

    staff_id = SelectField(_l("Covering teacher"), coerce=optional_int, validate_choice=False,
                           validators=[InputRequired()])
    reason = StringField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=300)],
                         description=_l("For example “Cover for Wang Fang (ill)”."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Assign the cover"))


class CancelLessonForm(FlaskForm):
    reason = StringField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=300)],
                         description=_l("For example “Sports day” or “Class on a study trip”."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Cancel the lesson"))


class BoardCoverForm(FlaskForm):
    """One “Assign” button of the cover screen: the lesson, the colleague, the prefilled reason."""

    lesson_id = IntegerField(validators=[InputRequired()])
    staff_id = IntegerField(validators=[InputRequired()])
    reason = StringField(filters=[_strip], validators=[Optional(), Length(max=300)])
    version = HiddenField(filters=[_version])
    window = IntegerField(validators=[Optional()])


def period_choices(blank=None) -> list[SelectChoice]:
    """Periods 1 … 12 as select choices, after an optional blank."""
    return ([SelectChoice("", blank)] if blank is not None else []) + [SelectChoice(n, str(n)) for n in range(1, 13)]


class AddedLessonForm(FlaskForm):
    """An extra lesson, an open class, an invigilation or homeroom duties."""

    kind = SelectField(_l("Kind"), validators=[InputRequired()], validate_choice=False)
    day = DateField(_l("Date"), validators=[InputRequired()])
    period = SelectField(_l("Period"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    staff_id = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    class_id = SelectField(_l("Class"), coerce=optional_int, validate_choice=False,
                           description=_l("Required for an extra lesson and an open class."))
    subject_id = SelectField(_lp("school subject", "Subject"), coerce=optional_int, validate_choice=False)
    periods = StringField(_l("Counts for (periods)"), default="1", filters=[_strip], validators=[InputRequired()],
                          description=_l("How many periods it counts toward the teacher's hours, such as 1 or 1.5."))
    reason = StringField(_l("Note"), filters=[_strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Add"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.period.choices = period_choices()


class AbsenceForm(FlaskForm):
    """A teacher away on a day: all day (periods left empty) or some periods."""

    staff_id = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    day = DateField(_l("Date"), validators=[InputRequired()])
    first_period = SelectField(_l("From period"), coerce=optional_int, validate_choice=False)
    last_period = SelectField(_l("To period"), coerce=optional_int, validate_choice=False)
    reason = StringField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=300)],
                         description=_l("Seen by administrators and heads only."))
    window = HiddenField()
    submit = SubmitField(_l("Record the absence"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_period.choices = period_choices(_l("First"))
        self.last_period.choices = period_choices(_l("Last"))


class HoursFilterForm(FlaskForm):
    """Whose hours and over what: a school or department, a month or a term, and the order."""

    class Meta:
        csrf = False

    unit = SelectField(_l("School or department"), coerce=optional_int, validate_choice=False)
    month = StringField(_l("Month"), filters=[_strip], validators=[Optional(), Length(max=7)],
                        render_kw={"type": "month"})
    term = SelectField(_l("Or a whole term"), coerce=optional_int, validate_choice=False)
    sort = SelectField(_l("Order"), choices=[SelectChoice("name", _l("By name")),
                                             SelectChoice("total", _l("Most periods first"))], validate_choice=False)


# --- pay ---------------------------------------------------------------------------------------------------------


# (imported here, not at the top: each section of this file keeps to its own lines)
from wtforms import BooleanField as _BooleanField  # noqa: E402
from wtforms import FieldList as _FieldList  # noqa: E402
from wtforms import Form as _Form  # noqa: E402
from wtforms import FormField as _FormField  # noqa: E402
from wtforms import TextAreaField as _TextAreaField  # noqa: E402

MULTIPLIER_ROWS = 4


class MultiplierRowForm(_Form):
    """One multiplier of a scheme: a factor for lessons whose class size or grade lies in [low, high]."""

    basis = SelectField(_l("Basis"), validate_choice=False,
                        choices=[SelectChoice("class_size", _l("Class size")), SelectChoice("grade", _l("Grade"))])
    low = StringField(_l("From"), filters=[_strip], validators=[Optional(), Length(max=10)])
    high = StringField(_l("To"), filters=[_strip], validators=[Optional(), Length(max=10)])
    factor = StringField(_l("Factor"), filters=[_strip], validators=[Optional(), Length(max=10)])


class SchemeForm(FlaskForm):
    """A dated pay scheme of one school. The amounts are checked by the service (errors come back per field); a rate
    field is added for each paid lesson kind (`rate_<kind>`) by `scheme_form`."""

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)],
                       description=_l("For example “2026 performance pay scheme”."))
    effective_from = DateField(_l("Applies from"), validators=[InputRequired()],
                               description=_l("Lessons from this day on are paid under this scheme; earlier ones "
                                              "keep the scheme before it."))
    standard_monthly_periods = StringField(_l("Standard load (periods per month)"), filters=[_strip],
                                           validators=[InputRequired(), Length(max=10)],
                                           description=_l("Periods above this load earn the overtime premium."))
    overtime_rate = StringField(_l("Overtime premium per period (¥)"), filters=[_strip],
                                validators=[InputRequired(), Length(max=14)])
    homeroom_allowance = StringField(_l("Homeroom allowance per month (¥)"), filters=[_strip],
                                     validators=[InputRequired(), Length(max=14)])
    point_value = StringField(_l("Value of a bonus point (¥)"), filters=[_strip],
                              validators=[InputRequired(), Length(max=14)])
    multipliers = _FieldList(_FormField(MultiplierRowForm), min_entries=MULTIPLIER_ROWS,
                             max_entries=MULTIPLIER_ROWS)
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save the scheme"))


def scheme_form(kinds: dict[str, str], *, with_school: bool, **kwargs) -> SchemeForm:
    """A SchemeForm with one rate field per paid kind (`kinds`: kind → label), without the school once chosen."""

    class _Scheme(SchemeForm):
        pass

    for kind, label in kinds.items():
        setattr(_Scheme, f"rate_{kind}", StringField(_l("Rate per period: %(kind)s (¥)", kind=label),
                                                     filters=[_strip], validators=[InputRequired(), Length(max=14)]))
    if not with_school:
        _Scheme.school = None
    return _Scheme(**kwargs)


class BonusTypeForm(FlaskForm):
    """An entry of a school's bonus catalogue: an amount or points, an optional monthly cap."""

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    code = StringField(_l("Code"), filters=[_strip], validators=[InputRequired(), Length(max=20)],
                       description=_l("A short code, e.g. OPEN or PAPER."))
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)],
                       description=_l("For example “Open class”, “Published paper”, “Competition coaching”."))
    amount = StringField(_l("Amount (¥)"), filters=[_strip], validators=[Optional(), Length(max=14)],
                         description=_l("A fixed amount …"))
    points = StringField(_l("Points"), filters=[_strip], validators=[Optional(), Length(max=14)],
                         description=_l("… or a number of points, valued by the scheme in effect on the day it "
                                        "was earned. Fill in one of the two."))
    monthly_cap = StringField(_l("Monthly cap per teacher (¥)"), filters=[_strip],
                              validators=[Optional(), Length(max=14)],
                              description=_l("Leave empty for no cap."))
    is_active = _BooleanField(_l("In use (can be proposed)"), default=True)
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))


class EditBonusTypeForm(BonusTypeForm):
    """A catalogue entry keeps its school."""

    school = None


class ProposeBonusForm(FlaskForm):
    staff_id = SelectField(_l("Teacher"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    bonus_type_id = SelectField(_l("Bonus"), coerce=optional_int, validate_choice=False,
                                validators=[InputRequired()])
    earned_on = DateField(_l("Achieved on"), validators=[InputRequired()])
    description = _TextAreaField(_l("What was achieved"), filters=[_strip],
                                 validators=[InputRequired(), Length(max=500)])
    evidence = StringField(_l("Evidence"), filters=[_strip], validators=[InputRequired(), Length(max=500)],
                           description=_l("A link, a document reference or a certificate number."))
    submit = SubmitField(_l("Propose"))


class DecisionForm(FlaskForm):
    """A head's decision on a proposed bonus, with a note (required to reject)."""

    note = _TextAreaField(_l("Note"), filters=[_strip], validators=[Optional(), Length(max=300)])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))


class AwardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validate_choice=False, choices=[
        SelectChoice("", _l("All")), SelectChoice("proposed", _l("Waiting for a decision")),
        SelectChoice("approved", _l("Approved")), SelectChoice("rejected", _l("Not approved"))])
    month = StringField(_l("Month"), filters=[_strip], validators=[Optional(), Length(max=7)])


class OpenRunForm(FlaskForm):
    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False, validators=[InputRequired()])
    month = StringField(_l("Month"), filters=[_strip], validators=[InputRequired(), Length(max=7)])
    submit = SubmitField(_l("Open the run"))


class MonthForm(FlaskForm):
    """Every school's run of a month, calculated at once (the payroll office's month)."""

    month = StringField(_l("Month"), filters=[_strip], validators=[InputRequired(), Length(max=7)])
    submit = SubmitField(_l("Calculate every school"))


class RunStepForm(FlaskForm):
    """A step of a pay run (calculate, approve, lock): the version of the run the page showed."""

    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))


class RunReasonForm(FlaskForm):
    """Send an approved run back, or start a correction of a locked one: why."""

    reason = _TextAreaField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=300)])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))
