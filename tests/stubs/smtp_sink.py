"""A tiny threaded SMTP server on 127.0.0.1 that records what it receives (aiosmtpd is not installed).

It understands the commands smtplib sends (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every
message with its X-Idempotency-Key, and accepts a key once (a repeat is acknowledged and dropped).
`mode`: "ok", "tempfail" (451 on DATA), "reject" (550 on RCPT), "drop" (take DATA, then hang up).
"""
from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    key: str | None


@dataclass
class SinkState:
    mode: str = "ok"
    received: list[Received] = field(default_factory=list)  # every DATA, duplicates included
    delivered: dict[str, Received] = field(default_factory=dict)  # by idempotency key, first one wins
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys_seen(self) -> list[str | None]:
        with self.lock:
            return [item.key for item in self.received]


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self._reply("220 sink.test ESMTP ready")
        self.envelope: dict = {"from": "", "rcpts": []}
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode("utf-8", "replace").strip()
            if not self._command(command[:4].upper(), command):
                return

    def _command(self, verb: str, command: str) -> bool:
        """Answer one command; False ends the session."""
        state: SinkState = self.server.state
        if verb == "EHLO":
            self._reply("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760")
        elif verb == "MAIL":
            self.envelope = {"from": command[10:].split()[0].strip("<>"), "rcpts": []}
            self._reply("250 OK")
        elif verb == "RCPT" and state.mode == "reject":
            self._reply("550 5.1.1 no such user")
        elif verb == "RCPT":
            self.envelope["rcpts"].append(command[8:].split()[0].strip("<>"))
            self._reply("250 OK")
        elif verb == "DATA":
            return self._data(state, self.envelope["from"], self.envelope["rcpts"])
        elif verb == "QUIT":
            self._reply("221 bye")
            return False
        else:
            self._reply("250 OK" if verb in ("HELO", "RSET", "NOOP") else "502 not implemented")
        return True

    def _data(self, state: SinkState, mail_from: str, rcpts: list[str]) -> bool:
        self._reply("354 end with <CRLF>.<CRLF>")
        lines = []
        while True:
            raw = self.rfile.readline()
            if not raw or raw in (b".\r\n", b".\n"):
                break
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        message = BytesParser(policy=policy.default).parsebytes(b"".join(lines))
        item = Received(mail_from, list(rcpts), message, message.get("X-Idempotency-Key"))
        with state.lock:
            state.received.append(item)
            if state.mode not in ("tempfail",) and item.key not in state.delivered:
                state.delivered[item.key] = item
        if state.mode == "drop":
            return False  # the message was taken, but the client never hears so
        self._reply("451 4.3.0 try again later" if state.mode == "tempfail" else "250 OK queued")
        return True


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    """Start with `with SmtpSink() as sink:`; `sink.port` is where to send."""

    def __init__(self, host: str = "127.0.0.1"):
        self.state = SinkState()
        self._server = _Server((host, 0), _Handler)
        self._server.state = self.state
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="smtp-sink", daemon=True)

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
