"""Turning captured traffic (a file saved from a log, a proxy or a terminal) into an ``Exchange``.

A capture holds only the response body, so the exchange gets status 0 ("unknown") and no
headers, and the checks' own predicates decide whether a JSON body is an answer or an error.
Whether the text is a stream is decided here, by its first non-blank line, because that is all a
saved stream has to say for itself. Text that is neither a stream nor JSON is still traffic: it
becomes a body that fails ``response.json``, not an input error; so are bytes that are not UTF-8
(``response.utf8``/``sse.utf8``). A file is read up to ``MAX_CAPTURE_BYTES`` only, so a larger or
endless one (``/dev/zero``) is refused at once instead of read until memory runs out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .checks import Context
from .checks._predicates import is_error_body
from .exchange import Exchange, WireRequest, decode_utf8, parse_json

Kind = Literal["stream", "response", "error"]

# An SSE stream opens with a field or a comment; "retry:" is a field too, though rarely first.
_SSE_OPENINGS = ("data:", "event:", "id:", "retry:", ":")
_BOM = b"\xef\xbb\xbf"
# Far above any answer (a long stream is a few MiB), far below what a machine can hold.
MAX_CAPTURE_BYTES = 32 * 1024 * 1024


class UnreadableInput(Exception):
    """A file that cannot be checked at all (missing, a directory, too large, empty, bad request)."""


def looks_like_sse(text: str) -> bool:
    """True when the first non-blank line starts like an SSE field or comment (after a leading
    byte-order mark, which a stream may carry)."""
    for line in text.removeprefix("\ufeff").splitlines():
        if line.strip():
            return line.startswith(_SSE_OPENINGS)
    return False


def exchange_from_text(text: str, request: WireRequest | None = None) -> Exchange:
    """The exchange a captured response body stands for (status unknown, no headers)."""
    if looks_like_sse(text):
        return Exchange(request=request, status=0, headers={}, stream_text=text)
    return Exchange(request=request, status=0, headers={}, body_text=text)


def exchange_from_bytes(data: bytes, request: WireRequest | None = None) -> Exchange:
    """The exchange captured bytes stand for: decoded as a client decodes them, with any bytes
    that are not UTF-8 kept as evidence for the checks rather than refused."""
    text, undecodable = decode_utf8(data)
    exchange = exchange_from_text(text, request)
    exchange.undecodable = undecodable
    return exchange


def kind_of(exchange: Exchange) -> Kind:
    """``stream``, ``error`` or ``response``, decided by the same predicate the checks use."""
    if exchange.streamed:
        return "stream"
    return "error" if is_error_body(Context(exchange)) else "response"


def read_bytes(path: Path) -> bytes:
    """The bytes of a capture file, at most ``MAX_CAPTURE_BYTES``; raises ``UnreadableInput`` with a
    one-line reason."""
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a directory")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CAPTURE_BYTES + 1)
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_CAPTURE_BYTES:
        raise UnreadableInput(f"{path}: larger than {MAX_CAPTURE_BYTES // 2**20} MiB, the most check reads")
    # A byte-order mark added by an editor is not part of the traffic.
    data = data.removeprefix(_BOM)
    if not data.strip():
        raise UnreadableInput(f"{path}: empty file")
    return data


def read_text(path: Path) -> str:
    """The text of a file given as input (not traffic); raises ``UnreadableInput`` unless UTF-8."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{path}: not UTF-8 (byte {exc.start}: {data[exc.start]:#04x})") from exc


def read_capture(path: Path, request: WireRequest | None = None) -> Exchange:
    """The exchange for a captured response file; raises ``UnreadableInput``."""
    return exchange_from_bytes(read_bytes(path), request)


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
