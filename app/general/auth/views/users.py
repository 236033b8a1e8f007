"""User administration for admins: list, create (with an invitation), edit, (de)activate, reset 2FA."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth import forms, queries, services
from app.general.auth.policy import requires
from app.general.auth.sessions import fresh_login_required
from app.general.auth.views import bp
from app.general.auth.views.common import show_error

PER_PAGE = 25


def _actor():
    return current_user._get_current_object()


def _unit_choices(actor, user=None) -> list[SelectChoice]:
    """Active units in the admin's reach, plus (even if deactivated since) those the user already has."""
    current = {s.org_unit_id for s in user.scopes} if user else set()
    return [SelectChoice(u.id, f"{'· ' * (u.path.count('/') - 2)}{u.name} ({u.code})")
            for u in queries.units_reachable_by(actor, active_only=False) if u.is_active or u.id in current]


@bp.get("/users/")
@requires("users.view")
def users():
    """Users within the admin's scopes: search by name or e-mail, filter by role and status."""
    form = forms.UserFilterForm(request.args)
    user_filter = queries.UserFilter()
    if form.validate():
        user_filter = queries.UserFilter(q=form.q.data or "", role=form.role.data or "",
                                         status=form.status.data or "active")
    page = db.paginate(queries.users_visible_to(_actor(), user_filter), per_page=PER_PAGE, error_out=False)
    return render_template("auth/users/index.html", form=form, page=page)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.manage")
def user_new():
    """Create an account and e-mail it an invitation to set a password."""
    form = forms.UserCreateForm()
    form.scopes.choices = _unit_choices(_actor())
    if form.validate_on_submit():
        try:
            user = services.create_user(
                actor=_actor(), email=form.email.data, display_name=form.display_name.data, role=form.role.data,
                unit_ids=form.scopes.data, phone=form.phone.data, locale=form.locale.data,
            )
        except DomainError as error:  # refused before anything was written
            show_error(form, error, "email")
        else:
            db.session.commit()
            flash(_("The account is created and an invitation is on its way to %(email)s.", email=user.email),
                  "success")
            return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("auth/users/form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("users.manage")
def user_edit(user_id: int):
    """Edit a user's name, phone, language, role and scopes (only these fields are read)."""
    actor = _actor()
    user = queries.manageable_user_or_404(actor, user_id)
    form = forms.UserEditForm(data=None if request.method == "POST" else {
        "display_name": user.display_name, "role": user.role, "phone": user.phone, "locale": user.locale or "en",
        "scopes": [s.org_unit_id for s in user.scopes]})
    form.scopes.choices = _unit_choices(actor, user)
    if form.validate_on_submit():
        try:
            services.update_user(user, actor=actor, display_name=form.display_name.data, role=form.role.data,
                                 unit_ids=form.scopes.data, phone=form.phone.data, locale=form.locale.data)
        except DomainError as error:  # refused before anything was written
            show_error(form, error, "display_name")
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("auth/users/form.html", form=form, user=user)


def _act(user_id: int, service, message: str):
    """Load a user within reach, apply one service, commit, flash, back to the user's page."""
    user = queries.manageable_user_or_404(_actor(), user_id)
    if forms.ConfirmForm().validate_on_submit():
        service(user, actor=_actor())
        db.session.commit()
        flash(message, "success")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/deactivate")
@requires("users.manage")
def user_deactivate(user_id: int):
    """Deactivate: the account cannot log in and its sessions end at once."""
    return _act(user_id, services.deactivate_user, _("The account is deactivated."))


@bp.post("/users/<int:user_id>/reactivate")
@requires("users.manage")
def user_reactivate(user_id: int):
    """Let a deactivated account log in again."""
    return _act(user_id, services.reactivate_user, _("The account is active again."))


@bp.post("/users/<int:user_id>/invite")
@requires("users.manage")
def user_invite(user_id: int):
    """Send the invitation again (accounts without a password only)."""
    return _act(user_id, services.resend_invitation, _("A new invitation is on its way."))


@bp.route("/users/<int:user_id>/reset-second-factor", methods=["GET", "POST"])
@requires("users.manage")
@fresh_login_required
def user_reset_second_factor(user_id: int):
    """Remove a user's authenticator (lost phone); they enrol again at their next login. Needs a fresh login."""
    user = queries.manageable_user_or_404(_actor(), user_id)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        services.reset_second_factor(user, actor=_actor())
        db.session.commit()
        flash(_("The second factor of %(name)s is reset.", name=user.display_name), "success")
        return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("auth/users/reset_second_factor.html", form=form, user=user)
