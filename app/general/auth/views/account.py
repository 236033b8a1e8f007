"""The user's own account: name, language, password, second factor and recovery codes."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.errors import DomainError
from app.extensions import db
from app.general.auth import forms, queries, services, sessions, throttle
from app.general.auth.policy import requires
from app.general.auth.sessions import fresh_login_required
from app.general.auth.views import bp
from app.general.auth.views.common import show_error


def _page(profile_form=None, password_form=None, status: int = 200):
    user = current_user._get_current_object()
    profile_form = profile_form or forms.ProfileForm(formdata=None, display_name=user.display_name,
                                                     locale=user.locale or "en")
    password_form = password_form or forms.ChangePasswordForm(formdata=None, email=user.email)
    return render_template(
        "auth/account.html", profile_form=profile_form, password_form=password_form,
        recovery_codes_left=services.remaining_recovery_codes(user) if user.totp_enabled_at else None,
        attempts=queries.recent_login_attempts(user),
    ), status


@bp.get("/account")
@requires("account.manage_own")
def account():
    """The account page."""
    return _page()


@bp.post("/account/profile")
@requires("account.manage_own")
def account_profile():
    """Save the name and language (only those: other posted fields are ignored)."""
    form = forms.ProfileForm()
    if not form.validate_on_submit():
        return _page(profile_form=form, status=400)
    try:
        services.update_profile(current_user._get_current_object(), display_name=form.display_name.data,
                                locale=form.locale.data)
    except DomainError as error:
        show_error(form, error, "display_name")
        return _page(profile_form=form, status=400)
    db.session.commit()
    flash(_("Your details are saved."), "success")
    return redirect(url_for(".account"))


@bp.post("/account/password")
@requires("account.manage_own")
@throttle.password_check_limits
def account_password():
    """Change the password (the current one is required); every other browser is logged out."""
    user = current_user._get_current_object()
    form = forms.ChangePasswordForm(email=user.email)
    if not form.validate_on_submit():
        return _page(password_form=form, status=400)
    try:
        services.change_password(user, form.current_password.data, form.new_password.data)
    except DomainError as error:
        db.session.commit()  # keep the audit event of a wrong current password
        if error.field == "current_password":
            throttle.mark_failed()
        show_error(form, error, "new_password")
        return _page(password_form=form, status=400)
    db.session.commit()
    sessions.keep_this_browser(user)
    flash(_("Your password is changed. Other devices have been logged out."), "success")
    return redirect(url_for(".account"))


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@requires("account.manage_own")
@fresh_login_required
def recovery_codes():
    """Make 10 new recovery codes (the old ones stop working); needs a fresh login."""
    user = current_user._get_current_object()
    if not user.totp_enabled_at:
        return redirect(url_for(".account"))
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        codes = services.regenerate_recovery_codes(user)
        db.session.commit()
        return render_template("auth/recovery_codes.html", codes=codes, target=url_for(".account"))
    return render_template("auth/recovery_codes_confirm.html", form=form,
                           left=services.remaining_recovery_codes(user))
