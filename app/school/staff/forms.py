"""Forms of the staff pages: shape only; the rules (scope, uniqueness, dates) live in services.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, Select

from app.core.form_filters import strip as _strip
from app.general.org.models import OrgUnit
from app.school.staff import services
from app.school.staff.models import StaffStatus

NO_UNIT = ""

STATUS_LABELS = {
    StaffStatus.ACTIVE: _l("Active"),
    StaffStatus.ON_NOTICE: _l("On notice"),
    StaffStatus.DEPARTED: _l("Departed"),
}


def _optional_int(value):
    """Coerce a select value: blank means "none", anything else must be a whole number."""
    if value in (None, "", "None"):
        return None
    return int(value)



class EmailRules:
    """The service's own e-mail check, so the form and the service never disagree."""

    def __call__(self, form, field):
        _address, problem = services.check_email(field.data)
        if problem:
            raise ValidationError(problem)


def language_choices() -> list[SelectChoice]:
    return [SelectChoice("zh", "简体中文"), SelectChoice("en", "English")]


class LongSelect(Select):
    """wtforms' Select, with a cheaper renderer for plain options (the same HTML): the district's ~300
    departments made wtforms' generic attribute rendering a quarter of the staff list's time."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = " selected" if choice.selected else ""
        label = escape(choice.label or choice.value)
        return Markup(f'<option{selected} value="{escape(choice.value)}">{label}</option>')  # noqa: S704 (escaped)


class StaffFilterForm(FlaskForm):
    """The search and filters above the list (a GET form)."""

    class Meta:
        csrf = False

    q = SearchField(_l("Name, employee number or e-mail"), validators=[Optional(), Length(max=100)])
    school = SelectField(_l("School"), coerce=_optional_int, validators=[Optional()], widget=LongSelect())
    department = SelectField(_l("Department"), coerce=_optional_int, validators=[Optional()], widget=LongSelect())
    status = SelectField(_l("Status"), default="current", validators=[Optional()], choices=[
        SelectChoice("current", _l("Current staff")),
        *(SelectChoice(status.value, label) for status, label in STATUS_LABELS.items()),
        SelectChoice("all", _l("All")),
    ])

    def set_unit_choices(self, schools: list[OrgUnit], departments: list[tuple[int, str, str]]) -> None:
        """`departments` as (id, name, school name) rows, grouped under the school's name."""
        self.school.choices = [SelectChoice(NO_UNIT, _l("Any school")),
                               *(SelectChoice(s.id, s.name) for s in schools)]
        ordered = sorted(departments, key=lambda row: (row[2], row[1]))
        self.department.choices = [SelectChoice(NO_UNIT, _l("Any department")),
                                   *(SelectChoice(unit_id, name, optgroup=school) for unit_id, name, school in ordered)]


def department_choices(departments: list[OrgUnit]) -> list[SelectChoice]:
    """Departments grouped under their school's name."""
    ordered = sorted(departments, key=lambda d: (d.parent.name if d.parent else "", d.name))
    return [SelectChoice(d.id, d.name, optgroup=d.parent.name if d.parent else "") for d in ordered]


class StaffForm(FlaskForm):
    """Edit a staff record. The school, status and account are not edited here."""

    version = HiddenField()
    department = SelectField(_l("Department"), coerce=_optional_int, validators=[Optional()],
                             description=_l("Leave empty for staff who belong to the school as a whole."))
    employee_number = StringField(_l("Employee number"), filters=[_strip],
                                  validators=[InputRequired(), Length(max=services.EMPLOYEE_NUMBER_MAX)],
                                  description=_l("Unique within the school, such as RS1-T001."))
    family_name = StringField(_l("Family name"), filters=[_strip],
                              validators=[InputRequired(), Length(max=services.NAME_MAX)])
    given_name = StringField(_l("Given name"), filters=[_strip],
                             validators=[InputRequired(), Length(max=services.NAME_MAX)])
    email = EmailField(_l("E-mail"), filters=[_strip], validators=[Optional(), EmailRules()],
                       render_kw={"autocomplete": "off"})
    phone = TelField(_l("Mobile phone"), filters=[_strip], validators=[Optional(), Length(max=services.PHONE_MAX)])
    hired_on = DateField(_l("Hired on"), validators=[InputRequired()])
    probation_ends_on = DateField(_l("Probation ends on"), validators=[Optional()],
                                  description=_l("Leave empty when there is no probation."))
    max_weekly_periods = IntegerField(_l("Maximum weekly periods"), default=16,
                                      validators=[InputRequired(), NumberRange(min=0, max=services.MAX_PERIODS)],
                                      description=_l("The most lessons a week this person may be given (0 to 60)."))
    subjects = SelectMultipleField(_l("Subjects they may teach"), coerce=int, validators=[Optional()],
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    submit = SubmitField(_l("Save"))

    def validate_probation_ends_on(self, field) -> None:
        if field.data and self.hired_on.data and field.data < self.hired_on.data:
            raise ValidationError(_l("Probation cannot end before the hire date."))

    def set_choices(self, departments: list[OrgUnit], subjects: list) -> None:
        self.department.choices = [SelectChoice(NO_UNIT, _l("— no department —")), *department_choices(departments)]
        self.subjects.choices = [SelectChoice(s.id, s.name) for s in subjects]

    def expected_version(self) -> int:
        """The version the editor loaded; a missing or garbled one never matches (so it counts as stale)."""
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return -1

    def service_fields(self) -> dict:
        """The values handed to the staff services (only these: other posted fields are never read)."""
        return {
            "department_id": self.department.data, "employee_number": self.employee_number.data,
            "family_name": self.family_name.data, "given_name": self.given_name.data, "email": self.email.data,
            "phone": self.phone.data, "hired_on": self.hired_on.data,
            "probation_ends_on": self.probation_ends_on.data, "max_weekly_periods": self.max_weekly_periods.data,
            "subject_ids": self.subjects.data or [],
        }


class NewStaffForm(StaffForm):
    """Add a staff member: also the school, and whether to create and invite their account."""

    school = SelectField(_l("School"), coerce=_optional_int, validators=[InputRequired()])
    create_account = BooleanField(_l("Create a portal account and e-mail an invitation"))
    account_locale = SelectField(_l("Language of the invitation"), choices=language_choices())
    submit = SubmitField(_l("Add staff member"))

    def set_school_choices(self, schools: list[OrgUnit]) -> None:
        self.school.choices = [SelectChoice(NO_UNIT, _l("— choose a school —")),
                               *(SelectChoice(s.id, s.name) for s in schools)]

    def service_fields(self) -> dict:
        return {**super().service_fields(), "school_id": self.school.data,
                "create_account": bool(self.create_account.data), "account_locale": self.account_locale.data}


class CreateAccountForm(FlaskForm):
    """Create the staff member's account from their record and send the invitation."""

    locale = SelectField(_l("Language of the invitation"), choices=language_choices())
    submit = SubmitField(_l("Create account and send invitation"))


class LinkAccountForm(FlaskForm):
    """Link an existing portal account, named by its e-mail."""

    email = EmailField(_l("E-mail of the existing account"), filters=[_strip],
                       validators=[InputRequired(), Length(max=254)])
    submit = SubmitField(_l("Link account"))


class ConfirmForm(FlaskForm):
    """A bare POST form: the CSRF token and a button."""

    submit = SubmitField(_l("Confirm"))
