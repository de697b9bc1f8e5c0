"""Server-sent-event framing for captured streams.

Framing is delegated to httpx-sse's event source, run over the captured text, so a stream saved
from a log and a stream read off the wire are framed by the same code. What httpx-sse silently
skips (lines with an unknown field name) is kept here as ``stray_lines``, because a stray line in
a Chat Completions stream is evidence of a broken server, not noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A non-empty line that is neither a comment nor one of the fields data, event, id, retry, found
# by the newline that starts it: a pattern that begins with a literal lets the regex engine jump
# from newline to newline instead of trying every character of a long stream.
_STRAY = re.compile(r"\n((?!:)(?!(?:data|event|id|retry)(?::|\n|$))[^\n]+)")


@dataclass(slots=True)  # not frozen: a long stream makes tens of thousands, and frozen init is slow
class Event:
    """One dispatched SSE event: its position among events and its ``data`` payload."""

    index: int
    data: str
    event: str = ""


@dataclass(frozen=True)
class StrayLine:
    """A non-empty line that is neither a comment nor a known SSE field (1-based line number)."""

    number: int
    text: str


@dataclass(frozen=True)
class SSEStream:
    events: list[Event]
    stray_lines: list[StrayLine]
    unterminated: bool  # the text ended inside an event (no blank line after its last field)


def parse_sse(text: str) -> SSEStream:
    """Frame ``text`` (the body of a ``text/event-stream`` response) into events."""
    if not text:  # a non-streamed exchange asks too; it need not load the HTTP stack to hear "none"
        return SSEStream(events=[], stray_lines=[], unterminated=False)
    import httpx  # here, not at the top: `vertex-conformance check` of a JSON body never needs it
    from httpx_sse import EventSource

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, text=text)
    events = [Event(i, sse.data, sse.event) for i, sse in enumerate(EventSource(response).iter_sse())]
    lines = "\n" + text.replace("\r\n", "\n").replace("\r", "\n")  # each line after a newline
    stray = [  # found by one regex pass: a stream has tens of thousands of lines, strays are rare
        StrayLine(lines.count("\n", 0, match.start() + 1), match.group(1)) for match in _STRAY.finditer(lines)
    ]
    stripped = text.rstrip("\r\n")
    unterminated = bool(stripped) and not (text.endswith("\n\n") or text.endswith("\r\n\r\n"))
    return SSEStream(events=events, stray_lines=stray, unterminated=unterminated)
