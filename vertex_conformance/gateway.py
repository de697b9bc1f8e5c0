"""The client lanes' gateway: the one server on 127.0.0.1 that every client under test talks to.

A client lane cannot be wired into the suite's HTTP stack the way the SDK lanes are: openai-node is
another process, LiteLLM and LangChain build their own HTTP clients. So each of them is given a base
URL on this gateway instead of the target's, and the gateway does what the lanes' shared transport
does for the others:

- **replay**: it answers from the raw lane's recording of the same test (``Call.replay_from``),
  matched by meaning (``matching``: real clients spell the token limit, ``stream`` and
  ``stream_options`` their own way; where ``extra_body`` and ``extra_content`` sit still has to
  match). A request no recording answers gets ``serve``'s 404 naming the closest recording and
  every differing path, and the lane reports it as not in the cassette. The recorded answers stay
  the raw lane's: client lanes record nothing.
- **live and record**: it relays the client's exact bytes to the target through the raw lane
  (``lanes.run_httpx``): the same guard, retries, timeouts, credentials and transport-fault
  classification as every lane. The client never holds a credential (it is given a placeholder
  key); a fault is kept for the lane to raise, and the client gets a 502.

Either way the gateway keeps what crossed it (``Crossing``): the client's request as it came and
the answer as the client got it, from which the lane builds the exchange the checks judge. Each
call gets a slot (a path prefix), so concurrent calls never see each other's traffic. One gateway
serves a pytest process (started at the first client-lane call, stopped with the run).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import lanes, loopback
from .config import ConfigError
from .exchange import Exchange, WireRequest
from .matching import Rule
from .recording import parse_body
from .redaction import redact_headers
from .replay_server import (
    CHAT_SUFFIX,
    DEFAULT_MAX_BODY_BYTES,
    Recording,
    explain_miss,
    find_recording,
    load_cassette,
    read_body,
    route_path,
)
from .stand_in import google_error

PLACEHOLDER_TOKEN = "client-lane-gateway-token"  # what the token endpoint hands out: no credential
_NOT_RELAYED = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "date"})


@dataclass
class Crossing:
    """One request a client sent through its slot: as it came, and what it got. ``exchange`` is
    ``None`` when no answer could be given: ``fault`` (live: what the relay raised) or ``missed``
    (replay: why no recording answers)."""

    request: WireRequest
    exchange: Exchange | None = None
    fault: BaseException | None = None
    missed: str | None = None
    done: threading.Event = field(default_factory=threading.Event)  # answered (a client may leave first)


@dataclass
class Slot:
    """One call's path prefix on the gateway: where its client is sent, and what crossed it."""

    id: str
    gateway_url: str
    call: lanes.Call
    tokens: Any
    recordings: list[Recording] | None  # replay; None: relay to the target
    crossings: list[Crossing] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """The base URL the client is given: the target's path under this slot's prefix."""
        return f"{self.gateway_url}/s/{self.id}{urlsplit(self.call.base_url).path}"

    @property
    def token_url(self) -> str:
        return f"{self.gateway_url}/token"

    def answers(self, body: Any) -> bool:
        """Whether the recording answers ``body`` sent to the call's own URL (replay only): when
        it does not, the recording is stale, whatever the client sent."""
        path = route_path(self.call.url)
        return find_recording(self.recordings or [], "POST", path, body, Rule.MEANING) is not None

    def upstream(self, path: str, query: str) -> str:
        """The target URL of a request the client sent to ``path`` (below the slot's prefix)."""
        parts = urlsplit(self.call.base_url)
        return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


