"""The main navigation: modules register their entries; the policy decides who sees which."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from flask_babel import get_locale
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    permission: str
    endpoint: str
    label: object  # a lazy string, translated when rendered
    order: int

    @property
    def prefix(self) -> str:
        return self.endpoint.split(".", 1)[0] + "."


_ITEMS: list[NavItem] = []


def register_nav(permission: str, endpoint: str, label, order: int = 50) -> None:
    """Add a top-level navigation entry shown to users who hold `permission`."""
    if all(item.endpoint != endpoint for item in _ITEMS):
        _ITEMS.append(NavItem(permission, endpoint, label, order))
        _ITEMS.sort(key=lambda item: item.order)


def _nav_items() -> list[dict]:
    from app.general.auth.policy import can

    if not current_user.is_authenticated:
        return []
    return [
        {"url": url_for(item.endpoint), "label": item.label, "prefix": item.prefix}
        for item in _ITEMS
        if can(current_user, item.permission)
    ]


def register(app: Flask) -> None:
    from app.general.auth.policy import can

    @app.context_processor
    def inject():
        return {
            "nav_items": _nav_items,
            "can": lambda permission, obj=None: can(current_user, permission, obj),
            "current_locale": lambda: str(get_locale() or "en"),
        }
