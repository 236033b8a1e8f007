"""The main navigation: modules register their entries; the policy decides who sees which."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    permission: str
    endpoint: str
    label: object  # a lazy string, translated when rendered
    order: int
    group: str | None = None

    @property
    def prefix(self) -> str:
        return self.endpoint.split(".", 1)[0] + "."


_ITEMS: list[NavItem] = []

# Entries of a group share one drop-down menu (so that an administrator's bar fits a laptop's width).
GROUPS = {"admin": _l("Administration"), "classes": _l("Classes"), "credentials": _l("Credentials"),
          "teaching": _l("Teaching and pay")}


def register_nav(permission: str, endpoint: str, label, order: int = 50, group: str | None = None) -> None:
    """Add a navigation entry shown to users who hold `permission` (inside the `group` menu, if given)."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown navigation group {group!r}")
    if all(item.endpoint != endpoint for item in _ITEMS):
        _ITEMS.append(NavItem(permission, endpoint, label, order, group))
        _ITEMS.sort(key=lambda item: item.order)


def _nav_items() -> list[dict]:
    """The entries the current user may see, in order; a group seen with two or more entries becomes a menu
    (`children`) at the place of its first entry."""
    from app.general.auth.policy import can

    if not current_user.is_authenticated:
        return []
    visible = [item for item in _ITEMS if can(current_user, item.permission)]
    here = _active(visible, request.endpoint or "")
    sizes: dict[str, int] = {}
    for item in visible:
        if item.group:
            sizes[item.group] = sizes.get(item.group, 0) + 1
    entries: list[dict] = []
    menus: dict[str, dict] = {}
    for item in visible:
        entry = {"url": url_for(item.endpoint), "label": item.label, "active": item is here}
        if not item.group or sizes[item.group] < 2:
            entries.append(entry)
        elif item.group in menus:
            menus[item.group]["children"].append(entry)
        else:
            menus[item.group] = {"label": GROUPS[item.group], "children": [entry]}
            entries.append(menus[item.group])
        if item.group in menus and entry["active"]:
            menus[item.group]["active"] = True
    return entries


def _active(items: list[NavItem], endpoint: str) -> NavItem | None:
    """The entry of the page shown: its own endpoint; else, of the same blueprint's entries, the one whose address
    is the longest start of the page's (/teaching/pay/runs/5 belongs to Pay at /teaching/pay/, not to Teaching at
    /teaching/); else the blueprint's first entry."""
    exact = next((item for item in items if item.endpoint == endpoint), None)
    if exact is not None:
        return exact
    same = [item for item in items if endpoint.startswith(item.prefix)]
    path = request.path
    under = [(len(url), item) for item in same if path.startswith(url := url_for(item.endpoint))]
    if under:
        return max(under, key=lambda pair: pair[0])[1]
    return same[0] if same else None


def register(app: Flask) -> None:
    from app.general.auth.policy import can

    @app.context_processor
    def inject():
        return {
            "nav_items": _nav_items,
            "can": lambda permission, obj=None: can(current_user, permission, obj),
            "current_locale": lambda: str(get_locale() or "en"),
            # `'imports.index' in url_map_endpoints`: link only to pages that exist (optional modules)
            "url_map_endpoints": app.view_functions,
        }
