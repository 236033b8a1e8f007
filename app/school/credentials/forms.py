"""Forms of the credentials pages: shape only; the rules (dates, hours, scope, file content) live in services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.core.form_filters import GRADES, optional_int
from app.core.form_filters import strip as _strip
from app.core.form_filters import version as _version
from app.school.credentials.models import RequiredFor
from app.school.credentials.status import LABELS, CredentialStatus

REQUIRED_FOR_LABELS = {
    RequiredFor.ALL.value: _l("Every staff member"),
    RequiredFor.TEACHING.value: _l("Teachers of the subjects below (any subject if none is chosen)"),
    RequiredFor.HOMEROOM.value: _l("Homeroom teachers"),
    RequiredFor.NONE.value: _l("Nobody (recorded only)"),
}
STATUS_FILTER_LABELS = {
    "current": _l("Current (not renewed or revoked)"),
    **{status.value: LABELS[status] for status in CredentialStatus},
    "all": _l("All, with history"),
}





def grade_choices(blank) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(n, _l("Grade %(n)s", n=n)) for n in GRADES]


class VersionedForm(FlaskForm):
    """A bare POST form (CSRF token and a button) that carries the version of the row the page showed."""

    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))


class CredentialFilterForm(FlaskForm):
    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    type = SelectField(_l("Credential"), coerce=optional_int, validate_choice=False)
    status = SelectField(_l("Status"), choices=[SelectChoice(k, v) for k, v in STATUS_FILTER_LABELS.items()],
                         default="current", validate_choice=False)
    q = SearchField(_l("Name or number"), filters=[_strip], validators=[Optional(), Length(max=100)])


class TypeForm(FlaskForm):
    """A credential type of the district's catalogue."""

    code = StringField(_l("Code"), filters=[_strip], validators=[InputRequired(), Length(max=20)],
                       description=_l("Capital letters, digits, - or _, e.g. TEACH."))
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), filters=[_strip], validators=[Optional(), Length(max=500)])
    validity_years = IntegerField(_l("Valid for (years)"), validators=[Optional(), NumberRange(min=1, max=50)],
                                  description=_l("Leave blank if it never expires (e.g. a professional title)."))
    grace_days = IntegerField(_l("Grace days"), default=0, validators=[Optional(), NumberRange(min=0, max=365)],
                              description=_l("Days after the last valid day during which it still counts."))
    reminder_offsets = StringField(_l("Reminders (days before expiry)"), default="90,30,7", filters=[_strip],
                                   validators=[InputRequired(), Length(max=60)],
                                   description=_l("Whole days separated by commas, e.g. 90, 30, 7."))
    renewal_hours = StringField(_l("Training hours needed to renew"), filters=[_strip],
                                validators=[Optional(), Length(max=10)],
                                description=_l("Verified hours within the period, e.g. 360. Blank: no hours rule."))
    required_for = SelectField(_l("Required of"), choices=[SelectChoice(k, v) for k, v in REQUIRED_FOR_LABELS.items()],
                               validators=[InputRequired()])
    subjects = SelectMultipleField(_l("Subjects"), coerce=int, validate_choice=False,
                                   description=_l("Only for teachers: the subjects that need it."))
    grade_min = SelectField(_l("From grade"), coerce=optional_int, choices=grade_choices(_l("Any")),
                            validate_choice=False)
    grade_max = SelectField(_l("To grade"), coerce=optional_int, choices=grade_choices(_l("Any")),
                            validate_choice=False)
    is_active = BooleanField(_l("In use (new credentials may be recorded)"), default=True)
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))


class CredentialForm(FlaskForm):
    """A credential's details (correcting one keeps its type)."""

    number = StringField(_l("Certificate number"), filters=[_strip], validators=[Optional(), Length(max=60)])
    issuer = StringField(_l("Issued by"), filters=[_strip], validators=[Optional(), Length(max=200)])
    issued_on = DateField(_l("Date of issue"), validators=[InputRequired()])
    expires_on = DateField(_l("Last valid day"), validators=[Optional()],
                           description=_l("Leave blank to compute it from the type's validity."))
    note = TextAreaField(_l("Note"), filters=[_strip], validators=[Optional(), Length(max=500)])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))


class RecordForm(CredentialForm):
    """Record a credential for a known staff member."""

    type = SelectField(_l("Credential"), coerce=optional_int, validators=[InputRequired()])
    document = FileField(_l("Scan of the certificate (optional)"),
                         description=_l("PDF, PNG or JPEG."))


class NewCredentialForm(RecordForm):
    """Record a credential from the list: the staff member is found by school and employee number."""

    school = SelectField(_l("School"), coerce=optional_int, validators=[InputRequired()])
    employee_number = StringField(_l("Employee number"), filters=[_strip],
                                  validators=[InputRequired(), Length(max=30)])


class ReasonForm(FlaskForm):
    """A decision that needs a reason the person concerned will read."""

    reason = TextAreaField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=500)])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Confirm"))


class DocumentForm(FlaskForm):
    document = FileField(_l("Document"), description=_l("PDF, PNG or JPEG."))
    submit = SubmitField(_l("Upload"))


class TrainingForm(FlaskForm):
    """Training a teacher did (continuing professional development)."""

    completed_on = DateField(_l("Completed on"), validators=[InputRequired()])
    provider = StringField(_l("Provider"), filters=[_strip], validators=[InputRequired(), Length(max=200)])
    topic = StringField(_l("Topic"), filters=[_strip], validators=[InputRequired(), Length(max=200)])
    hours = StringField(_l("Hours"), filters=[_strip], validators=[InputRequired(), Length(max=10)],
                        description=_l("e.g. 12 or 7.5"))
    document = FileField(_l("Evidence (optional)"), description=_l("A certificate of attendance: PDF, PNG or JPEG."))
    submit = SubmitField(_l("Add training"))


class RenewalForm(FlaskForm):
    """Ask to renew a credential."""

    note = TextAreaField(_l("Note for the reviewer (optional)"), filters=[_strip],
                         validators=[Optional(), Length(max=1000)])
    document = FileField(_l("Evidence (optional)"), description=_l("PDF, PNG or JPEG; you can add more later."))
    submit = SubmitField(_l("Submit the renewal"))
