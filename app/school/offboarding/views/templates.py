"""The checklist templates: per role (teacher, head, administrator) the lines a new departure's checklist is drawn
from — what must be done, by whom, whether it carries money — with editing, adding, and loading the defaults."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.core.views import actor, show_errors
from app.extensions import db
from app.general.auth.policy import requires
from app.school.offboarding import forms_plan as forms
from app.school.offboarding.models import ChecklistTemplateItem
from app.school.offboarding.services import checklist
from app.school.offboarding.views import bp


def _item_form(item: ChecklistTemplateItem, formdata=None) -> forms.TemplateItemForm:
    return forms.TemplateItemForm(formdata=formdata, prefix=f"item{item.id}", obj=item, data={"version": item.version})


def _add_form(role: str, formdata=None) -> forms.TemplateItemForm:
    return forms.TemplateItemForm(formdata=formdata, prefix=f"add-{role}", data={"role": role, "is_active": True})


def _page(*, failed: forms.TemplateItemForm | None = None, failed_key: object = None, status: int = 200):
    roles = []
    for role in checklist.TEMPLATE_ROLES:
        items = checklist.template_items(role, active_only=False)
        edit = {item.id: failed if failed_key == item.id else _item_form(item) for item in items}
        roles.append({"role": str(role), "label": checklist.ROLE_LABELS[role], "items": items, "edit": edit,
                      "add": failed if failed_key == str(role) else _add_form(str(role))})
    return render_template("offboarding/checklist_templates.html", roles=roles, title_of=checklist.item_title,
                           owner_label=checklist.owner_label,
                           any_items=any(r["items"] for r in roles), open_key=failed_key,
                           may_configure=checklist.may_configure(actor())), status


def _require_configure() -> None:
    """Only a district administrator changes the templates every school uses (others read them)."""
    if not checklist.may_configure(actor()):
        abort(403)


@bp.route("/templates", methods=["GET", "POST"])
@requires("departures.configure")
def templates():
    """The checklist templates (GET writes nothing); a POST adds a line to the role named in `role`."""
    if request.method == "GET":
        return _page()
    _require_configure()
    role = request.args.get("role", "")
    if role not in {str(r) for r in checklist.TEMPLATE_ROLES}:
        abort(404)
    form = _add_form(role, request.form)
    if form.validate_on_submit():
        try:
            item = checklist.add_template_item(role, title=form.title.data, owner=form.owner.data,
                                               is_money=form.is_money.data, position=form.position.data,
                                               actor=actor())
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The line “%(title)s” is added.", title=item.title), "success")
            return redirect(url_for(".templates", _anchor=f"role-{role}"))
    return _page(failed=form, failed_key=role, status=422)


@bp.post("/templates/<int:item_id>")
@requires("departures.configure")
def template_item(item_id: int):
    """Change a template line, or switch it off (cases under way keep their own checklist)."""
    _require_configure()
    item = db.get_or_404(ChecklistTemplateItem, item_id)
    form = _item_form(item, request.form)
    if form.validate_on_submit():
        try:
            checklist.update_template_item(item, title=form.title.data, owner=form.owner.data,
                                           is_money=form.is_money.data, position=form.position.data,
                                           is_active=form.is_active.data, actor=actor(),
                                           expected_version=form.version.data)
            db.session.commit()
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(_("The line is saved."), "success")
            return redirect(url_for(".templates", _anchor=f"template-item-{item.id}"))
    return _page(failed=form, failed_key=item.id, status=422)


@bp.post("/templates/defaults")
@requires("departures.configure")
def template_defaults():
    """Write the default checklist of every role that has none yet (pressing twice writes nothing more)."""
    _require_configure()
    if not forms.VersionForm().validate_on_submit():
        abort(400)
    written = checklist.ensure_default_templates()
    db.session.commit()
    flash(_("The default checklist is loaded: change it to suit your school.") if written
          else _("Every role already has its checklist."), "success" if written else "info")
    return redirect(url_for(".templates"))
