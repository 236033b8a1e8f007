"""Channel backends against loopback stand-ins: SMTP sink, HTTP SMS gateway, file and memory (F11)."""
from __future__ import annotations

import json
import smtplib
import socket

import pytest

from app.general.notifications.backends import (
    DeliveryError,
    FileBackend,
    HttpSmsBackend,
    MemoryBackend,
    OutgoingMessage,
    SmtpBackend,
    backend_for,
    delivery_key,
)
from tests.stubs.network import _refusal
from tests.stubs.sms_gateway import SmsGateway
from tests.stubs.smtp_sink import SmtpSink

TOKEN = "sms-secret"


def _message(channel="email", key="b:1", address="parent@example.test", **kwargs) -> OutgoingMessage:
    fields = {"subject": "Class change", "body_text": "Maths moves to room 12.", "body_html": None, **kwargs}
    return OutgoingMessage(id=1, channel=channel, idempotency_key=key, address=address, **fields)


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture
def gateway():
    with SmsGateway(TOKEN) as server:
        yield server


def _smtp(sink, **overrides) -> SmtpBackend:
    config = {"MAIL_SERVER": sink.host, "MAIL_PORT": sink.port, "MAIL_FROM": "Staffroom <no-reply@school.test>",
              "MAIL_TIMEOUT": 5, **overrides}
    return SmtpBackend(config)


def _sms(gateway, **overrides) -> HttpSmsBackend:
    return HttpSmsBackend({"SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TOKEN": TOKEN, "SMS_TIMEOUT": 5, **overrides})


# --- SMTP -----------------------------------------------------------------------------------------------


def test_smtp_delivers_with_a_message_id_and_idempotency_key_from_the_outbox_key(sink):
    _smtp(sink).send(_message(body_html="<p>Maths moves to room 12.</p>"))
    [received] = sink.state.received
    key = delivery_key("b:1")
    assert received.key == key and received.rcpt_tos == ["parent@example.test"]
    assert received.message["Message-ID"] == f"<{key}@school.test>"
    assert received.message["Subject"] == "Class change"
    assert received.message.get_body(("plain",)).get_content().strip() == "Maths moves to room 12."
    assert "room 12" in received.message.get_body(("html",)).get_content()


def test_smtp_carries_non_ascii_names_intact(sink):
    _smtp(sink).send(_message(subject="ねこ先生のクラス", body_text="こんにちは ねこ"))
    message = sink.state.received[0].message
    assert message["Subject"] == "ねこ先生のクラス"
    assert "こんにちは ねこ" in message.get_body(("plain",)).get_content()


def test_the_sink_accepts_a_key_once(sink):
    backend = _smtp(sink)
    backend.send(_message())
    backend.send(_message())
    assert len(sink.state.received) == 2 and list(sink.state.delivered) == [delivery_key("b:1")]


def test_smtp_recipient_refused_is_permanent(sink):
    sink.state.mode = "reject"
    with pytest.raises(DeliveryError) as caught:
        _smtp(sink).send(_message())
    assert caught.value.permanent


def test_smtp_temporary_failure_is_retryable(sink):
    sink.state.mode = "tempfail"
    with pytest.raises(DeliveryError) as caught:
        _smtp(sink).send(_message())
    assert not caught.value.permanent


def test_smtp_server_that_takes_the_message_then_hangs_up_is_retryable_and_deduped(sink):
    sink.state.mode = "drop"
    with pytest.raises(DeliveryError) as caught:
        _smtp(sink).send(_message())
    assert not caught.value.permanent
    sink.state.mode = "ok"
    _smtp(sink).send(_message())
    assert len(sink.state.received) == 2 and len(sink.state.delivered) == 1


def test_smtp_server_unreachable_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    backend = SmtpBackend({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": closed_port, "MAIL_FROM": "a@b.test",
                           "MAIL_TIMEOUT": 2})
    with pytest.raises(DeliveryError) as caught:
        backend.send(_message())
    assert not caught.value.permanent


class FakeSMTP:
    """Records the conversation an SMTP backend would have (for TLS and login, which the sink does not speak)."""

    instances: list[FakeSMTP] = []

    def __init__(self, host, port, timeout=None, context=None):
        self.calls = [("connect", host, port, context is not None)]
        FakeSMTP.instances.append(self)

    def starttls(self, context=None):
        self.calls.append(("starttls", context is not None))

    def login(self, user, password):
        self.calls.append(("login", user))

    def send_message(self, message):
        self.calls.append(("send", message["X-Idempotency-Key"]))

    def quit(self):
        self.calls.append(("quit",))


