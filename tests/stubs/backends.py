"""Backends used only by tests: one that always raises, one that kills its process (poison messages)."""
from __future__ import annotations

import os

from app.general.notifications.backends import SmtpBackend


class PoisonAwareSmtp(SmtpBackend):
    """SMTP to the sink, except: "poison@" raises a bug-like error, "killer@" kills the worker process."""

    def send(self, message) -> None:
        if message.address.startswith("poison@"):
            raise RuntimeError("poison message: the backend always raises on this one")
        if message.address.startswith("killer@"):
            os._exit(17)  # a message that takes the worker child down with it, every time
        super().send(message)


class AlwaysRaises:
    """A backend whose every send raises."""

    def __init__(self, config=None):
        pass

    def send(self, message) -> None:
        raise RuntimeError("backend exploded")
