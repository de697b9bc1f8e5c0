"""The exchange: one request as it went on the wire and the response as it came back.

Everything a check needs travels in this one object, so checks stay pure functions and serve
every lane alike: the raw ``httpx`` lane and the ``openai`` SDK lane differ only in how an
exchange is produced. Bodies are kept as the text that crossed the wire; parsing is the checks'
business, because "it did not parse" is itself a finding.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from .sse import Event, SSEStream, parse_sse

# What counts as JSON here is RFC 8259, as orjson reads it: json.loads also takes NaN, Infinity
# and lone surrogates, which no JSON document may hold, so a strict client would reject an answer
# json.loads passes; a number too large for a double is refused too. orjson is also about twice
# as fast, and a long stream is mostly parsing. One difference is looser: an integer beyond 64 bits
# comes back as a float (no answer carries one). Raises ValueError (orjson.JSONDecodeError is one)
# for text that is not JSON.
parse_json = orjson.loads


@contextmanager
def bulk_acyclic() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that cannot form cycles.

    A long stream's parsed events are tens of thousands of small dicts and lists; each allocation
    counts towards the next collection, and collections walk every live container, so the
    collector ends up taking about half of the parse time and finds nothing (JSON values are
    acyclic; reference counting frees them). Mercurial's ``util.nogc`` does the same for the same
    reason. The collector is resumed only if it was running, so callers may nest this.
    """
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
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

    @property
    def streamed(self) -> bool:
        return self.stream_text is not None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @cached_property
    def _parsed_body(self) -> tuple[bool, Any]:
        if self.body_text is None:
            return False, None
        try:
            return True, parse_json(self.body_text)
        except ValueError:
            return False, None

    @property
    def body_is_json(self) -> bool:
        """Whether the non-streamed body parsed as JSON (``null`` included)."""
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
