"""Login, logout, the second factor, re-authentication, password reset, invitations, language."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.errors import DomainError
from app.core.net import client_ip
from app.extensions import db
from app.general.auth import forms, services, sessions, throttle, tokens, twofactor
from app.general.auth.policy import AUTHENTICATED, public, requires
from app.general.auth.views import bp
from app.general.auth.views.common import next_or_home, safe_next, show_error


@bp.route("/login", methods=["GET", "POST"])
@public
@throttle.login_limits
def login():
    """E-mail and password; the same answer for an unknown e-mail, a wrong password or a closed account."""
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_or_home(target))
    form = forms.LoginForm(next=target)
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data, ip=client_ip())
        db.session.commit()
        if user is not None:
            sessions.log_in(user, remember=form.remember.data)
            return redirect(next_or_home(target))
        throttle.mark_failed()
        form.password.errors.append(_("The e-mail or password is not correct."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@requires(AUTHENTICATED)
def logout():
    """End every session of the user (a copied cookie stops working too)."""
    services.log_out(current_user._get_current_object())
    db.session.commit()
    sessions.log_out()
    flash(_("You have logged out."), "info")
    return redirect(url_for(".login"))


@bp.route("/two-factor", methods=["GET", "POST"])
@requires(AUTHENTICATED)
@throttle.second_factor_limits
def two_factor():
    """The second step of the login for admins and heads: a TOTP code or a recovery code."""
    user, target = current_user._get_current_object(), next_or_home(request.values.get("next"))
    if session.get("_2fa_ok") or not user.needs_second_factor:
        return redirect(target)
    if not user.totp_enabled_at:
        return redirect(url_for(".two_factor_setup", next=target))
    form = forms.CodeForm(next=target)
    if form.validate_on_submit():
        passed = services.verify_second_factor(user, form.code.data)
        db.session.commit()
        if passed:
            sessions.mark_second_factor_passed()
            _warn_when_few_codes_left(user)
            return redirect(target)
        throttle.mark_failed()
        form.code.errors.append(_("That code is not valid. Check the time on your phone and try the newest code."))
    return render_template("auth/two_factor.html", form=form)


def _warn_when_few_codes_left(user) -> None:
    left = services.remaining_recovery_codes(user)
    if left <= 3:
        flash(_("You have %(n)d recovery codes left. Make new ones on your account page.", n=left), "warning")


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@requires(AUTHENTICATED)
@throttle.second_factor_limits
def two_factor_setup():
    """Enrol an authenticator app (QR code), confirm it with a code, then show 10 recovery codes once."""
    user, target = current_user._get_current_object(), next_or_home(request.values.get("next"))
    if user.totp_enabled_at:
        return redirect(target if session.get("_2fa_ok") else url_for(".two_factor", next=target))
    if not user.needs_second_factor:
        return redirect(target)
    secret = twofactor.setup_secret(current_app.config["SECRET_KEY"], user)
    form = forms.TotpSetupForm(next=target)
    if form.validate_on_submit():
        try:
            codes = services.enable_second_factor(user, secret, form.code.data)
        except DomainError as error:
            throttle.mark_failed()
            show_error(form, error, "code")
        else:
            db.session.commit()
            sessions.mark_second_factor_passed()
            return render_template("auth/recovery_codes.html", codes=codes, target=target)
    uri = twofactor.provisioning_uri(secret, user.email)
    return render_template("auth/two_factor_setup.html", form=form, secret=secret, qr_svg=twofactor.qr_svg(uri))


@bp.route("/reauthenticate", methods=["GET", "POST"])
@requires(AUTHENTICATED)
@throttle.password_check_limits
def reauthenticate():
    """Confirm the password (and second factor) before a sensitive action; then go back to it."""
    user, target = current_user._get_current_object(), next_or_home(request.values.get("next"))
    needs_code = bool(user.totp_enabled_at)
    form = forms.ReauthenticateForm(next=target)
    if not needs_code:
        del form.code
    if form.validate_on_submit():
        confirmed = services.reauthenticate(user, form.password.data, form.code.data if needs_code else None)
        db.session.commit()
        if confirmed:
            sessions.mark_fresh()
            return redirect(target)
        throttle.mark_failed()
        form.password.errors.append(_("The password or the code is not correct."))
    return render_template("auth/reauthenticate.html", form=form)


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
@throttle.reset_limits
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    form = forms.ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(_("If an account uses this address, a link to set a new password is on its way. "
                "It works for one hour."), "info")
        return redirect(url_for(".login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Set a new password from an e-mailed link (1 hour, works once)."""
    return _set_password_page(token, tokens.PASSWORD_RESET, "auth.password_reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    """A new account sets its first password from the invitation link (7 days, works once)."""
    return _set_password_page(token, tokens.INVITATION, "auth.invitation_accepted")


def _set_password_page(token: str, kind: tokens.TokenKind, action: str):
    user = tokens.load_user(token, kind)
    invitation = kind is tokens.INVITATION
    if user is None:
        return render_template("auth/link_invalid.html", invitation=invitation), 400
    form = forms.SetPasswordForm(email=user.email)
    if form.validate_on_submit():
        try:
            services.set_password(user, form.new_password.data, action=action)
        except DomainError as error:
            show_error(form, error, "new_password")
        else:
            db.session.commit()
            if current_user.is_authenticated:
                sessions.log_out()
            flash(_("Your password is set. You can log in now."), "success")
            return redirect(url_for(".login"))
    return render_template("auth/set_password.html", form=form, user=user, invitation=invitation)


@bp.post("/language")
@public
def set_language():
    """Switch the interface language: saved on the account when logged in, else in the session."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        if current_user.is_authenticated:
            services.set_locale(current_user._get_current_object(), locale)
            db.session.commit()
        else:
            session["locale"] = locale
    return redirect(next_or_home(request.form.get("next")))
