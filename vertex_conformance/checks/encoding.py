"""The answer's bytes are UTF-8: the one encoding of JSON and of event streams, whatever a charset says.

A client decodes invalid bytes to U+FFFD (or refuses the answer), so the text every other check
judges is already what it reads; these checks keep the bad bytes a finding of their own, because
afterwards a U+FFFD the server sent and one the decoder made look alike. ``Exchange.undecodable``
says where the bytes broke (``exchange.decode_utf8``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..requirements import Source
from . import Context, Violation, check
from ._predicates import streamed


@check(
    "response.utf8",
    "A non-streamed body is UTF-8.",
    Source.OPENAI,
    "application/json: JSON exchanged between systems MUST be UTF-8 "
    "(https://www.rfc-editor.org/rfc/rfc8259#section-8.1)",
    applies=lambda ctx: not ctx.exchange.streamed,
)
def response_utf8(ctx: Context) -> Iterator[Violation]:
    if ctx.exchange.undecodable:
        yield "$.response", f"{ctx.exchange.undecodable}; a client reads U+FFFD there"


@check(
    "sse.utf8",
    "A streamed answer is UTF-8.",
    Source.OPENAI,
    "text/event-stream: always decoded as UTF-8 "
    "(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream)",
    applies=streamed,
)
def stream_utf8(ctx: Context) -> Iterator[Violation]:
    if ctx.exchange.undecodable:
        yield "$.stream", f"{ctx.exchange.undecodable}; a client reads U+FFFD there"
