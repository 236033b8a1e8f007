"""Contract pages: the admin list, templates with versions, drafts, issuing, countersigning, a printable signed
copy; and for teachers "My contracts" with the signing page."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.core.navigation import register_nav

bp = Blueprint("contracts", __name__, url_prefix="/contracts")
register_nav("contracts.view", "contracts.index", _l("Contracts"), order=40)
register_nav("contracts.view_own", "contracts.mine", _l("My contracts"), order=41)


@bp.app_context_processor
def _labels():
    """Labels for contract pages and for the party's profile card rendered by other modules."""
    from app.general.contracts import forms, parties
    from app.general.contracts.views.common import event_label, obligation_label

    return {
        "contract_kind_label": lambda kind: forms.KIND_LABELS.get(kind, kind),
        "contract_status_label": lambda status: forms.STATUS_LABELS.get(status, status),
        "obligation_status_label": lambda status: forms.OBLIGATION_STATUS_LABELS.get(status, status),
        "obligation_label": obligation_label,
        "contract_event_label": event_label,
        "contract_party_source": lambda party_type: party_type in parties.registered_types(),
    }


from app.general.contracts.views import documents, manage, self_service, templates  # noqa: E402,F401
