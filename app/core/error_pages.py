"""Friendly error pages (generic, with the request id) and the domain-error handler."""
from __future__ import annotations

import logging

from flask import Flask, flash, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from app.core.errors import DomainError
from app.core.net import is_safe_next

log = logging.getLogger(__name__)


_BARE_500 = (
    "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
    "<p>An unexpected error occurred. Reference: <code>{request_id}</code></p>"
)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _page(code: int, title: str, message: str):
    if _wants_json():
        return jsonify(error=title, message=message, request_id=g.get("request_id")), code
    return render_template(f"errors/{code if code in (403, 404, 500) else 'generic'}.html",
                           code=code, title=title, message=message), code


def _audit_security(action: str, **changes) -> None:
    from app.extensions import db
    from app.general.audit.services import record

    try:
        record(action, changes={"path": request.path, "method": request.method, **changes})
        db.session.commit()
    except Exception:  # the error page must still render if the audit write fails
        db.session.rollback()
        log.exception("could not audit %s", action)


def _forbidden(_e):
    _audit_security("security.forbidden")
    return _page(403, _("Access denied"), _("You do not have permission to open this page."))


def _not_found(_e):
    return _page(404, _("Page not found"), _("The page you asked for does not exist or has moved."))


def _method_not_allowed(_e):
    return _page(405, _("Method not allowed"), _("This address does not accept that kind of request."))


def _too_large(_e):
    return _page(413, _("File too large"), _("The file is larger than the upload limit."))


def _throttled(_e):
    _audit_security("auth.throttled")
    return _page(429, _("Too many attempts"), _("Too many attempts. Wait a few minutes and try again."))


def _csrf_failed(_e):
    _audit_security("security.csrf_failed")
    return _page(
        400, _("Form expired"), _("The form expired or was sent from elsewhere. Reload the page and try again.")
    )


def _server_error(_e):
    from app.extensions import db

    try:
        db.session.rollback()
        return _page(500, _("Something went wrong"), _("An unexpected error occurred. It has been logged."))
    except Exception:  # the error page itself failed: answer with a bare page, still generic
        log.exception("error page failed")
        return _BARE_500.format(request_id=g.get("request_id", "")), 500


def _domain_error(e: DomainError):
    from app.extensions import db

    db.session.rollback()
    if _wants_json() or request.method == "GET":
        return _page(e.status_code, _("Not possible"), e.message)
    flash(e.message, "danger")
    back = request.referrer or ""
    path = back.split(request.host, 1)[-1] if request.host in back else ""
    return redirect(path if is_safe_next(path) else "/")


HANDLERS = (
    (403, _forbidden), (404, _not_found), (405, _method_not_allowed), (413, _too_large), (429, _throttled),
    (CSRFError, _csrf_failed), (500, _server_error), (DomainError, _domain_error),
)


def register(app: Flask) -> None:
    for code_or_exception, handler in HANDLERS:
        app.register_error_handler(code_or_exception, handler)
