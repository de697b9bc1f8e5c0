"""Real loopback servers for the auth tests: an OAuth token endpoint and a bearer-protected API.

The token endpoint lets google-auth's real refresh path (a service-account JWT grant) run
offline; the API answers 401 to any token it does not accept, so retry behaviour is observable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth.exceptions
import google.auth.transport.requests


def issued(token: str, expires_in: int = 3600) -> tuple[int, dict[str, Any]]:
    """A successful token-endpoint reply."""
    return 200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


@dataclass
class AuthServer:
    """What the servers answer and what they saw. ``token_replies`` are used in order; the last repeats."""

    token_replies: list[tuple[int, dict[str, Any]]]
    accepted: set[str] = field(default_factory=set)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    api_authorizations: list[str] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_calls(self) -> int:
        return len(self.token_requests)

    def next_token_reply(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests.append(form)
            index = min(len(self.token_requests), len(self.token_replies)) - 1
            return self.token_replies[index]


def _handler(state: AuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            if path == "/token":
                status, reply = state.next_token_reply(parse_qs(body.decode()))
                self._send(status, "application/json", json.dumps(reply).encode())
                return
            auth = self.headers.get("Authorization", "")
            state.api_authorizations.append(auth)
            if auth.removeprefix("Bearer ") not in state.accepted:
                self._send(401, "application/json", b'{"error": {"code": 401, "status": "UNAUTHENTICATED"}}')
            elif path == "/api/stream":
                self._send(200, "text/event-stream", b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n')
            else:
                self._send(200, "application/json", b'{"ok": true}')

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve(state: AuthServer) -> Iterator[AuthServer]:
    """Run the servers on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class LoopbackOnlyRequest(google.auth.transport.requests.Request):
    """google-auth transport that refuses anything but loopback, so no test can reach a real Google host."""

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise google.auth.exceptions.TransportError(f"test transport refused non-loopback host {host}")
        return super().__call__(url, method=method, **kwargs)
