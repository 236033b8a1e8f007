"""Forms of the departure case pages (board, new case, case page, the teacher's own case and resignation): shape
only; the rules (notice, waiver, guards, who may tick what) live in the services. The plan, notice and template
forms are in forms_plan.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from app.core.form_filters import optional_int
from app.core.form_filters import strip as _strip
from app.core.form_filters import version as _version
from app.school.offboarding.models import BlockerKind, DepartureKind, ItemOwner

REASON_MAX = 500
PRIVATE_REASON_MAX = 2000


def kind_choices() -> list[SelectChoice]:
    from app.school.offboarding.services.cases import kind_label

    return [SelectChoice(k.value, kind_label(k.value).capitalize()) for k in DepartureKind]


def owner_choices() -> list[SelectChoice]:
    from app.school.offboarding.services.checklist import owner_label

    return [SelectChoice(o.value, owner_label(o.value).capitalize()) for o in ItemOwner]


def blocker_choices() -> list[SelectChoice]:
    from app.school.offboarding.services.checklist import blocker_label

    return [SelectChoice(k.value, blocker_label(k.value).capitalize()) for k in BlockerKind]


# --- opening a case --------------------------------------------------------------------------------------------


class NewCaseForm(FlaskForm):
    staff_id = SelectField(_l("Staff member"), coerce=optional_int, validate_choice=False,
                           validators=[InputRequired(_l("Choose who is leaving."))])
    kind = SelectField(_l("Kind of departure"), validate_choice=False,
                       validators=[InputRequired(_l("Choose the kind of departure."))])
    last_working_day = DateField(_l("Last working day"), validators=[Optional()],
                                 description=_l("The notice rule decides the earliest day; an earlier one needs a "
                                                "waiver with its reason."))
    waiver_reason = StringField(_l("Why the notice is waived (only for an earlier last day)"), filters=[_strip],
                                validators=[Optional(), Length(max=REASON_MAX)],
                                description=_l("For example “agreed with the head on 3 December”. Leave empty when "
                                               "the last day respects the notice."))
    private_reason = TextAreaField(_l("Reason for leaving (private)"), filters=[_strip],
                                   validators=[Optional(), Length(max=PRIVATE_REASON_MAX)],
                                   render_kw={"rows": 3},
                                   description=_l("Seen only by the school office and the heads; never by parents "
                                                  "or colleagues, never in a notice."))
    check = SubmitField(_l("Check the notice"))
    submit = SubmitField(_l("Open the departure"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("Choose…"))] + kind_choices()


class ResignForm(FlaskForm):
    last_working_day = DateField(_l("My last working day"), validators=[Optional()])
    private_reason = TextAreaField(_l("Why I am leaving (optional, private)"), filters=[_strip],
                                   validators=[Optional(), Length(max=PRIVATE_REASON_MAX)], render_kw={"rows": 3},
                                   description=_l("Only the school office and the head see this. It is never shown "
                                                  "to parents or colleagues and never appears in any notice."))
    submit = SubmitField(_l("Hand in my resignation"))


# --- steps of a case (each carries the version the page showed) ------------------------------------------------


class StepForm(FlaskForm):
    """A step without input (start the handover, settle, close)."""

    version = HiddenField(filters=[_version])


class NoteForm(StepForm):
    """The head's approval with an optional note."""

    note = StringField(_l("Note (optional)"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])


class RejectForm(StepForm):
    """The head's rejection (the reason is required: the service says so at the field)."""

    note = StringField(_l("Why it is rejected"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])


class RevokeForm(StepForm):
    """Access ended early (the reason is required: the service says so at the field)."""

    note = StringField(_l("Why access ends early"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])


class ReasonForm(StepForm):
    """A withdrawal (reason optional)."""

    reason = StringField(_l("Reason (optional)"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])


class LastDayForm(StepForm):
    last_working_day = DateField(_l("New last working day"), validators=[Optional()])
    waiver_reason = StringField(_l("Why the notice is waived (only for a day before the earliest)"),
                                filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])


# --- checklist and blockers ----------------------------------------------------------------------------------


class TickForm(StepForm):
    """Tick a checklist item off (the item's version)."""

    evidence = StringField(_l("Evidence"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)],
                           description=_l("What was returned or done, and where it is now."))
    amount = StringField(_l("Amount settled"), filters=[_strip], validators=[Optional(), Length(max=20)],
                         description=_l("Positive when the school paid the person, negative when the person paid "
                                        "the school, 0.00 when nothing was owed."))


class ReopenForm(StepForm):
    reason = StringField(_l("Why it is open again"), filters=[_strip],
                         validators=[Optional(), Length(max=REASON_MAX)])


class AddItemForm(FlaskForm):
    title = StringField(_l("What must be done"), filters=[_strip], validators=[Optional(), Length(max=200)])
    owner = SelectField(_l("Who does it"), validate_choice=False)
    is_money = BooleanField(_l("Money item (an amount is settled)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner.choices = owner_choices()


class BlockerForm(FlaskForm):
    kind = SelectField(_l("Kind"), validate_choice=False)
    description = StringField(_l("What is open"), filters=[_strip], validators=[Optional(), Length(max=REASON_MAX)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = blocker_choices()


class ResolveForm(StepForm):
    resolution = StringField(_l("How it was resolved"), filters=[_strip],
                             validators=[Optional(), Length(max=REASON_MAX)])


# --- the board -------------------------------------------------------------------------------------------------


class BoardFilterForm(FlaskForm):
    """The board's filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    state = SelectField(_l("State"), validate_choice=False)
    q = StringField(_l("Name or number"), filters=[_strip], validators=[Optional(), Length(max=100)])
