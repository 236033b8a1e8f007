"""Forms of the classes pages: shape only; the rules (scope, dates, capacity, uniqueness) live in services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.core.form_filters import GRADES, optional_int
from app.core.form_filters import strip as _strip
from app.core.form_filters import version as _version
from app.school.classes.models import AssignmentRole, ContactChannel

ROLE_LABELS = {
    AssignmentRole.HOMEROOM.value: _l("Homeroom teacher"), AssignmentRole.SUBJECT.value: _l("Subject teacher"),
}
RELATIONSHIP_LABELS = {
    "mother": _l("Mother"), "father": _l("Father"), "grandparent": _l("Grandparent"),
    "guardian": _l("Legal guardian"), "other": _l("Other"),
}
CHANNEL_LABELS = {ContactChannel.EMAIL.value: _l("E-mail"), ContactChannel.SMS.value: _l("SMS")}
LANGUAGE_CHOICES = [SelectChoice("zh", "简体中文"), SelectChoice("en", "English")]


def grade_choices(blank=None) -> list[SelectChoice]:
    """Grades 1 to 12, after a blank choice labelled `blank` when given."""
    choices = [SelectChoice(n, _l("Grade %(n)s", n=n)) for n in GRADES]
    return ([SelectChoice("", blank)] if blank else []) + choices


# Created before the forms below so that, declared in a subclass, it still comes first on the page.
_SCHOOL = SelectField(_l("School"), coerce=optional_int, validators=[InputRequired()])


class ConfirmForm(FlaskForm):
    """A bare POST form: the CSRF token and a button."""

    submit = SubmitField(_l("Confirm"))


# --- classes ------------------------------------------------------------------------------------------------


class ClassFilterForm(FlaskForm):
    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    academic_year = SelectField(_l("Academic year"), validate_choice=False)
    grade = SelectField(_l("Grade"), coerce=optional_int, choices=grade_choices(_l("All grades")),
                        validate_choice=False)
    q = SearchField(_l("Class name"), filters=[_strip], validators=[Optional(), Length(max=100)])


class ClassForm(FlaskForm):
    """Edit a class: its name, grade and year (its school is fixed)."""

    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)],
                       description=_l("As the school writes it, e.g. Grade 7 Class 2 or 初一(2)班."))
    grade = SelectField(_l("Grade"), coerce=optional_int, choices=grade_choices(), validators=[InputRequired()])
    academic_year = StringField(_l("Academic year"), filters=[_strip], validators=[InputRequired(), Length(max=9)],
                                description=_l("Two consecutive years, such as 2026-2027."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Save"))


class NewClassForm(ClassForm):
    school = _SCHOOL


# --- assignments --------------------------------------------------------------------------------------------


class AssignForm(FlaskForm):
    staff = SelectField(_l("Teacher"), coerce=optional_int, validators=[InputRequired()],
                        description=_l("Teachers of this school, with the periods a week they already teach."))
    role = SelectField(_l("Role"), choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()],
                       validators=[InputRequired()])
    subject = SelectField(_lp("school subject", "Subject"), coerce=optional_int, validate_choice=False,
                          description=_l("For a subject teacher; leave empty for the homeroom teacher."))
    weekly_periods = IntegerField(_l("Periods a week"), validators=[InputRequired(), NumberRange(min=0, max=40)])
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    override_reason = TextAreaField(
        _l("Reason for an exception"), filters=[_strip], validators=[Optional(), Length(max=300)],
        description=_l("Only when the teacher is not qualified (does not list this subject, or lacks a valid "
                       "credential the class requires): say why they may teach it anyway. It is recorded."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Assign"))


class ChangeTeacherForm(FlaskForm):
    staff = SelectField(_l("New teacher"), coerce=optional_int, validators=[InputRequired()])
    effective_on = DateField(_l("First day of the new teacher"), validators=[InputRequired()],
                             description=_l("The current teacher's last day is the day before."))
    weekly_periods = IntegerField(_l("Periods a week"), validators=[Optional(), NumberRange(min=0, max=40)],
                                  description=_l("Leave empty to keep the current number."))
    reason = StringField(_l("Reason"), filters=[_strip], validators=[Optional(), Length(max=200)],
                         description=_l("Kept with the history of the class, e.g. Parental leave."))
    override_reason = TextAreaField(
        _l("Reason for an exception"), filters=[_strip], validators=[Optional(), Length(max=300)],
        description=_l("Only when the new teacher is not qualified (subject not listed, or a required credential "
                       "missing): say why they may teach it anyway."))
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Change teacher"))


class EndAssignmentForm(FlaskForm):
    last_day = DateField(_l("Last day taught"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), filters=[_strip], validators=[InputRequired(), Length(max=200)])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("End assignment"))


# --- enrolments ---------------------------------------------------------------------------------------------


class EnrolForm(FlaskForm):
    student_number = StringField(_l("Student number"), filters=[_strip], validators=[InputRequired(), Length(max=40)],
                                 description=_l("A student of this class's school."))
    starts_on = DateField(_l("First day in the class"), validators=[InputRequired()])
    version = HiddenField(filters=[_version])
    submit = SubmitField(_l("Enrol"))


class EndEnrolmentForm(FlaskForm):
    last_day = DateField(_l("Last day in the class"), validators=[InputRequired()])
    submit = SubmitField(_l("End enrolment"))


class MoveStudentForm(FlaskForm):
    new_class = SelectField(_l("New class"), coerce=optional_int, validators=[InputRequired()])
    effective_on = DateField(_l("First day in the new class"), validators=[InputRequired()])
    submit = SubmitField(_l("Move"))


class LeaveForm(FlaskForm):
    on = DateField(_l("Last day at the school"), validators=[InputRequired()])
    submit = SubmitField(_l("Record the departure"))


# --- subjects -----------------------------------------------------------------------------------------------


class SubjectForm(FlaskForm):
    code = StringField(_l("Code"), filters=[_strip], validators=[InputRequired(), Length(max=20)],
                       description=_l("Short and unique, e.g. MATH."))
    name = StringField(_l("Name"), filters=[_strip], validators=[InputRequired(), Length(max=100)])
    submit = SubmitField(_l("Save"))


# --- students and guardians ---------------------------------------------------------------------------------


class StudentFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField(_l("Search"), filters=[_strip], validators=[Optional(), Length(max=100)],
                    description=_l("Name or student number"))
    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    status = SelectField(_l("Status"), choices=[SelectChoice("active", _l("At school")),
                                                SelectChoice("left", _l("Left")), SelectChoice("all", _l("All"))],
                         validate_choice=False)


class StudentForm(FlaskForm):
    student_number = StringField(_l("Student number"), filters=[_strip],
                                 validators=[InputRequired(), Length(max=40)])
    family_name = StringField(_l("Family name"), filters=[_strip], validators=[InputRequired(), Length(max=100)])
    given_name = StringField(_l("Given name"), filters=[_strip], validators=[InputRequired(), Length(max=100)])
    born_on = DateField(_l("Date of birth"), validators=[Optional()])
    submit = SubmitField(_l("Save"))


class NewStudentForm(StudentForm):
    school = _SCHOOL


class GuardianForm(FlaskForm):
    full_name = StringField(_l("Full name"), filters=[_strip], validators=[InputRequired(), Length(max=200)])
    relationship = SelectField(_l("Relationship to the student"),
                               choices=[SelectChoice(k, v) for k, v in RELATIONSHIP_LABELS.items()],
                               validators=[InputRequired()])
    email = EmailField(_l("E-mail"), filters=[_strip], validators=[Optional(), Length(max=254)])
    phone = TelField(_l("Mobile number"), filters=[_strip], validators=[Optional(), Length(max=40)])
    preferred_channel = SelectField(_l("Send notices by"),
                                    choices=[SelectChoice(k, v) for k, v in CHANNEL_LABELS.items()],
                                    validators=[InputRequired()])
    locale = SelectField(_l("Language of notices"), choices=LANGUAGE_CHOICES, validators=[InputRequired()])
    submit = SubmitField(_l("Save"))


class EditGuardianForm(GuardianForm):
    account_email = EmailField(
        _l("Parent portal account"), filters=[_strip], validators=[Optional(), Length(max=254)],
        description=_l("The e-mail of their parent account, so that they see their children in the portal. "
                       "Leave empty for none."))


class LinkGuardianForm(FlaskForm):
    email = EmailField(_l("The guardian's e-mail address"), filters=[_strip],
                       validators=[InputRequired(), Length(max=254)],
                       description=_l("A guardian already known to the school, e.g. the parent of a brother "
                                      "or sister."))
    relationship = SelectField(_l("Relationship to the student"),
                               choices=[SelectChoice(k, v) for k, v in RELATIONSHIP_LABELS.items()],
                               validators=[InputRequired()])
    submit = SubmitField(_l("Link"))


# --- load ---------------------------------------------------------------------------------------------------


class LoadFilterForm(FlaskForm):
    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    on = DateField(_l("On"), validators=[Optional()])
    sort = SelectField(_l("Order"), choices=[SelectChoice("load", _l("Fullest first")),
                                             SelectChoice("name", _l("By name"))], validate_choice=False)
