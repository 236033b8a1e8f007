"""Template pages: the list (newest versions), one version with its preview and history, create, edit."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.core.errors import DomainError, ValidationFailed
from app.extensions import db
from app.general.auth.policy import authorize, can, requires
from app.general.contracts import forms, queries, rendering, services
from app.general.contracts.views import bp
from app.general.contracts.views.common import actor, load_template, show_errors
from app.general.org.models import OrgUnit


@bp.get("/templates")
@requires("contracts.view")
def templates():
    """The newest version of every template the user can see."""
    return render_template("contracts/templates/index.html", templates=queries.latest_templates(actor()))


def _form_page(form, template=None):
    return render_template("contracts/templates/form.html", form=form, template=template,
                           placeholders=rendering.PLACEHOLDERS), 422 if form.errors else 200


@bp.route("/templates/new", methods=["GET", "POST"])
@requires("contracts.manage")
def template_new():
    """A new template (version 1) for a school or district within the user's scopes."""
    form = forms.NewTemplateForm()
    form.org_unit.choices = forms.choices((unit.id, unit.name) for unit in queries.template_owners_for(actor()))
    if form.validate_on_submit():
        unit = db.session.get(OrgUnit, form.org_unit.data) or abort(400)
        authorize("contracts.manage", unit)
        try:
            template = services.create_template(actor=actor(), org_unit=unit, kind=form.kind.data,
                                                name=form.name.data, locale=form.locale.data, body=form.body.data)
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(_("The template is saved."), "success")
            return redirect(url_for(".template_show", template_id=template.id))
    return _form_page(form)


@bp.get("/templates/<int:template_id>")
@requires("contracts.view")
def template_show(template_id: int):
    """One version: its text, a preview with sample values, and every version of the template."""
    template = load_template(template_id, "contracts.view")
    try:
        preview, preview_error = rendering.preview(template.body), None
    except DomainError as error:
        preview, preview_error = None, error.message
    versions = queries.template_versions(template.family)
    return render_template(
        "contracts/templates/show.html", template=template, preview=preview, preview_error=preview_error,
        versions=versions, latest=versions[0], in_use={v.id: queries.template_in_use(v) for v in versions},
        manage=can(actor(), "contracts.manage", template), confirm_form=forms.VersionedForm(),
    )


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@requires("contracts.manage")
def template_edit(template_id: int):
    """Edit the newest version; a changed text is saved as a new version (issued contracts keep theirs)."""
    template = load_template(template_id, "contracts.manage")
    form = forms.TemplateForm(obj=template)
    if form.validate_on_submit():
        try:
            saved = services.update_template(template, actor=actor(), name=form.name.data, locale=form.locale.data,
                                             body=form.body.data)
            db.session.commit()
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            if saved.id == template.id:
                flash(_("Nothing changed."), "info")
            else:
                flash(_("Saved as version %(n)d.", n=saved.version), "success")
            return redirect(url_for(".template_show", template_id=saved.id))
    return _form_page(form, template)


def _set_active(template_id: int, active: bool):
    template = load_template(template_id, "contracts.manage")
    if not forms.VersionedForm().validate_on_submit():
        abort(400)
    services.set_template_active(template, actor=actor(), active=active)
    db.session.commit()
    flash(_("The template can be used again.") if active else _("The template is retired."), "success")
    return redirect(url_for(".template_show", template_id=template_id))


@bp.post("/templates/<int:template_id>/retire")
@requires("contracts.manage")
def template_retire(template_id: int):
    """Retire a template: no new contracts use it (existing ones keep their text)."""
    return _set_active(template_id, False)


@bp.post("/templates/<int:template_id>/reuse")
@requires("contracts.manage")
def template_reuse(template_id: int):
    """Bring a retired template back into use."""
    return _set_active(template_id, True)
