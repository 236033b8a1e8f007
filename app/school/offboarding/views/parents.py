"""The parent's side of a departure: their notices in the portal, one notice with what changes for each of their
children, and the same notice through the signed link a guardian without an account gets (no login), each with
an "I have read this". Only facts are shown — never the reason for leaving, never another guardian's data."""
from __future__ import annotations

from contextlib import nullcontext

from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.errors import DomainError
from app.core.navigation import register_nav
from app.core.views import actor
from app.extensions import db
from app.general.auth.policy import authorize, public, requires
from app.school.offboarding.forms_plan import VersionForm
from app.school.offboarding.models import ParentNotice
from app.school.offboarding.services import notices
from app.school.offboarding.views import bp

register_nav("notices.view_own", "offboarding.my_notices", _l("Notices"), order=11)


def _own_notice(notice_id: int) -> ParentNotice:
    notice = db.get_or_404(ParentNotice, notice_id)
    authorize("notices.view_own", notice)
    return notice


def _acknowledge(notice: ParentNotice, via: str, who) -> None:
    if not VersionForm().validate_on_submit():
        abort(400)
    try:
        recorded = notices.acknowledge(notice, via=via, actor=who)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return
    flash(_("Thank you: the school knows you have read this notice.") if recorded
          else _("You had already told the school you have read this notice."), "success" if recorded else "info")


@bp.get("/notices")
@requires("notices.view_own")
def my_notices():
    """The parent's own notices of a change of teacher, newest first."""
    return render_template("offboarding/my_notices.html", notices=notices.notices_of_guardian(actor()))


@bp.get("/notices/<int:notice_id>")
@requires("notices.view_own")
def parent_notice(notice_id: int):
    """One of the parent's notices (another parent's is refused)."""
    notice = _own_notice(notice_id)
    return render_template("offboarding/parent_notice.html", notice=notice,
                           acknowledge_url=url_for(".acknowledge_notice", notice_id=notice.id),
                           notice_day=notices.change_date)


@bp.post("/notices/<int:notice_id>/acknowledge")
@requires("notices.view_own")
def acknowledge_notice(notice_id: int):
    """“I have read this” from the portal (pressing twice records it once)."""
    notice = _own_notice(notice_id)
    _acknowledge(notice, "portal", actor())
    return redirect(url_for(".parent_notice", notice_id=notice.id))


def _notice_of(token: str) -> ParentNotice | None:
    return notices.notice_from_token(token) if len(token) <= 512 else None


def _visitor_locale(notice: ParentNotice):
    """A visitor through the link reads the notice in the guardian's language until they pick another one; someone
    logged in reads it in their own (the request's language, unchanged)."""
    if current_user.is_authenticated:
        return nullcontext()
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("locale")
    locale = chosen if chosen in languages else (notice.locale if notice.locale in languages else None)
    return force_locale(locale) if locale else nullcontext()


def _link_invalid():
    return render_template("offboarding/notice_link.html", notice=None), 404


@bp.get("/notice/<token>")
@public
def notice_by_link(token: str):
    """The notice through its signed link, for a guardian without a portal account (no login)."""
    notice = _notice_of(token)
    if notice is None:
        return _link_invalid()
    with _visitor_locale(notice):
        return render_template("offboarding/notice_link.html", notice=notice, notice_day=notices.change_date,
                               acknowledge_url=url_for(".acknowledge_by_link", token=token))


@bp.post("/notice/<token>/acknowledge")
@public
def acknowledge_by_link(token: str):
    """“I have read this” through the signed link (pressing twice records it once)."""
    notice = _notice_of(token)
    if notice is None:
        return _link_invalid()
    with _visitor_locale(notice):
        _acknowledge(notice, "link", None)
    return redirect(url_for(".notice_by_link", token=token))
