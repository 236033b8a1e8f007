"""The credentials pages: types (district admins), people's credentials, documents, training, renewals,
"My certificates" (teachers) and compliance (admins and heads)."""
from flask import Blueprint

bp = Blueprint("credentials", __name__, url_prefix="/credentials")

from app.school.credentials.views import compliance, manage, self_service  # noqa: E402,F401  (routes on bp)
