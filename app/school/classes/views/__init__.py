"""The classes pages (blueprint `classes`, /classes): classes, teachers, students and guardians, subjects, teachers'
loads, and a parent's "My children"."""
from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.core.navigation import register_nav

bp = Blueprint("classes", __name__, url_prefix="/classes")
register_nav("children.view_own", "classes.my_children", _l("My children"), order=10)
register_nav("classes.view", "classes.index", _l("Classes"), order=30, group="classes")
register_nav("assignments.manage", "classes.load", _l("Teacher load"), order=35, group="classes")

from app.school.classes.views import (  # noqa: E402,F401  (each module adds its routes to bp)
    assignments,
    classes,
    family,
    guardians,
    load,
    students,
    subjects,
)
