"""Semantics of an answer that every form shares: object type, role, model echo, non-empty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..assembly import as_list
from ..requirements import Source
from . import NOTHING, Context, Violation, Yielded, check
from ._predicates import answered, plain_ok, streamed_ok

SEED_RESPONSE = "Beispielantwort; docs/spec.md#response-facts"


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
    'Every answer message has role "assistant" (in a stream: every delta that names a role).',
    Source.SEED,
    SEED_RESPONSE,
    applies=answered,
)
def role_assistant(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING  # no message at all: message.not-empty reports it
    for path, message in messages:
        if message.get("role") != "assistant":
            yield f"{path}.role", f"expected 'assistant', got {message.get('role')!r}"
    for event, chunk in ctx.chunks:
        for position, choice in enumerate(as_list(chunk.get("choices"))):
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and "role" in delta and delta["role"] != "assistant":
                yield (
                    f"$.events[{event}].choices[{position}].delta.role",
                    f"a delta says role {delta['role']!r}",
                )


@check(
    "message.content-key",
    "Every non-streamed answer message carries content (null when it answers with tool calls or media).",
    Source.SEED,
    'Beispielantwort: "content": null beside audio; text answers carry their text',
    applies=plain_ok,
)
def content_key(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING
    for path, message in messages:
        if "content" not in message:
            yield path, "the message has no content key"


@check(
    "response.choice-index",
    "The choices of a non-streamed answer are indexed 0, 1, … in order.",
    Source.OPENAI,
    "CreateChatCompletionResponse.choices[].index",
    applies=plain_ok,
)
def choice_index(ctx: Context) -> Iterator[Yielded]:
    choices = as_list(ctx.exchange.body.get("choices"))
    if not choices:
        yield NOTHING
    for position, choice in enumerate(choices):
        if isinstance(choice, dict) and choice.get("index") != position:
            yield (
                f"$.response.choices[{position}].index",
                f"choice {position} says index {choice.get('index')!r}",
            )


@check(
    "response.content-type",
    "A non-streamed answer is served as application/json.",
    Source.OPENAI,
    "CreateChatCompletionResponse (application/json)",
    applies=lambda ctx: not ctx.exchange.streamed and ctx.exchange.status != 0 and bool(ctx.exchange.headers),
)
def content_type(ctx: Context) -> Iterator[Violation]:
    yield from ctx.media_type_is("application/json")


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
    if ctx.exchange.streamed and not ctx.assembled.choices:
        yield "$.events", "no chunk carries a choice"
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
        and ctx.request["model"] != ""  # asks for no model (clients send it to self-deployed endpoints)
    ),
)
def model_echo(ctx: Context) -> Iterator[Yielded]:
    answer = _answer_model(ctx)
    if answer is None:
        yield NOTHING  # a stream without chunks: stream.not-empty reports it
    elif answer[1] != ctx.request["model"]:
        yield answer[0], f"answered {answer[1]!r} to a request for {ctx.request['model']!r}"
