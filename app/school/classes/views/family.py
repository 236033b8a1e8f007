"""A parent's "My children": their own children only, with each child's class and current teachers."""
from __future__ import annotations

from flask import render_template

from app.general.auth.policy import authorize, requires
from app.school.classes import queries
from app.school.classes.views import bp
from app.school.classes.views.common import actor


@bp.get("/my-children")
@requires("children.view_own")
def my_children():
    """The children of the guardian linked to the logged-in parent account."""
    guardian = queries.guardian_for_user(actor())
    children = []
    if guardian is not None:
        authorize("children.view_own", guardian)
        children = queries.children_of(guardian, queries.local_today())
    return render_template("classes/my_children.html", guardian=guardian, children=children)
