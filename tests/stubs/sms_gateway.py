"""A loopback HTTP SMS gateway: records each request, accepts an idempotency key once, misbehaves on demand.

`mode` (or a queue of per-request `script` modes): "ok"; "fail" (500); "reject" (400); "hang" (takes the
message, then holds the connection until released or shut down); "drop" (takes it, hangs up unanswered).
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class GatewayState:
    token: str
    mode: str = "ok"
    script: deque = field(default_factory=deque)
    requests: list[dict] = field(default_factory=list)  # every POST, duplicates included
    accepted: dict[str, dict] = field(default_factory=dict)  # idempotency_key -> first payload
    release: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_mode(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else self.mode

    def keys_requested(self) -> list[str]:
        with self.lock:
            return [item.get("idempotency_key") for item in self.requests]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state: GatewayState = self.server.state
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._answer(401, {"error": "bad token"})
            return
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        mode = state.next_mode()
        with state.lock:
            state.requests.append({**payload, "mode": mode})
        if mode == "fail":
            self._answer(500, {"error": "provider trouble"})
        elif mode == "reject":
            self._answer(400, {"error": "invalid number"})
        else:
            self._take(state, payload, mode)

    def _take(self, state: GatewayState, payload: dict, mode: str) -> None:
        key = payload.get("idempotency_key")
        with state.lock:
            duplicate = key in state.accepted
            if not duplicate:
                state.accepted[key] = payload
        if mode == "hang":
            state.hanging.set()
            state.release.wait(timeout=120)
            self.close_connection = True
            return
        if mode == "drop":
            self.close_connection = True
            return
        self._answer(200, {"status": "duplicate" if duplicate else "accepted"})


class SmsGateway:
    """Start with `with SmsGateway(token) as gw:`; POST to `gw.url`."""

    def __init__(self, token: str = "test-sms-token", host: str = "127.0.0.1"):  # noqa: S107 (a stub)
        self.state = GatewayState(token=token)
        self._server = ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.state = self.state
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}/send"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="sms-gw", daemon=True)

    def __enter__(self) -> SmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.state.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
