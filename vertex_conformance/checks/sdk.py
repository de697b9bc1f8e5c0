"""The SDK's view of an answer: what users of the ``openai`` SDK actually get.

The SDK lanes keep, next to the wire traffic, what the SDK's typed objects held (``sdk_view``).
These checks hold the SDK to the wire: it must parse every successful answer, keep every field the
server sent (Vertex's extensions included, as extra fields), and its own stream accumulation must
give the role and content the deltas give and put the same tool calls together as the suite's
id-based assembler. A failure here is a finding about the SDK release under test, not about the
server (docs/sdk-gate.md lists what the SDK does with each form).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exchange import parse_json
from ..findings import json_path
from ..json_equality import same
from ..requirements import Source
from ..vocabulary import SDK_LANES
from . import NOTHING, Context, Violation, Yielded, check
from ._predicates import answered, streamed_ok

if TYPE_CHECKING:  # the SDK is imported where a stream is accumulated: `check` and `--help` start fast
    from openai.lib.streaming.chat import ChatCompletionStreamState

SDK_WHERE = "openai Python SDK: {} (the SDK release gate, docs/sdk-gate.md)"


def sdk_lane(ctx: Context) -> bool:
    return ctx.exchange.lane in SDK_LANES


def sdk_viewed(ctx: Context) -> bool:
    """An SDK-lane answer the SDK turned into typed objects."""
    return sdk_lane(ctx) and ctx.exchange.sdk_view is not None and answered(ctx)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


@check(
    "sdk.parses",
    "The SDK turns every successful answer into its typed objects without raising.",
    Source.OPENAI,
    SDK_WHERE.format("chat.completions.create / parse, and iterating a Stream"),
    # Bytes that are not UTF-8 are response.utf8's finding; the SDK is right to refuse them.
    applies=lambda ctx: sdk_lane(ctx) and answered(ctx) and not ctx.exchange.undecodable,
)
def sdk_parses(ctx: Context) -> Iterator[Violation]:
    error = ctx.exchange.notes.get("sdk_error")
    if error:
        yield "$.sdk_view", f"the SDK raised reading the answer: {error}"
    elif ctx.exchange.sdk_view is None:
        yield "$.sdk_view", "the SDK's typed objects hold nothing for this answer"


def _lost(wire: Any, view: Any, path: str) -> Iterator[Violation]:
    """Every key path of ``wire`` that ``view`` lacks or holds with another value."""
    if isinstance(wire, dict):
        if not isinstance(view, dict):
            yield path, f"changed: the wire held an object, the SDK holds {_short(view)}"
            return
        for key, value in wire.items():
            if key in view:
                yield from _lost(value, view[key], json_path(path, key))
            else:
                yield json_path(path, key), f"lost: the wire held {_short(value)}, the SDK's objects nothing"
    elif isinstance(wire, list):
        if not isinstance(view, list) or len(view) != len(wire):
            yield path, f"changed: the wire held {_short(wire)}, the SDK holds {_short(view)}"
            return
        for position, (item, held) in enumerate(zip(wire, view, strict=True)):
            yield from _lost(item, held, f"{path}[{position}]")
    elif not same(wire, view):  # json_equality: 1 is 1.0, true is not 1
        yield path, f"changed: the wire held {_short(wire)}, the SDK holds {_short(view)}"


@check(
    "sdk.keeps-fields",
    "Every key path the server sent is in the SDK's typed objects with the same value (Vertex "
    "extensions such as extra_content and usage.extra_properties survive as extra fields).",
    Source.SEED,
    "Chat Completions with the openai SDK: extra_content, usage.extra_properties, "
    "completion_tokens_details come back to SDK users",
    applies=sdk_viewed,
)
def sdk_keeps_fields(ctx: Context) -> Iterator[Violation]:
    view = ctx.exchange.sdk_view
    if not ctx.exchange.streamed:
        yield from _lost(ctx.exchange.body, view, "$.response")
        return
    if not isinstance(view, list) or len(view) != len(ctx.chunks):
        count = f"{len(view)} chunks" if isinstance(view, list) else _short(view)
        yield "$.sdk_view", f"the SDK yielded {count}; the wire carried {len(ctx.chunks)} chunks"
        return
    for (event, chunk), held in zip(ctx.chunks, view, strict=True):
        yield from _lost(chunk, held, f"$.events[{event}]")


@dataclass(frozen=True)
class SdkAccumulation:
    """What the SDK's own accumulator made of a stream: per choice index, the message of its final
    completion (or of the snapshot it held when it raised), and what it raised (``None``: nothing)."""

    messages: dict[int, Any]
    raised: str | None

    def how(self) -> str:
        return f"{self.raised}, holding" if self.raised else "assembled"


def _messages(completion: Any) -> dict[int, Any]:
    """Its objects are built without validation, as the SDK builds them, so server data of the wrong
    type may sit anywhere: everything here is read defensively."""
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list):
        return {}
    return {getattr(choice, "index", n): getattr(choice, "message", None) for n, choice in enumerate(choices)}


def _snapshot(state: ChatCompletionStreamState) -> Any:
    """The SDK's running snapshot; none before its first chunk."""
    try:
        return state.current_completion_snapshot
    except AssertionError:
        return None