class Gateway:
    """The loopback server the client lanes talk to (see the module's docstring)."""

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self.url = self._stack.enter_context(loopback.serve(self._app()))

    def close(self) -> None:
        self._stack.close()

    @contextmanager
    def slot(self, call: lanes.Call, tokens: Any) -> Iterator[Slot]:
        """A slot for one call; what crossed it stays readable after the block."""
        recordings = _recordings(call.replay_from) if call.replay_from is not None else None
        slot = Slot(secrets.token_hex(8), self.url, call, tokens, recordings)
        with self._lock:
            self._slots[slot.id] = slot
        try:
            yield slot
        finally:
            with self._lock:
                del self._slots[slot.id]

    def _app(self) -> Starlette:
        async def token(request: Request) -> Response:
            """A Google OAuth token endpoint for clients that fetch their own (LiteLLM's vertex_ai
            routes): the relay adds the run's credentials, so the client's token is a placeholder."""
            token = {"access_token": PLACEHOLDER_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
            return JSONResponse(token)

        async def relay(request: Request) -> Response:
            with self._lock:
                slot = self._slots.get(request.path_params["slot"])
            if slot is None:
                return google_error(404, "No client-lane call is waiting on this gateway path.")
            try:
                raw = await read_body(request, DEFAULT_MAX_BODY_BYTES)
            except ClientDisconnect:
                return Response(status_code=499)
            if raw is None:
                return google_error(413, f"The request body is larger than {DEFAULT_MAX_BODY_BYTES} bytes.")
            path = "/" + request.path_params["path"]
            return await run_in_threadpool(
                _answer, slot, request.method, path, request.url.query, dict(request.headers), raw
            )

        return Starlette(
            routes=[
                Route("/token", token, methods=["POST"]),
                Route("/s/{slot}/{path:path}", relay, methods=["GET", "POST"]),
            ]
        )


def _answer(slot: Slot, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> Response:
    """Answer one request of ``slot``'s client (in a worker thread: relaying blocks) and keep it."""
    url = slot.upstream(path, query)
    request = WireRequest(method, url, redact_headers(headers), raw.decode("utf-8", "replace"))
    crossing = Crossing(request)
    slot.crossings.append(crossing)
    try:
        return _settle(slot, crossing, method, path, url, raw)
    finally:
        crossing.done.set()


def _settle(slot: Slot, crossing: Crossing, method: str, path: str, url: str, raw: bytes) -> Response:
    if not path.endswith(CHAT_SUFFIX):
        crossing.missed = f"{method} {route_path(url)} is not a chat completions path"
        return google_error(404, f"The client-lane gateway relays chat completions only: {crossing.missed}.")
    body = parse_body(raw)
    call = replace(
        slot.call,
        base_url=url.split("?")[0].removesuffix(CHAT_SUFFIX),
        body=body if isinstance(body, dict) else {},
        content=raw,
        replay_from=None,
    )
    if slot.recordings is not None:
        return _replay(crossing, call, slot.recordings, method, url, body)
    try:
        exchange = lanes.run_httpx(call, slot.tokens)
    except (lanes.TransportError, ConfigError, OSError) as exc:
        crossing.fault = exc
        return google_error(502, "The client-lane gateway could not relay this request (see the report).")
    exchange.request = crossing.request
    crossing.exchange = exchange
    return _response(exchange)


def _replay(
    crossing: Crossing, call: lanes.Call, recordings: list[Recording], method: str, url: str, body: Any
) -> Response:
    path = route_path(url)
    found = find_recording(recordings, method, path, body, Rule.MEANING)
    if found is None:
        crossing.missed, _ = explain_miss(recordings, method, path, body, Rule.MEANING)
        return google_error(404, crossing.missed)
    exchange = Exchange(
        request=crossing.request,
        status=found.status,
        headers={name.lower(): value for name, value in found.headers},
    )
    lanes.attach_body(exchange, call, found.content)
    crossing.exchange = exchange
    return Response(found.content, status_code=found.status, headers=dict(found.headers))


def _response(exchange: Exchange) -> Response:
    """The relayed answer as the client gets it: status, headers less framing, the decoded body."""
    text = exchange.stream_text if exchange.streamed else exchange.body_text
    headers = {name: value for name, value in exchange.headers.items() if name not in _NOT_RELAYED}
    return Response((text or "").encode("utf-8"), status_code=exchange.status, headers=headers)


@lru_cache(maxsize=64)
def _recordings(cassette: Path) -> list[Recording]:
    """The raw lane's recording of a test, loaded once per run (read by every client lane)."""
    return load_cassette(cassette, cassette.name)


_current: Gateway | None = None
_current_lock = threading.Lock()


def current() -> Gateway:
    """The process's gateway, started on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Gateway()
        return _current


def close() -> None:
    """Stop the process's gateway (the end of the run); a later call starts a new one."""
    global _current
    with _current_lock:
        if _current is not None:
            _current.close()
            _current = None
