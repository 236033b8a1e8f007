"""Many outbox rows at once, for jobs that write thousands (reminder catch-up runs, notices to every parent).

The rows are those `notifications.services.notify` writes — rendered in the recipient's language, inbox rows
delivered by being written, a missing address failed at once, e-mails dispatched after commit, an existing
idempotency key left as it is — but rendered with the catalogue looked up once per language and inserted in one
pipelined statement instead of a query, a render and a savepoint per row (10 s → under 2 s for 8,000 rows).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_translations
from jinja2 import Template

from app.core.imports.bulk import insert_ignoring_conflicts
from app.core.models import utcnow
from app.extensions import db
from app.general.notifications import outbox
from app.general.notifications.models import Channel, Notification, Status
from app.general.notifications.rendering import SUBJECT_MAX, Rendered, pick_locale
from app.general.notifications.services import address_of, initial_state


@dataclass
class Message:
    """One message to one recipient, on one or more channels."""

    template: str
    key: str
    context: dict
    user: Any
    address: str | None
    channels: tuple[str, ...]
    locale: str


def _gettext(catalogue: Any) -> Callable[..., str]:
    """Jinja's newstyle `_()` bound to one catalogue (Flask-Babel's looks the catalogue up on every string)."""

    def gettext(text: str, **values: Any) -> str:
        return catalogue.gettext(text) % values

    return gettext


def _ngettext(catalogue: Any) -> Callable[..., str]:
    """Jinja's newstyle `ngettext()` bound to one catalogue (`num` is available to both forms)."""

    def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
        return catalogue.ngettext(singular, plural, num) % {"num": num, **values}

    return ngettext


def _render(template: Template, context: dict) -> str:
    """`template.render(context)` without merging the globals again through a ChainMap (half the time)."""
    return "".join(template.root_render_func(template.new_context(context, shared=True)))


class Outbox:
    """The run's messages, rendered per language and written in one batch (the caller commits).

    The rows are those `notifications.services.notify` writes: rendered in the recipient's language, inbox rows
    delivered by being written, a missing address failed at once, e-mails dispatched after commit; an existing
    idempotency key is left as it is, so nothing is written twice. Plain text only: an `.html` variant of a
    template is not used.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add(self, template: str, key: str, context: dict, *, user: Any = None, address: str | None = None,
            channels: tuple[str, ...] = (Channel.INBOX, Channel.EMAIL), locale: str | None = None) -> None:
        """One message to one recipient; one row per channel, keys `<key>:<channel>`; in `locale` when given (a
        recipient without an account), else in the user's own language."""
        locale = pick_locale(locale or (user.locale if user else None), None)
        self.messages.append(Message(template, key, context, user, address, channels, locale))

    def _rendered(self) -> Iterator[tuple[Message, Rendered]]:
        """Each message rendered in its language: the catalogue is looked up once per language, not per string."""
        by_locale: dict[str, list[Message]] = defaultdict(list)
        for message in self.messages:
            by_locale[message.locale].append(message)
        env = current_app.jinja_env
        for locale, messages in by_locale.items():
            with force_locale(locale):
                catalogue = get_translations()
                gettext, ngettext = _gettext(catalogue), _ngettext(catalogue)
                for m in messages:
                    context = {**env.globals, **m.context, "recipient": m.user, "_": gettext, "gettext": gettext,
                               "ngettext": ngettext}
                    subject = _render(env.get_template(f"{m.template}.subject.txt"), context)
                    body = _render(env.get_template(f"{m.template}.txt"), context)
                    yield m, Rendered(" ".join(subject.split())[:SUBJECT_MAX], body.strip(), None)

    def _rows(self, stamp: datetime) -> Iterator[dict]:
        for m, rendered in self._rendered():
            stored = json.dumps(m.context, default=str, ensure_ascii=False)
            for channel in m.channels:
                to = (m.address if m.address is not None else address_of(m.user, channel)) or ""
                if channel == Channel.INBOX:
                    to = ""
                yield {"idempotency_key": f"{m.key}:{channel}", "channel": str(channel),
                       "recipient_user_id": m.user.id if m.user else None, "recipient_address": to[:254],
                       "template": m.template, "context": stored, "locale": m.locale, "subject": rendered.subject,
                       "body_text": rendered.body_text, "body_html": None, "attempts": 0,
                       **initial_state(channel, to, stamp),
                       "created_at": stamp}

    def write(self) -> int:
        """Insert the rows; the e-mails among them are dispatched after commit. Returns the rows written."""
        if not self.messages:
            return 0
        stamp = utcnow()  # also tells this run's rows from those already there
        insert_ignoring_conflicts(Notification.__table__, list(self._rows(stamp)), ("idempotency_key",))
        written = db.session.execute(sa.select(Notification.id, Notification.status).where(
            Notification.created_at == stamp, Notification.template.in_({m.template for m in self.messages}))).all()
        session = db.session()
        for notification_id, status in written:
            if status == Status.PENDING:
                outbox.enqueue_after_commit(session, notification_id)
        return len(written)
