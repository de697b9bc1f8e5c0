"""How a local stand-in for Vertex answers where Vertex's own manner matters to a client.

Shared by ``vertex-conformance serve`` (``replay_server``) and the sample server in ``tools/``, so
both refuse a missing bearer token the same way, word errors in Google's shape, and write a stream
one SSE event at a time, as Vertex does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# google.rpc.Code has no code of its own for 413; Google's APIs call an oversized payload INVALID_ARGUMENT.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
}


def google_error(code: int, message: str) -> JSONResponse:
    """An error in Google's JSON shape, ``{"error": {"code", "message", "status"}}``."""
    status = _STATUS_NAMES.get(code, "UNKNOWN")
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def unauthenticated(request: Request) -> Response | None:
    """Vertex's 401 for a request without ``Authorization: Bearer <token>`` (any token will do here)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return None
    return google_error(
        401,
        "Request is missing required authentication credential. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
    )


def sse_events(data: bytes) -> list[bytes]:
    """``data`` cut after each blank line: one SSE event per item; joined they give ``data`` back."""
    parts = data.split(b"\n\n")
    events = [part + b"\n\n" for part in parts[:-1]]
    return [*events, parts[-1]] if parts[-1] else events
