"""A local stand-in for Vertex that answers with the documented sample responses.

It exists so cassettes can be built from the documentation alone (``build_cassettes``) and so the
harness's own tests exercise real HTTP on 127.0.0.1. Which sample answers a request is decided by
``RULES``, a table of (predicate on the JSON body, sample file) read top to bottom: a new form adds
a row, not a branch. Every answer names its sample in the ``x-conformance-sample`` header, which
the recorder turns into the cassette's provenance (``source: documented-sample``).

Like Vertex, it wants ``Authorization: Bearer <token>`` (any token) and answers errors in Google's
shape, ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .paths import SAMPLES
from .recording import SAMPLE_HEADER

API_VERSIONS = ("v1", "v1beta1")
CHAT_PATH = "/{version}/{resource:path}/chat/completions"  # .../projects/{p}/locations/{l}/endpoints/{e}


def _streams_tool_calls(body: dict[str, Any]) -> bool:
    return body.get("stream") is True and bool(body.get("tools"))


def _streams(body: dict[str, Any]) -> bool:
    return body.get("stream") is True


def _anything(body: dict[str, Any]) -> bool:
    return True


# First match wins; the last row is the fallback.
RULES: list[tuple[Callable[[dict[str, Any]], bool], str]] = [
    (_streams_tool_calls, "stream_function_call_arguments.sse"),
    (_streams, "streaming_chat.sse"),
    (_anything, "plain_chat.json"),
]

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "UNIMPLEMENTED"}


def choose_sample(body: dict[str, Any]) -> str:
    """The sample file that answers ``body``: the first matching row of ``RULES``."""
    return next(sample for predicate, sample in RULES if predicate(body))


def google_error(code: int, message: str) -> JSONResponse:
    """An error in Google's JSON shape."""
    status = _STATUS_NAMES.get(code, "UNKNOWN")
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def sse_events(data: bytes) -> list[bytes]:
    """``data`` cut after each blank line: one SSE event per item; joined they give ``data`` back."""
    parts = data.split(b"\n\n")
    events = [part + b"\n\n" for part in parts[:-1]]
    return [*events, parts[-1]] if parts[-1] else events


async def _one_event_at_a_time(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


async def chat_completions(request: Request) -> Response:
    """Answer a Chat Completions call with the documented sample its body asks for."""
    if request.path_params["version"] not in API_VERSIONS:
        return google_error(404, f"API version {request.path_params['version']!r} is not served here")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return google_error(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        return google_error(400, f"Invalid JSON payload received. {exc}")
    if not isinstance(body, dict):
        return google_error(400, "Invalid JSON payload received. The request body must be a JSON object.")
    sample = choose_sample(body)
    data = (SAMPLES / sample).read_bytes()
    headers = {SAMPLE_HEADER: sample}
    if sample.endswith(".sse"):
        headers["content-type"] = "text/event-stream"
        return StreamingResponse(_one_event_at_a_time(sse_events(data)), headers=headers)
    return Response(data, media_type="application/json", headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return google_error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")


def create_app() -> Starlette:
    """The sample server's ASGI app."""
    return Starlette(
        routes=[Route(CHAT_PATH, chat_completions, methods=["POST"])],
        exception_handlers={HTTPException: _http_error},
    )


@contextmanager
def serve_samples(
    app: Any = None, *, start_timeout: float = 10.0, stop_timeout: float = 5.0
) -> Iterator[str]:
    """Run ``app`` (default: the sample server) under uvicorn on a free 127.0.0.1 port in a thread.

    Yields the base URL (``http://127.0.0.1:<port>``). On exit the server stops accepting, gives open
    connections ``stop_timeout`` seconds, then is forced down: leaving the block never hangs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours before uvicorn starts: no race for a "free" port
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app or create_app(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=max(1, int(stop_timeout / 2)),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sample-server-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sample server did not start on 127.0.0.1:{port}")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(stop_timeout)
        sock.close()
