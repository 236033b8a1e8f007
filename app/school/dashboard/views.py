"""Dashboards: one per role, filled by the modules as they land."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.general.auth.policy import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires("dashboard.view")
def index():
    """The dashboard of the logged-in user's role."""
    return render_template(f"dashboard/{current_user.role}.html")
