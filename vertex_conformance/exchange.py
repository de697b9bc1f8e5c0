"""The exchange: one request as it went on the wire and the response as it came back.

Everything a check needs travels in this one object, so checks stay pure functions and serve
every lane alike: the raw ``httpx`` lane and the ``openai`` SDK lane differ only in how an
exchange is produced. Bodies are kept as the text that crossed the wire; parsing is the checks'
business, because "it did not parse" is itself a finding.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from .sse import Event, SSEStream, parse_sse

# JSON nested deeper than this is refused as a client would refuse it: RFC 8259 section 9 lets a
# parser limit nesting, and serde_json (the Rust clients' parser) stops at 128 by default. Below it
# every check is safe: jsonschema-rs cannot report an error about 255 levels deep, and Python's
# recursion limit is near 1,000 frames. The answers go 8 levels deep.
MAX_DEPTH = 128


def parse_json(text: str) -> Any:
    """``text`` as JSON, or ValueError (orjson.JSONDecodeError is one) saying why it is not.

    What counts as JSON here is RFC 8259, as orjson reads it: json.loads also takes NaN, Infinity
    and lone surrogates, which no JSON document may hold, so a strict client would reject an answer
    json.loads passes; a number too large for a double is refused too. orjson is also about twice
    as fast, and a long stream is mostly parsing. One difference is looser: an integer beyond 64 bits
    comes back as a float (no answer carries one). Nesting beyond ``MAX_DEPTH`` is refused too.
    """
    value = orjson.loads(text)
    # A document cannot nest deeper than it has brackets: counting them (in C) spares the walk
    # for nearly every chunk of a stream.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ValueError(
            f"nested more than {MAX_DEPTH} arrays and objects deep, beyond what clients parse "
            "(serde_json's default limit)"
        )
    return value


def nesting_depth(value: Any, stop_past: int | None = None) -> int:
    """How many arrays and objects deep ``value`` goes (a scalar: 0): level by level, without
    recursion (which deep input would exhaust); with ``stop_past``, it stops once past that depth."""
    depth, level = 0, [value]
    while containers := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        if stop_past is not None and depth > stop_past:
            break
        level = [child for v in containers for child in (v.values() if isinstance(v, dict) else v)]
    return depth


def decode_utf8(data: bytes) -> tuple[str, str | None]:
    """``data`` as a client decodes it, and why it is not UTF-8 (``None`` when it is).

    Both text/event-stream (WHATWG HTML: "always UTF-8") and JSON (RFC 8259 section 8.1) are UTF-8
    whatever a charset parameter says, and a client replaces each invalid sequence with U+FFFD, so
    the checks judge that text; the reason keeps the bad bytes a finding of their own, since a
    U+FFFD on the wire and one made by the decoder look alike afterwards.
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.end]
        why = f"byte {exc.start} is not UTF-8 ({exc.reason}: {bad.hex(' ')})"
        return data.decode("utf-8", "replace"), why


_pause_lock = threading.Lock()
_paused = 0  # how many bulk_acyclic blocks are open, in every thread
_resume = False  # whether the collector ran before the first of them


@contextmanager
def bulk_acyclic() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that cannot form cycles.

    A long stream's parsed events are tens of thousands of small dicts and lists; each allocation
    counts towards the next collection, and collections walk every live container, so the
    collector ends up taking about half of the parse time and finds nothing (JSON values are
    acyclic; reference counting frees them). Mercurial's ``util.nogc`` does the same for the same
    reason. The collector is resumed only if it was running, and only when the last open block (in
    any thread) closes, so callers may nest this and threads may overlap.
    """
    global _paused, _resume
    with _pause_lock:  # threads (--concurrency, the gateway) pause and resume it as one
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()


@dataclass(frozen=True)
class WireRequest:
    """The request as sent. Headers are already redacted (see ``redaction``)."""

    method: str
    url: str
    headers: dict[str, str]
    body_text: str

    @cached_property
    def body(self) -> Any:
        """The parsed JSON body, or ``None`` when the body was empty or not JSON."""
        try:
            return parse_json(self.body_text) if self.body_text else None
        except ValueError:
            return None


@dataclass
class Exchange:
    """One request/response pair. ``stream_text`` is set for SSE responses, ``body_text`` otherwise."""

    request: WireRequest | None
    status: int
    headers: dict[str, str]
    body_text: str | None = None
    stream_text: str | None = None
    lane: str = "httpx"
    sdk_view: Any = None  # what the SDK's typed objects held, dumped to JSON (SDK lane only)
    notes: dict[str, Any] = field(default_factory=dict)
    undecodable: str | None = None  # why the answer's bytes were not UTF-8 (see ``decode_utf8``)
    expected_body: Any = None  # the documented body the raw lane sends (client lanes: what to compare with)

    @property
    def streamed(self) -> bool:
        return self.stream_text is not None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @cached_property
    def _parsed_body(self) -> tuple[str | None, Any]:
        if self.body_text is None:
            return "there is no body", None
        try:
            return None, parse_json(self.body_text)
        except ValueError as exc:
            return str(exc), None

    @property
    def body_is_json(self) -> bool:
        """Whether the non-streamed body parsed as JSON (``null`` included)."""
        return self._parsed_body[0] is None

    @property
    def body_error(self) -> str | None:
        """Why the non-streamed body is not JSON (``None`` when it is)."""
        return self._parsed_body[0]

    @property
    def body(self) -> Any:
        """The parsed JSON body (non-streamed), or ``None`` when it is absent or not JSON."""
        return self._parsed_body[1]

    @cached_property
    def sse(self) -> SSEStream:
        """The SSE framing of ``stream_text`` (empty for non-streamed exchanges)."""
        with bulk_acyclic():
            return parse_sse(self.stream_text or "")

    @cached_property
    def parsed_events(self) -> list[tuple[Event, Any, str | None]]:
        """Every event with its data parsed once: ``(event, value, None)``, or ``(event, None, why)``
        when the data is not JSON. ``[DONE]`` is kept as the string it is."""
        out: list[tuple[Event, Any, str | None]] = []
        events = self.sse.events
        with bulk_acyclic():
            for event in events:
                if event.data == "[DONE]":
                    out.append((event, event.data, None))
                    continue
                try:
                    out.append((event, parse_json(event.data), None))
                except ValueError as exc:
                    out.append((event, None, str(exc)))
        return out

    @cached_property
    def chunks(self) -> list[tuple[int, Any]]:
        """``(event index, chunk)`` for every event whose data is a JSON object (``[DONE]`` and
        malformed events are left to the framing checks)."""
        events = self.parsed_events
        with bulk_acyclic():
            return [(event.index, value) for event, value, _ in events if isinstance(value, dict)]
