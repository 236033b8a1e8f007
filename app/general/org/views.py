"""Organisation pages: the tree of units in the user's reach; create, edit, deactivate, reactivate."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.errors import ValidationFailed
from app.core.navigation import register_nav
from app.extensions import db
from app.general.auth.policy import authorize, requires
from app.general.org import queries, services
from app.general.org.forms import TOP_LEVEL, CreateUnitForm, UnitForm
from app.general.org.models import OrgUnit

bp = Blueprint("org", __name__, url_prefix="/org")
register_nav("org.view", "org.index", _l("Organisation"), order=80, group="admin")


def _load(unit_id: int) -> OrgUnit:
    unit = db.get_or_404(OrgUnit, unit_id)
    authorize("org.manage", unit)
    return unit


def _chosen_parent(form: UnitForm) -> OrgUnit | None:
    """The parent picked in the form, which the user must be allowed to manage."""
    if form.parent.data in (None, TOP_LEVEL):
        return None
    parent = db.session.get(OrgUnit, form.parent.data)
    if parent is None:
        abort(404)
    return parent


def _may_place_at_top(unit: OrgUnit | None = None) -> bool:
    """Only a unit that is already at the top level keeps that choice: new units land inside the user's reach."""
    return unit is not None and unit.parent_id is None


def _show_error(form: UnitForm, error: ValidationFailed) -> None:
    db.session.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "danger")


def _render_form(form: UnitForm, unit: OrgUnit | None):
    status = 422 if form.errors else 200
    return render_template("org/form.html", form=form, unit=unit), status


@bp.get("/")
@requires("org.view")
def index():
    """The district → schools → departments tree, limited to the user's scopes."""
    show_inactive = request.args.get("show") == "all"
    tree = queries.tree_for(current_user, include_inactive=show_inactive)
    return render_template("org/index.html", tree=tree, show_inactive=show_inactive)


@bp.route("/new", methods=["GET", "POST"])
@requires("org.manage")
def create():
    """Add a district, school or department inside the user's reach."""
    form = CreateUnitForm(kind=request.args.get("kind", "department"), parent=request.args.get("parent", type=int))
    form.set_parent_choices(queries.parent_candidates(current_user))
    if form.validate_on_submit():
        parent = _chosen_parent(form)
        if parent is None:
            abort(403)
        authorize("org.manage", parent)
        try:
            unit = services.create_unit(kind=form.kind.data, name=form.name.data, code=form.code.data,
                                        parent=parent, actor=current_user)
            db.session.commit()
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            flash(_("%(name)s has been created.", name=unit.name), "success")
            return redirect(url_for("org.index", _anchor=f"unit-{unit.id}"))
    return _render_form(form, None)


@bp.route("/<int:unit_id>/edit", methods=["GET", "POST"])
@requires("org.manage")
def edit(unit_id: int):
    """Rename, re-code or move a unit."""
    unit = _load(unit_id)
    form = UnitForm(name=unit.name, code=unit.code, parent=unit.parent_id or TOP_LEVEL)
    form.set_parent_choices(queries.parent_candidates(current_user, unit.kind), current=unit.parent,
                            top_level=_may_place_at_top(unit))
    if form.validate_on_submit():
        parent = _chosen_parent(form)
        if parent is not None and parent.id != unit.parent_id:
            authorize("org.manage", parent)
        try:
            services.update_unit(unit, name=form.name.data, code=form.code.data, parent=parent, actor=current_user)
            db.session.commit()
        except ValidationFailed as error:
            _show_error(form, error)
        else:
            flash(_("%(name)s has been saved.", name=unit.name), "success")
            return redirect(url_for("org.index", _anchor=f"unit-{unit.id}"))
    return _render_form(form, unit)


@bp.post("/<int:unit_id>/deactivate")
@requires("org.manage")
def deactivate(unit_id: int):
    """Deactivate a unit with nothing active inside it."""
    unit = _load(unit_id)
    return _switch(unit, services.deactivate_unit, _("%(name)s has been deactivated.", name=unit.name))


@bp.post("/<int:unit_id>/reactivate")
@requires("org.manage")
def reactivate(unit_id: int):
    """Bring a deactivated unit back."""
    unit = _load(unit_id)
    return _switch(unit, services.reactivate_unit, _("%(name)s is active again.", name=unit.name))


def _switch(unit: OrgUnit, service, success: str):
    """Call a (de)activation service; a refused change is flashed above the tree."""
    unit_id = unit.id
    try:
        service(unit, actor=current_user)
        db.session.commit()
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(success, "success")
    return redirect(url_for("org.index", show="all", _anchor=f"unit-{unit_id}"))
