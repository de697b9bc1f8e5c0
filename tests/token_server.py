"""Real loopback servers for the auth tests: an OAuth token endpoint and a bearer-protected API.

The token endpoint lets google-auth's real refresh path (a service-account JWT grant) run
offline; the API answers 401 to any token it does not accept, so retry behaviour is observable.
Both are one Starlette app served by ``vertex_conformance.loopback``, whose event loop handles one
request at a time, so the recorded state needs no lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth.exceptions
import google.auth.transport.requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vertex_conformance.loopback import serve as serve_app


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

    @property
    def token_calls(self) -> int:
        return len(self.token_requests)

    def next_token_reply(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        index = min(len(self.token_requests), len(self.token_replies)) - 1
        return self.token_replies[index]


def _app(state: AuthServer) -> Starlette:
    async def token(request: Request) -> Response:
        status, reply = state.next_token_reply(parse_qs((await request.body()).decode()))
        return JSONResponse(reply, status_code=status)

    async def api(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        state.api_authorizations.append(auth)
        if auth.removeprefix("Bearer ") not in state.accepted:
            return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status_code=401)
        if request.url.path == "/api/stream":
            body = b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: [DONE]\n\n'
            return Response(body, media_type="text/event-stream")
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/api", api, methods=["POST"]),
            Route("/api/stream", api, methods=["POST"]),
        ]
    )


@contextmanager
def serve(state: AuthServer) -> Iterator[AuthServer]:
    """Run the servers on a free loopback port for the duration of the block."""
    with serve_app(_app(state)) as url:
        state.url = url
        yield state


class LoopbackOnlyRequest(google.auth.transport.requests.Request):
    """google-auth transport that refuses anything but loopback, so no test can reach a real Google host."""

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise google.auth.exceptions.TransportError(f"test transport refused non-loopback host {host}")
        return super().__call__(url, method=method, **kwargs)
