"""Writing notifications to the outbox (in the caller's transaction). Dispatch lives in dispatch.py."""
from __future__ import annotations

from typing import Any

from app.general.notifications.models import Channel, Notification


def notify(
    *,
    template: str,
    channel: Channel | str,
    key: str,
    user: Any = None,
    address: str | None = None,
    context: dict | None = None,
    locale: str | None = None,
) -> Notification:
    """Render `template` in the recipient's locale and add one outbox row; the caller commits.

    `key` is the idempotency key: a second call with the same key returns the existing row and
    adds nothing. `user` (a User) or `address` (e-mail or phone) names the recipient.
    """
    raise NotImplementedError  # implemented by the notifications module


def notify_user(user: Any, *, template: str, key: str, context: dict | None = None,
                channels: tuple[str, ...] = ("inbox", "email")) -> list[Notification]:
    """One row per channel for a portal user (keys `<key>:<channel>`), in the user's locale."""
    return [
        notify(template=template, channel=channel, key=f"{key}:{channel}", user=user, context=context)
        for channel in channels
    ]
