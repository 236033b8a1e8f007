"""Forms of the auth module: shape only; rules that need the database live in the services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from app.core.form_filters import strip as _strip
from app.general.auth import passwords
from app.general.auth.models import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.HEAD: _l("Head"),
    Role.TEACHER: _l("Teacher"),
    Role.PARENT: _l("Parent"),
}


def language_choices() -> list[SelectChoice]:
    return [SelectChoice("en", "English"), SelectChoice("zh", "简体中文")]


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]



class PasswordRules:
    """WTForms validator applying passwords.password_problem (length, common list, not the e-mail)."""

    def __call__(self, form, field):
        email = getattr(form, "email_for_rules", None)
        problem = passwords.password_problem(field.data or "", email=email)
        if problem:
            raise ValidationError(problem)


def _password_field(label) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(), PasswordRules()],
        description=_l("12 to 128 characters. A few unrelated words make a strong password."),
        render_kw={"autocomplete": "new-password", "maxlength": passwords.MAX_LENGTH},
    )


def _confirm_field() -> PasswordField:
    return PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device for 7 days"))
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class CodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True})
    next = HiddenField()
    submit = SubmitField(_l("Verify"))


class TotpSetupForm(FlaskForm):
    code = StringField(_l("6-digit code shown by the app"), validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    next = HiddenField()
    submit = SubmitField(_l("Turn on two-step verification"))


class ReauthenticateForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password", "autofocus": True})
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[Optional(), Length(max=32)], render_kw={"autocomplete": "one-time-code"})
    next = HiddenField()
    submit = SubmitField(_l("Confirm"))


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email", "autofocus": True})
    submit = SubmitField(_l("Send me a link"))


class SetPasswordForm(FlaskForm):
    new_password = _password_field(_l("New password"))
    confirm = _confirm_field()
    submit = SubmitField(_l("Set password"))

    def __init__(self, *args, email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.email_for_rules = email


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = _password_field(_l("New password"))
    confirm = _confirm_field()
    submit = SubmitField(_l("Change password"))

    def __init__(self, *args, email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.email_for_rules = email


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Name shown to others"), validators=[DataRequired(), Length(max=200)],
                               render_kw={"autocomplete": "name"})
    locale = SelectField(_l("Language"), choices=language_choices())
    submit = SubmitField(_l("Save"))


class ConfirmForm(FlaskForm):
    """A bare POST form: the CSRF token and a button."""

    submit = SubmitField(_l("Confirm"))


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = SearchField(_l("Name or e-mail"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[SelectChoice("", _l("Any role")), *role_choices()], validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()], default="active", choices=[
        SelectChoice("active", _l("Active")), SelectChoice("inactive", _l("Deactivated")),
        SelectChoice("all", _l("All")),
    ])


class UserEditForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices(), default=Role.TEACHER.value)
    scopes = SelectMultipleField(
        _l("Scopes"), coerce=int, validators=[DataRequired()], render_kw={"size": 6},
        description=_l("The schools or departments this person works in. Hold Ctrl (⌘ on a Mac) to choose several."),
    )
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=40)], render_kw={"autocomplete": "tel"})
    locale = SelectField(_l("Language for messages"), choices=language_choices())
    submit = SubmitField(_l("Save"))


class UserCreateForm(UserEditForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_strip])
    submit = SubmitField(_l("Create and send invitation"))

    def __iter__(self):  # the e-mail comes first on the page
        return iter(sorted(super().__iter__(), key=lambda field: field.name != "email"))
