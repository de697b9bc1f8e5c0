"""What crossed the wire, cut short and scrubbed, for a test's record: the report shows it beside
the findings so a reader can see the answer without replaying the cassette."""

from __future__ import annotations

from typing import Any

from . import recording
from .exchange import Exchange, WireRequest
from .scrub import Scrubber

EXCERPT = 2000  # characters of each request and response body kept in a test's evidence


def excerpt(exchange: Exchange, scrubber: Scrubber) -> dict[str, Any]:
    """The start of the request and the response, scrubbed of the run's secrets (in every spelling)
    before it is cut, so a cut cannot split a secret into an unrecognisable piece. URLs carry the
    cassettes' placeholders."""
    out = request_excerpt(exchange.lane, exchange.request, scrubber)
    body = exchange.stream_text or exchange.body_text
    out["response"] = {"status": exchange.status, **_cut(body, scrubber)}
    return out


def request_excerpt(lane: str, request: WireRequest | None, scrubber: Scrubber) -> dict[str, Any]:
    """The start of a request alone: all there is of a client's request a replay could not answer."""
    out: dict[str, Any] = {"lane": lane}
    if request is not None:
        out["request"] = {
            "method": request.method,
            "url": recording.with_placeholders(request.url),
            **_cut(request.body_text, scrubber),
        }
    return out


def _cut(text: str | None, scrubber: Scrubber) -> dict[str, Any]:
    text = scrubber.scrub(text or "")
    return {"body": text[:EXCERPT], "truncated": len(text) > EXCERPT}
