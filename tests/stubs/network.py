"""An autouse guard: a test that reaches beyond the loopback interface, or a real mail port, fails."""
from __future__ import annotations

import ipaddress
import socket

import pytest

MAIL_PORTS = {25, 465, 587, 2525}


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _refusal(family: int, address) -> str | None:
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return None  # Unix sockets and the like never leave the machine
    host, port = address[0], address[1]
    if not _is_loopback(str(host)):
        return f"network access outside the loopback interface: {host}:{port}"
    if int(port) in MAIL_PORTS:
        return f"a real mail server port: {host}:{port}"
    return None


@pytest.fixture(autouse=True)
def block_outside_network(monkeypatch):
    """Fail any test that connects to a non-loopback address or to a mail port (25/465/587)."""
    attempts: list[str] = []
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(original):
        def connect(sock, address):
            problem = _refusal(sock.family, address)
            if problem:
                attempts.append(problem)
                raise ConnectionRefusedError(f"blocked in tests: {problem}")
            return original(sock, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(original_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(original_connect_ex))
    yield attempts
    if attempts:
        pytest.fail("test tried to reach the network: " + "; ".join(attempts), pytrace=False)
