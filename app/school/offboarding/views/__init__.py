"""The departure pages: the departures board, the case page with its timeline, the reassignment plan and the
parents' notice preview and deliveries, the teacher's own case, the parent's notice (in the portal or through a
signed link), and the checklist templates."""
from flask import Blueprint

bp = Blueprint("offboarding", __name__, url_prefix="/departures")

from app.school.offboarding.views import (  # noqa: E402,F401  (each module adds its routes to bp)
    cases,
    own,
    parents,
    plan,
    templates,
)
