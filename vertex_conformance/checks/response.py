"""Semantics of an answer that every form shares: object type, role, model echo, non-empty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..requirements import Source
from . import Context, Violation, check
from ._predicates import answered, plain_ok, streamed_ok

SEED_RESPONSE = "Beispielantwort; SPEC.md 'Response facts from the documented samples'"


@check(
    "response.object",
    'A non-streamed answer says object: "chat.completion".',
    Source.SEED,
    SEED_RESPONSE,
    applies=plain_ok,
)
def response_object(ctx: Context) -> Iterator[Violation]:
    value = ctx.exchange.body.get("object")
    if value != "chat.completion":
        yield "$.response.object", f"expected 'chat.completion', got {value!r}"


@check(
    "message.role-assistant",
    'Every answer message has role "assistant".',
    Source.SEED,
    SEED_RESPONSE,
    applies=answered,
)
def role_assistant(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():
        if message.get("role") != "assistant":
            yield f"{path}.role", f"expected 'assistant', got {message.get('role')!r}"


@check(
    "message.not-empty",
    "Every answer message carries text, tool calls or media.",
    Source.SEED,
    SEED_RESPONSE,
    applies=answered,
)
def not_empty(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():
        audio = message.get("audio")
        if not (
            message.get("content")
            or message.get("tool_calls")
            or (isinstance(audio, dict) and audio.get("data"))
        ):
            yield path, "no content, tool_calls or media"
    if not ctx.exchange.streamed and not ctx.exchange.body.get("choices"):
        yield "$.response.choices", "no choices"


def _answer_model(ctx: Context) -> tuple[str, Any] | None:
    if ctx.exchange.streamed:
        return (f"$.events[{ctx.chunks[0][0]}].model", ctx.chunks[0][1].get("model")) if ctx.chunks else None
    return "$.response.model", ctx.exchange.body.get("model")


@check(
    "response.model-echo",
    "The answer names the model the request asked for, google/ prefix included.",
    Source.SEED,
    "model: google/${MODEL_ID}; samples answer with the same id",
    applies=lambda ctx: (
        (plain_ok(ctx) or streamed_ok(ctx))
        and isinstance(ctx.request, dict)
        and isinstance(ctx.request.get("model"), str)
    ),
)
def model_echo(ctx: Context) -> Iterator[Violation]:
    answer = _answer_model(ctx)
    if answer is not None and answer[1] != ctx.request["model"]:
        yield answer[0], f"answered {answer[1]!r} to a request for {ctx.request['model']!r}"
