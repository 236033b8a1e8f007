"""Per-request plumbing: a request id, and security headers on every response."""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from flask_login import current_user

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers["X-Request-ID"] = g.get("request_id", "")
    is_static = request.endpoint in {"static", "bootstrap.static"}
    if not is_static and (current_user.is_authenticated or request.endpoint is None or response.status_code >= 400):
        headers["Cache-Control"] = "no-store"
    elif not is_static:
        headers.setdefault("Cache-Control", "no-store")
    return response


def register(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_security_headers)
