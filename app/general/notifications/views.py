"""The inbox of every logged-in user, and the admins' list of failed deliveries with a Retry button."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.navigation import register_nav
from app.extensions import db
from app.general.auth.policy import requires
from app.general.notifications import outbox, queries, services
from app.general.notifications.forms import DeliveryFilterForm

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 25


@bp.record_once
def _on_register(_state) -> None:
    outbox.install()
    register_nav("notifications.manage", "notifications.failed", _l("Deliveries"), order=90, group="admin")


@bp.app_context_processor
def _unread_badge():
    def unread_count() -> int:
        if not current_user.is_authenticated:
            return 0
        return queries.unread_count(current_user)

    return {"unread_count": unread_count}


@bp.get("/")
@requires("inbox.view")
def inbox():
    """The user's own messages, newest first, unread ones highlighted."""
    page = db.paginate(queries.inbox(current_user), per_page=PER_PAGE, error_out=False)
    return render_template("notifications/inbox.html", page=page)


@bp.get("/<int:notification_id>")
@requires("inbox.view")
def message(notification_id: int):
    """One message of the user's inbox (someone else's is not found)."""
    notification = queries.inbox_message(current_user, notification_id) or abort(404)
    return render_template("notifications/message.html", notification=notification)


@bp.post("/<int:notification_id>/open")
@requires("inbox.view")
def open_message(notification_id: int):
    """Mark the message read, then show it."""
    notification = queries.inbox_message(current_user, notification_id) or abort(404)
    services.mark_read(notification, actor=current_user)
    db.session.commit()
    return redirect(url_for(".message", notification_id=notification.id))


@bp.post("/read-all")
@requires("inbox.view")
def read_all():
    """Mark every message of the inbox read."""
    count = services.mark_all_read(actor=current_user)
    db.session.commit()
    flash(_("%(count)s message(s) marked as read.", count=count), "success")
    return redirect(url_for(".inbox"))


@bp.get("/deliveries")
@requires("notifications.manage")
def failed():
    """Failed and stuck deliveries to recipients within the admin's reach, with filters."""
    form = DeliveryFilterForm(request.args)
    valid = form.validate()
    delivery_filter = queries.DeliveryFilter(
        state=form.state.data if valid else "attention",
        channel=(form.channel.data or "") if valid else "",
        search=(form.q.data or "") if valid else "",
    )
    stmt = queries.visible_to(current_user, queries.deliveries(delivery_filter))
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    return render_template("notifications/deliveries.html", form=form, page=page, is_stuck=queries.is_stuck)


@bp.post("/deliveries/<int:notification_id>/retry")
@requires("notifications.manage")
def retry(notification_id: int):
    """Queue a failed or stuck delivery again (sent after the commit; audited)."""
    notification = queries.visible_delivery(current_user, notification_id) or abort(404)
    services.retry_notification(notification, actor=current_user)
    db.session.commit()
    flash(_("The message to %(address)s is queued again.", address=notification.recipient_address), "success")
    return redirect(url_for(".failed", **request.args))
