"""The delivery list's filter form (GET, no CSRF: it changes nothing)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional


class DeliveryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(_l("State"), default="attention", choices=[
        SelectChoice("attention", _l("Needs attention (failed or stuck)")),
        SelectChoice("failed", _l("Failed")),
        SelectChoice("stuck", _l("Stuck in sending")),
        SelectChoice("pending", _l("Waiting to be sent")),
        SelectChoice("sent", _l("Sent")),
    ])
    channel = SelectField(_l("Channel"), default="", choices=[
        SelectChoice("", _l("Any")), SelectChoice("email", _l("E-mail")), SelectChoice("sms", _l("SMS")),
    ])
    q = StringField(_l("Recipient, template or subject"), validators=[Optional(), Length(max=100)])
