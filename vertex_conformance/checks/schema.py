"""Every object is validated against the profile's schema; each failure names its JSON path."""

from __future__ import annotations

from collections.abc import Iterator

from .. import schemas
from ..requirements import Source
from . import Context, Violation, check
from ._predicates import is_error_body, plain_ok, streamed_ok


@check(
    "response.json",
    "A non-streamed body is a JSON object (an error body may be an array; schema.error judges it).",
    Source.OPENAI,
    "CreateChatCompletionResponse (application/json)",
    applies=lambda ctx: not ctx.exchange.streamed,
)
def response_json(ctx: Context) -> Iterator[Violation]:
    text = (ctx.exchange.body_text or "")[:120]
    if not ctx.exchange.body_is_json:
        yield "$.response", f"body is not JSON ({ctx.exchange.body_error}): {text!r}"
    elif not isinstance(ctx.exchange.body, dict | list):
        yield "$.response", f"body is JSON but not an object: {text!r}"


@check(
    "schema.response",
    "A non-streamed response validates against the profile's response schema.",
    Source.SEED,
    "Beispielantwort (image output, multimodal function responses); docs/spec.md#response-facts",
    applies=plain_ok,
)
def response_schema(ctx: Context) -> Iterator[Violation]:
    yield from schemas.violations(ctx.profile, "response", ctx.exchange.body, "$.response")


@check(
    "schema.chunk",
    "Every stream chunk validates against the profile's chunk schema.",
    Source.SEED,
    "stream_function_call_arguments, Beispielantworten",
    applies=streamed_ok,
)
def chunk_schema(ctx: Context) -> Iterator[Violation]:
    for event, chunk in ctx.chunks:
        yield from schemas.violations(ctx.profile, "chunk", chunk, f"$.events[{event}]")


@check(
    "schema.error",
    "An error body validates against the profile's error schema.",
    Source.REPORTED,
    "docs/spec.md#reported-behaviour: error bodies",
    applies=lambda ctx: is_error_body(ctx) and ctx.exchange.body is not None,
)
def error_schema(ctx: Context) -> Iterator[Violation]:
    yield from schemas.violations(ctx.profile, "error", ctx.exchange.body, "$.error_body")
