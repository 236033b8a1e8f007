"""The delivery list's filter form (GET, no CSRF: it changes nothing)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional


class DeliveryFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(_l("State"), default="attention", choices=[
        ("attention", _l("Needs attention (failed or stuck)")),
        ("failed", _l("Failed")),
        ("stuck", _l("Stuck in sending")),
        ("pending", _l("Waiting to be sent")),
        ("sent", _l("Sent")),
    ])
    channel = SelectField(_l("Channel"), default="", choices=[
        ("", _l("Any")), ("email", _l("E-mail")), ("sms", _l("SMS")),
    ])
    q = StringField(_l("Recipient, template or subject"), validators=[Optional(), Length(max=100)])
