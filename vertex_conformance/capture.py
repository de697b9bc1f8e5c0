"""Turning captured traffic (a file saved from a log, a proxy or a terminal) into an ``Exchange``.

A capture holds only the response body, so the exchange gets status 0 ("unknown") and no
headers, and the checks' own predicates decide whether a JSON body is an answer or an error.
Whether the text is a stream is decided here, by its first non-blank line, because that is all a
saved stream has to say for itself. Text that is neither a stream nor JSON is still traffic: it
becomes a body that fails ``response.json``, not an input error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .checks import Context
from .checks._predicates import is_error_body
from .exchange import Exchange, WireRequest, parse_json

Kind = Literal["stream", "response", "error"]

# An SSE stream opens with a field or a comment; "retry:" is a field too, though rarely first.
_SSE_OPENINGS = ("data:", "event:", "id:", "retry:", ":")


class UnreadableInput(Exception):
    """A file that cannot be checked at all (missing, a directory, not UTF-8, empty, bad request)."""


def looks_like_sse(text: str) -> bool:
    """True when the first non-blank line starts like an SSE field or comment."""
    for line in text.splitlines():
        if line.strip():
            return line.startswith(_SSE_OPENINGS)
    return False


def exchange_from_text(text: str, request: WireRequest | None = None) -> Exchange:
    """The exchange a captured response body stands for (status unknown, no headers)."""
    if looks_like_sse(text):
        return Exchange(request=request, status=0, headers={}, stream_text=text)
    return Exchange(request=request, status=0, headers={}, body_text=text)


def kind_of(exchange: Exchange) -> Kind:
    """``stream``, ``error`` or ``response``, decided by the same predicate the checks use."""
    if exchange.streamed:
        return "stream"
    return "error" if is_error_body(Context(exchange)) else "response"


def read_text(path: Path) -> str:
    """The text of a capture file; raises ``UnreadableInput`` with a one-line reason."""
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        # utf-8-sig: a byte-order mark added by an editor is not part of the traffic.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{path}: not UTF-8 (byte {exc.start}: {data[exc.start]:#04x})") from exc
    if not text.strip():
        raise UnreadableInput(f"{path}: empty file")
    return text


def read_capture(path: Path, request: WireRequest | None = None) -> Exchange:
    """The exchange for a captured response file; raises ``UnreadableInput``."""
    return exchange_from_text(read_text(path), request)


def read_request(path: Path) -> WireRequest:
    """A request body file as the request that was sent (method and URL unknown, no headers).

    Raises ``UnreadableInput`` unless the file holds one JSON object: a request body that is not
    JSON would silently switch the request-aware checks off.
    """
    text = read_text(path)
    try:
        body = parse_json(text)  # what WireRequest.body will accept, or the checks would go quiet
    except ValueError as exc:
        raise UnreadableInput(f"{path}: request is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise UnreadableInput(f"{path}: request is JSON but not an object")
    return WireRequest(method="POST", url="", headers={}, body_text=text)