def sdk_accumulation(chunks: list[tuple[int, Any]]) -> SdkAccumulation:
    """What ``ChatCompletionStreamState`` (the accumulator behind ``chat.completions.stream``) makes of
    the chunks, each built as the SDK builds a streamed chunk (``construct``, no validation)."""
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state: ChatCompletionStreamState = ChatCompletionStreamState()
    for event, chunk in chunks:
        try:
            state.handle_chunk(ChatCompletionChunk.construct(**chunk))
        except Exception as exc:  # an SDK that cannot accumulate the stream is the finding
            return SdkAccumulation(_messages(_snapshot(state)), f"raised {_error(exc)} on event {event}")
    try:
        final = state.get_final_completion()
    except Exception as exc:
        return SdkAccumulation(_messages(_snapshot(state)), f"raised {_error(exc)} in get_final_completion")
    return SdkAccumulation(_messages(final), None)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__} ({_short(str(exc))})"


def sdk_streamed(ctx: Context) -> bool:
    return sdk_viewed(ctx) and streamed_ok(ctx)


@check(
    "sdk.stream-message",
    "The SDK's stream accumulation (ChatCompletionStreamState) yields each choice's role and content as "
    "the stream's deltas give them (role once, content joined).",
    Source.OPENAI,
    SDK_WHERE.format("chat.completions.stream / ChatCompletionStreamState.get_final_completion"),
    applies=sdk_streamed,
)
def sdk_stream_message(ctx: Context) -> Iterator[Yielded]:
    if not ctx.assembled.choices:
        yield NOTHING  # no choice at all: message.not-empty reports it
        return
    sdk = sdk_accumulation(ctx.chunks)
    for index, choice in sorted(ctx.assembled.choices.items()):
        message = sdk.messages.get(index)
        for key, ours in (("role", choice.role), ("content", choice.content)):
            theirs = getattr(message, key, None)
            if theirs != ours:
                yield (
                    f"$.assembled.choices[{index}].message.{key}",
                    f"the SDK's ChatCompletionStreamState {sdk.how()} {_short(theirs)}; "
                    f"the deltas give {_short(ours)}",
                )


ToolCall = tuple[Any, Any, Any]  # (id, name, parsed arguments)


def _call(id: Any, name: Any, arguments: Any) -> ToolCall:
    """A tool call as compared: its id, its name and its arguments parsed (the raw text when not JSON).
    The id counts: a follow-up turn answers each call by it."""
    try:
        return id, name, parse_json(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return id, name, arguments


def _sdk_calls(message: Any) -> list[ToolCall]:
    calls = getattr(message, "tool_calls", None)
    out = []
    for call in calls if isinstance(calls, list) else []:
        function = getattr(call, "function", None)
        if function is not None:
            name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
            out.append(_call(getattr(call, "id", None), name, arguments))
    return out


def _spell(calls: list[ToolCall]) -> str:
    spelled = (f"{id} {name}({json.dumps(args, ensure_ascii=False)})" for id, name, args in calls)
    return "[" + ", ".join(s if len(s) <= 160 else s[:159] + "…" for s in spelled) + "]"


def _has_tool_calls(ctx: Context) -> bool:
    return any(choice.tool_calls for choice in ctx.assembled.choices.values())


@check(
    "sdk.stream-accumulation",
    "The SDK's stream accumulation (ChatCompletionStreamState) yields the same tool calls (ids, names "
    "and parsed arguments, in order) as assembling the stream by call id.",
    Source.SEED,
    "stream_function_call_arguments: the documented stream's index is not stable per call, its id is",
    applies=sdk_streamed,
)
def sdk_stream_accumulation(ctx: Context) -> Iterator[Yielded]:
    if not _has_tool_calls(ctx):
        yield NOTHING  # a stream without tool calls: no call for the SDK to put together
        return
    sdk = sdk_accumulation(ctx.chunks)
    for index, choice in sorted(ctx.assembled.choices.items()):
        ours = [_call(call.id, call.name, call.arguments) for call in choice.tool_calls]
        theirs = _sdk_calls(sdk.messages.get(index))
        if sdk.raised or theirs != ours:
            how = f"the SDK's ChatCompletionStreamState {sdk.how()} {_spell(theirs)}"
            yield f"$.assembled.choices[{index}].message.tool_calls", f"{how}; by call id: {_spell(ours)}"