@pytest.mark.parametrize(("use_tls", "use_ssl", "expected"), [
    (True, False, [("connect", "mail.test", 587, False), ("starttls", True), ("login", "u"),
                   ("send", delivery_key("b:1")), ("quit",)]),
    (False, True, [("connect", "mail.test", 587, True), ("login", "u"), ("send", delivery_key("b:1")), ("quit",)]),
])
def test_smtp_uses_starttls_or_implicit_tls_and_logs_in_as_configured(monkeypatch, use_tls, use_ssl, expected):
    FakeSMTP.instances = []
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSMTP)
    SmtpBackend({"MAIL_SERVER": "mail.test", "MAIL_PORT": 587, "MAIL_FROM": "a@b.test", "MAIL_USERNAME": "u",
                 "MAIL_PASSWORD": "p", "MAIL_USE_TLS": use_tls, "MAIL_USE_SSL": use_ssl}).send(_message())
    assert FakeSMTP.instances[0].calls == expected


# --- SMS over HTTP --------------------------------------------------------------------------------------


def test_sms_posts_json_with_a_bearer_token_and_the_idempotency_key(gateway):
    _sms(gateway).send(_message(channel="sms", address="+8613800000000", body_text="Hello ねこ"))
    [request] = gateway.state.requests
    assert request["to"] == "+8613800000000" and request["text"] == "Hello ねこ"
    assert request["idempotency_key"] == delivery_key("b:1")


def test_the_gateway_accepts_a_key_once(gateway):
    backend = _sms(gateway)
    backend.send(_message(channel="sms"))
    backend.send(_message(channel="sms"))
    assert len(gateway.state.requests) == 2 and len(gateway.state.accepted) == 1


@pytest.mark.parametrize(("mode", "permanent"), [("fail", False), ("reject", True)])
def test_sms_gateway_errors_are_failures(gateway, mode, permanent):
    gateway.state.mode = mode
    with pytest.raises(DeliveryError) as caught:
        _sms(gateway).send(_message(channel="sms"))
    assert caught.value.permanent is permanent


def test_a_wrong_token_is_a_permanent_failure(gateway):
    with pytest.raises(DeliveryError) as caught:
        _sms(gateway, SMS_GATEWAY_TOKEN="wrong").send(_message(channel="sms"))
    assert caught.value.permanent and "401" in str(caught.value)


def test_a_hanging_gateway_times_out_as_a_retryable_failure(gateway):
    gateway.state.mode = "hang"
    with pytest.raises(DeliveryError) as caught:
        _sms(gateway, SMS_TIMEOUT=0.5).send(_message(channel="sms"))
    assert not caught.value.permanent


def test_a_gateway_that_accepts_then_drops_is_retried_and_deduped(gateway):
    gateway.state.script.extend(["drop", "ok"])
    backend = _sms(gateway)
    with pytest.raises(DeliveryError):
        backend.send(_message(channel="sms"))
    backend.send(_message(channel="sms"))
    assert gateway.state.keys_requested() == [delivery_key("b:1")] * 2
    assert len(gateway.state.accepted) == 1


def test_an_unconfigured_gateway_is_a_failure_not_a_crash():
    with pytest.raises(DeliveryError):
        HttpSmsBackend({"SMS_GATEWAY_URL": "file:///etc/passwd"}).send(_message(channel="sms"))


# --- file, memory, choice ------------------------------------------------------------------------------


def test_the_file_backend_writes_one_json_line_per_key(tmp_path):
    backend = FileBackend({"OUTBOX_DIR": str(tmp_path)})
    backend.send(_message(key="f:1", subject="ねこ"))
    backend.send(_message(key="f:1"))
    backend.send(_message(key="f:2"))
    lines = [json.loads(line) for line in (tmp_path / "email.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["idempotency_key"] for line in lines] == ["f:1", "f:2"]
    assert lines[0]["subject"] == "ねこ" and lines[0]["delivery_key"] == delivery_key("f:1")


def test_the_memory_backend_dedupes_by_key(sent):
    MemoryBackend().send(_message(key="m:1"))
    MemoryBackend().send(_message(key="m:1"))
    assert [m["idempotency_key"] for m in sent] == ["m:1"]


def test_backends_are_chosen_by_configuration(app, monkeypatch):
    with app.app_context():
        assert isinstance(backend_for("email"), MemoryBackend)
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        assert isinstance(backend_for("sms"), HttpSmsBackend)
        monkeypatch.setitem(app.config, "MAIL_BACKEND", "nonsense")
        with pytest.raises(ValueError):
            backend_for("email")


# --- the network guard --------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "blocked"), [
    (("127.0.0.1", 8025), False), (("localhost", 8025), False), (("::1", 8025, 0, 0), False),
    (("93.184.216.34", 443), True), (("10.0.0.5", 6379), True), (("127.0.0.1", 25), True), (("localhost", 587), True),
])
def test_the_guard_allows_only_loopback_and_never_a_mail_port(address, blocked):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    assert (_refusal(family, address) is not None) is blocked


def test_a_test_reaching_out_is_stopped_and_reported(block_outside_network):
    with pytest.raises(ConnectionRefusedError, match="blocked in tests"):
        smtplib.SMTP("192.0.2.1", 25, timeout=1)
    assert block_outside_network  # the fixture would fail this test at teardown ...
    block_outside_network.clear()  # ... which is what this test expects, so it clears the record
