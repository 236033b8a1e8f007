"""Pages of the auth module: login and second factor, own account, and user administration (admins)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.core.navigation import register_nav

bp = Blueprint("auth", __name__, url_prefix="/auth")
register_nav("users.view", "auth.users", _l("Users"), order=90, group="admin")


@bp.context_processor
def _labels():
    from app.general.auth.forms import ROLE_LABELS

    return {"role_label": lambda role: ROLE_LABELS.get(role, role)}


from app.general.auth.views import account, signin, users  # noqa: E402,F401  (routes register on bp)
