"""The departure pages: the departures board, the case page with its timeline, the reassignment plan and the
parents' notice preview and deliveries, the teacher's own case, the parent's notice (in the portal or through a
signed link), and the checklist templates."""
from flask import Blueprint

bp = Blueprint("offboarding", __name__, url_prefix="/departures")


@bp.app_context_processor
def _labels() -> dict:
    """The state and blocker labels, for the profile card and every departure page."""
    from app.school.offboarding.services.checklist import blocker_label, item_title
    from app.school.offboarding.services.common import status_label

    return {"departure_status_label": status_label, "departure_blocker_label": blocker_label,
            "checklist_title": item_title}


def _register_profile_card() -> None:
    from app.school.offboarding.profile import profile_card
    from app.school.staff.views.profile import register_profile_card

    register_profile_card("offboarding/_profile_card.html", order=60, context=profile_card)


_register_profile_card()

from app.school.offboarding.views import (  # noqa: E402,F401  (each module adds its routes to bp)
    cases,
    own,
    parents,
    people,
    plan,
    templates,
)
