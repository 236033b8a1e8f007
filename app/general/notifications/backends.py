"""Channel backends: SMTP e-mail, HTTP SMS gateway, in-portal inbox, and file/memory stand-ins.

Every backend receives the message's delivery key; the providers (and our stand-ins) drop a key they
have already accepted, which turns the dispatcher's at-least-once re-sends into exactly-once delivery.
"""
from __future__ import annotations

import fcntl
import hashlib
import http.client
import importlib
import json
import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The provider did not take the message; `permanent` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMessage:
    """A snapshot of one outbox row, detached from the database session while it is sent."""

    id: int
    channel: str
    idempotency_key: str
    address: str
    subject: str
    body_text: str
    body_html: str | None = None

    @property
    def delivery_key(self) -> str:
        return delivery_key(self.idempotency_key)


def delivery_key(idempotency_key: str) -> str:
    """The key given to providers: a digest of the outbox key, so internal ids never leave the portal."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


# --- SMTP --------------------------------------------------------------------------------------------


class SmtpBackend:
    """E-mail over SMTP with STARTTLS or implicit TLS and login, as configured."""

    def __init__(self, config):
        self.host, self.port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
        self.username, self.password = config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD")
        self.use_tls, self.use_ssl = bool(config.get("MAIL_USE_TLS")), bool(config.get("MAIL_USE_SSL"))
        self.timeout = float(config.get("MAIL_TIMEOUT", 15))
        self.sender = config["MAIL_FROM"]

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message, with a Message-ID and X-Idempotency-Key derived from the outbox key."""
        email = EmailMessage()
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "staffroom.local"
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = f"<{message.delivery_key}@{domain}>"
        email["X-Idempotency-Key"] = message.delivery_key
        email.set_content(message.body_text)
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        return email

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.use_tls:
                smtp.starttls(context=context)
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def send(self, message: OutgoingMessage) -> None:
        """Hand the message to the SMTP server; 5xx refusals of the recipient or data are permanent."""
        email = self.build(message)
        try:
            smtp = self._connect()
            try:
                smtp.send_message(email)
            finally:
                _quietly_quit(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPDataError as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failure: {exc!r}") from exc


def _quietly_quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


# --- SMS over HTTP -------------------------------------------------------------------------------------


class HttpSmsBackend:
    """POST {to, text, idempotency_key} as JSON to the gateway with a bearer token."""

    def __init__(self, config):
        self.url = config.get("SMS_GATEWAY_URL") or ""
        self.token = config.get("SMS_GATEWAY_TOKEN") or ""
        self.timeout = float(config.get("SMS_TIMEOUT", 10))

    def _request(self, message: OutgoingMessage) -> urllib.request.Request:
        if not self.url.startswith(("http://", "https://")):
            raise DeliveryError("SMS_GATEWAY_URL is not configured (http:// or https:// expected)")
        payload = {"to": message.address, "text": message.body_text, "idempotency_key": message.delivery_key}
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.delivery_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps(payload).encode()
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked)

    def send(self, message: OutgoingMessage) -> None:
        """Send one SMS; non-2xx is a failure, and a 4xx other than 408/429 is permanent."""
        request = self._request(message)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (scheme checked)
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise DeliveryError(f"SMS gateway answered {exc.code}", permanent=permanent) from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc!r}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS gateway answered {status}")


# --- in-portal inbox -----------------------------------------------------------------------------------


class InboxBackend:
    """The inbox row is the message: there is nothing to send."""

    def __init__(self, config=None):
        pass

    def send(self, message: OutgoingMessage) -> None:
        """Nothing to do: the user reads the row in the portal."""


# --- file and memory stand-ins -------------------------------------------------------------------------


class FileBackend:
    """One JSON line per message in OUTBOX_DIR/<channel>.jsonl; a key already written is skipped."""

    def __init__(self, config):
        self.folder = Path(config["OUTBOX_DIR"])

    def send(self, message: OutgoingMessage) -> None:
        """Append the message unless its delivery key is already in the file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{message.channel}.jsonl"
        with open(self.folder / f".{message.channel}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if message.delivery_key in _keys_in(path):
                log.info("file backend: %s already written, skipped", message.delivery_key)
                return
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({**asdict(message), "delivery_key": message.delivery_key}, ensure_ascii=False))
                out.write("\n")


def _keys_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with open(path, encoding="utf-8") as lines:
        return {json.loads(line)["delivery_key"] for line in lines if line.strip()}


SENT: list[dict] = []  # the memory backend's outbox, read by tests
_SENT_LOCK = threading.Lock()


class MemoryBackend:
    """Appends to the module-level SENT list, once per delivery key."""

    def __init__(self, config=None):
        pass

    def send(self, message: OutgoingMessage) -> None:
        """Record the message unless its key was recorded before."""
        with _SENT_LOCK:
            if any(item["delivery_key"] == message.delivery_key for item in SENT):
                return
            SENT.append({**asdict(message), "delivery_key": message.delivery_key})


# --- choosing a backend --------------------------------------------------------------------------------

BACKENDS = {"smtp": SmtpBackend, "http": HttpSmsBackend, "file": FileBackend, "memory": MemoryBackend}
SETTING = {"email": "MAIL_BACKEND", "sms": "SMS_BACKEND"}


def _resolve(name: str):
    if name in BACKENDS:
        return BACKENDS[name]
    if ":" in name:  # "package.module:Class" for a custom provider
        module_name, _, attr = name.partition(":")
        return getattr(importlib.import_module(module_name), attr)
    raise ValueError(f"unknown notification backend {name!r}")


def backend_for(channel: str):
    """The configured backend of a channel (inbox needs none)."""
    if channel == "inbox":
        return InboxBackend()
    name = current_app.config.get(SETTING[channel], "memory")
    return _resolve(name)(current_app.config)
