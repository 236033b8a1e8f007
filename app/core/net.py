"""Request helpers that do not depend on any module."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def client_ip() -> str:
    """The client's address as ProxyFix resolved it (forged X-Forwarded-For beyond the trusted hops is ignored)."""
    return request.remote_addr or "unknown"


def is_safe_next(target: str | None) -> bool:
    """True only for a same-origin absolute path such as /staff/3 (never //host, /\\host or a scheme)."""
    if not target or not isinstance(target, str):
        return False
    if any(ch in target for ch in ("\\", "\r", "\n", "\t", "\x00")) or any(ord(c) < 32 for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
