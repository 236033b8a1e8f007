"""The credentials pages: types (district admins), people's credentials, documents, training, renewals,
"My certificates" (teachers) and compliance (admins and heads)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.core.navigation import register_nav

bp = Blueprint("credentials", __name__, url_prefix="/credentials")
register_nav("credentials.view", "credentials.index", _l("Credentials"), order=45, group="credentials")
register_nav("credentials.view_own", "credentials.mine", _l("My certificates"), order=45)


@bp.app_context_processor
def _labels():
    """Status labels and badge colours for the credentials pages and the cards other pages show."""
    from app.school.credentials import status

    return {
        "credential_status_label": lambda value: status.LABELS.get(value, value),
        "credential_status_badge": lambda value: status.BADGES.get(value, "secondary"),
        "training_status_label": lambda value: status.TRAINING_LABELS.get(value, value),
        "renewal_status_label": lambda value: status.RENEWAL_LABELS.get(value, value),
    }


from app.school.credentials.views import (  # noqa: E402,F401  (each module adds its routes to bp)
    compliance,
    documents,
    manage,
    renewals,
    self_service,
    training,
    types,
)
