"""Staff pages: the list, adding and editing records, the profile page, and "My profile" for teachers."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.core.navigation import register_nav
from app.school.staff import parties

bp = Blueprint("staff", __name__, url_prefix="/staff")
register_nav("staff.view", "staff.index", _l("Staff"), order=20)
register_nav("staff.view_own", "staff.mine", _l("My profile"), order=20)
parties.register()  # staff members can be parties to contracts


@bp.context_processor
def _helpers():
    from app.school.staff.forms import STATUS_LABELS

    return {
        "status_label": lambda status: STATUS_LABELS.get(status, status),
    }


from app.school.staff.views import manage, profile  # noqa: E402,F401  (routes register on bp)
