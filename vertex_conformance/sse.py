"""Server-sent-event framing for captured streams, by the WHATWG HTML specification.

The parser follows "Interpreting an event stream" (html.spec.whatwg.org/multipage/
server-sent-events.html#event-stream-interpretation) line by line, because that is what every
conforming client does with the bytes: a leading byte-order mark is dropped; CRLF, LF and CR all
end a line; a line is a comment (``:``), a field (``name: value``, one space after the colon
removed, a line without a colon being a field with an empty value) or blank; a blank line
dispatches the event, unless no ``data`` field was seen (a gateway's ``event: ping`` keep-alive
dispatches nothing); the last block, without its blank line, is never dispatched.

httpx-sse did this before, but it keeps a leading byte-order mark (the first event is lost) and
dispatches a block without data as an empty event, so a legal stream failed the checks.

What a client ignores is sorted in two: lines that are legal but unusual (an extension field such
as ``idle: 3``, a ``retry`` that is not a number, a block without data) are ``notices``, facts for
the report; text that is not shaped like a field at all (a log line, a chunk without ``data:``,
``Data:`` for ``data:``) is a ``stray line``, because a client silently drops what the server
meant it to read. The parser numbers lines as it goes, so both cost one pass over the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELDS = frozenset({"data", "event", "id", "retry"})
_BOM = "\ufeff"
_LINE_END = re.compile(r"\r\n|\r|\n")
# What an extension field's name looks like (RFC 9110's token characters): a line whose name is
# anything else (spaces, quotes, braces) was not written as a field.
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(r"[0-9]+")  # retry: ASCII digits only (str.isdigit also takes other scripts')
_LEADING_BOM = (
    "a leading byte-order mark (dropped; the openai SDK's decoder keeps it and loses the first event)"
)
_NO_DATA = "a block without data (dispatches nothing; the openai SDK's decoder yields it as an empty event)"


@dataclass(slots=True)  # not frozen: a long stream makes tens of thousands, and frozen init is slow
class Event:
    """One dispatched SSE event: its position among events, its data, type and last event id."""

    index: int
    data: str
    event: str = "message"
    id: str = ""


@dataclass(frozen=True)
class StrayLine:
    """A line no client reads that is not shaped like a field (1-based line number)."""

    number: int
    text: str


@dataclass(frozen=True)
class Notice:
    """Something legal but unusual that a client ignores (1-based line number, 0: the stream)."""

    number: int
    text: str
    why: str


@dataclass(frozen=True)
class SSEStream:
    events: list[Event]
    stray_lines: list[StrayLine]
    unterminated: bool  # the text ended inside an event (no blank line after its last data)
    notices: list[Notice]
    retry: int | None = None  # the last valid reconnection time, in milliseconds


def parse_sse(text: str) -> SSEStream:
    """Frame ``text`` (the decoded body of a ``text/event-stream`` response) into events."""
    notices: list[Notice] = []
    if text.startswith(_BOM):
        text = text[1:]
        notices.append(Notice(0, _BOM, _LEADING_BOM))
    lines = _LINE_END.split(text)
    tail = lines.pop()  # what follows the last line end: a line the stream never finished
    events: list[Event] = []
    stray: list[StrayLine] = []
    data: list[str] = []
    event_type = last_id = ""
    event_line = 0  # where the pending event type was set, for the notice of a block without data
    retry: int | None = None
    for number, line in enumerate(lines, 1):
        if not line:
            if data:
                events.append(Event(len(events), "\n".join(data), event_type or "message", last_id))
                data = []
            elif event_type:
                notices.append(Notice(event_line, f"event: {event_type}", _NO_DATA))
            event_type = ""
            continue
        if line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type, event_line = value, number
        elif name == "id":
            if "\0" in value:
                notices.append(Notice(number, line, "an id containing U+0000 (ignored)"))
            else:
                last_id = value
        elif name == "retry":
            if _DIGITS.fullmatch(value):
                retry = int(value)
            else:
                notices.append(Notice(number, line, "a retry that is not a number of milliseconds (ignored)"))
        else:
            _unknown(number, line, name, stray, notices)
    if tail and tail[0] != ":":
        name = tail.partition(":")[0]
        if name not in _FIELDS:
            _unknown(len(lines) + 1, tail, name, stray, notices)
    unterminated = bool(data) or bool(tail and tail[0] != ":")
    return SSEStream(events, stray, unterminated, notices, retry)


def _unknown(number: int, line: str, name: str, stray: list[StrayLine], notices: list[Notice]) -> None:
    """Sort a line with an unknown field name: an extension field is a notice; anything else, and a
    known name in another case (``Data``), is a stray line whose content no client will see."""
    if _FIELD_NAME.fullmatch(name) and name.lower() not in _FIELDS:
        notices.append(Notice(number, line, f"an unknown field {name!r} (ignored)"))
    else:
        stray.append(StrayLine(number, line))
