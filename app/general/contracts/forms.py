"""Forms for templates, contracts, signing and obligations: shape only; the rules live in the services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from app.general.contracts.models import ContractKind, ContractStatus, ObligationStatus

KIND_LABELS = {
    ContractKind.LABOUR: _l("Labour contract"),
    ContractKind.CONFIDENTIALITY: _l("Confidentiality agreement"),
    ContractKind.NON_COMPETE: _l("Non-compete agreement"),
    ContractKind.OTHER: _l("Other"),
}
STATUS_LABELS = {
    ContractStatus.DRAFT: _l("Draft"),
    ContractStatus.ISSUED: _l("Waiting for signature"),
    ContractStatus.SIGNED: _l("Signed by the party"),
    ContractStatus.ACTIVE: _l("Active"),
    ContractStatus.ENDED: _l("Ended"),
    ContractStatus.TERMINATED: _l("Terminated"),
    ContractStatus.EXPIRED: _l("Expired"),
}
OBLIGATION_STATUS_LABELS = {
    ObligationStatus.OPEN: _l("Open"),
    ObligationStatus.DONE: _l("Done"),
    ObligationStatus.WAIVED: _l("Waived"),
}
def choices(pairs) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("zh", "简体中文")]


class VersionedForm(FlaskForm):
    """A confirmation carrying the row version the page showed (optimistic locking)."""

    row_version = HiddenField()

    def expected_version(self) -> int | None:
        value = (self.row_version.data or "").strip()
        return int(value) if value.isdigit() else None


class ContractFilterForm(FlaskForm):
    """The admin list's filters (GET; no CSRF needed for a read)."""

    class Meta:
        csrf = False

    q = StringField(_l("Name or title"), validators=[Optional(), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=choices([("", _l("All kinds")), *KIND_LABELS.items()]),
                       validators=[Optional()])
    status = SelectField(_l("Status"), choices=choices([("", _l("All statuses")), *STATUS_LABELS.items()]),
                         validators=[Optional()])
    employer = SelectField(_l("Employer"), coerce=lambda v: int(v) if v not in (None, "") else None,
                           validators=[Optional()])


class TemplateForm(FlaskForm):
    """Edit a template: saving a changed text creates a new version."""

    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    locale = SelectField(_l("Language of the text"), choices=LANGUAGE_CHOICES, validators=[InputRequired()])
    body = TextAreaField(_l("Text"), validators=[InputRequired(), Length(max=100_000)],
                         render_kw={"rows": 18, "class": "font-monospace"})


class NewTemplateForm(TemplateForm):
    """Create a template: its kind and owning unit too."""

    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS.items()), validators=[InputRequired()])
    org_unit = SelectField(_l("Owned by"), coerce=int, validators=[InputRequired()],
                           description=_l("Contracts of employers inside this unit may use the template."))


def _optional_int(value):
    return int(value) if value not in (None, "") else None


class ContractForm(VersionedForm):
    """A draft contract: template, employer, dates and terms (the party is chosen when it is created)."""

    template = SelectField(_l("Template"), coerce=_optional_int, validators=[InputRequired()])
    employer = SelectField(_l("Employer"), coerce=_optional_int, validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)],
                        description=_l("Leave empty to use the template's name."))
    party_email = StringField(_l("Party's e-mail"), validators=[Optional(), Length(max=254)],
                              description=_l("Where the signing code is sent; empty: the portal account's e-mail."))
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[Optional()], description=_l("Empty for an open-ended contract."))
    notice_days = IntegerField(_l("Notice (days)"), default=30, validators=[Optional(), NumberRange(min=0, max=365)])
    probation_ends_on = DateField(_l("Probation ends on"), validators=[Optional()])
    non_compete_months = IntegerField(_l("Non-compete (months after the end)"),
                                      validators=[Optional(), NumberRange(min=0, max=24)],
                                      description=_l("At most 24 months."))
    non_compete_monthly_compensation = DecimalField(_l("Monthly non-compete compensation"), places=2,
                                                    validators=[Optional(), NumberRange(min=0)])
    currency = StringField(_l("Currency"), default="CNY", validators=[Optional(), Length(min=3, max=3)])

    TERM_FIELDS = ("notice_days", "probation_ends_on", "non_compete_months", "non_compete_monthly_compensation",
                   "currency")

    def terms(self) -> dict:
        return {name: getattr(self, name).data for name in self.TERM_FIELDS}


class NewContractForm(ContractForm):
    party = SelectField(_l("Party"), validators=[InputRequired()])


class EndForm(VersionedForm):
    on = DateField(_l("Last day"), validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class SigningCodeForm(FlaskForm):
    """The one-time code and the fingerprint of the text the signer read."""

    code = StringField(_l("Code from the e-mail"), validators=[InputRequired(), Regexp(r"^\s*\d{6}\s*$",
                       message=_l("Enter the six digits from the e-mail."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})
    text_sha256 = HiddenField(validators=[InputRequired(), Length(min=64, max=64)])


class ObligationForm(VersionedForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])


class AddObligationForm(FlaskForm):
    description = StringField(_l("Obligation"), validators=[InputRequired(), Length(max=2000)])
    due_on = DateField(_l("Due on"), validators=[Optional()])
    amount = DecimalField(_l("Amount"), places=2, validators=[Optional(), NumberRange(min=0)])
