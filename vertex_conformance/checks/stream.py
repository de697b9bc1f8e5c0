"""Stream invariants: SSE framing and the rules that bind the chunks of one stream together."""

from __future__ import annotations

from collections.abc import Iterator

from ..assembly import as_list
from ..requirements import Source
from . import NOTHING, Context, Violation, Yielded, check
from ._predicates import openai, streamed, streamed_ok

SEED_STREAM = "Streaming example; stream_function_call_arguments, Beispielantworten"


@check(
    "sse.content-type",
    "A streamed answer is served as text/event-stream.",
    Source.OPENAI,
    "Streaming responses (server-sent events)",
    applies=lambda ctx: streamed_ok(ctx) and ctx.exchange.status != 0,
)
def content_type(ctx: Context) -> Iterator[Violation]:
    yield from ctx.media_type_is("text/event-stream")


@check(
    "sse.event-json",
    "Every event's data is one JSON object, or the literal [DONE].",
    Source.SEED,
    SEED_STREAM,
    applies=streamed,
)
def event_json(ctx: Context) -> Iterator[Yielded]:
    if not ctx.exchange.parsed_events:
        yield NOTHING  # no event at all: sse.done-last and stream.not-empty report it
    for event, value, error in ctx.exchange.parsed_events:
        if error is not None:
            yield f"$.events[{event.index}]", f"data is not JSON ({error}): {event.data[:120]!r}"
        elif event.data != "[DONE]" and not isinstance(value, dict):
            yield f"$.events[{event.index}]", f"data is JSON but not an object: {event.data[:120]!r}"


SHOWN = 20  # stray lines and notices listed one by one; the rest are counted


@check(
    "sse.no-dropped-lines",
    "Every line of the stream is blank, a comment or a field: no text that clients drop unseen "
    "(a log line, a chunk without data:, Data: for data:).",
    Source.OPENAI,
    "Streaming responses (server-sent events): "
    "https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation",
    applies=streamed,
)
def no_dropped_lines(ctx: Context) -> Iterator[Violation]:
    """Stray lines fail; what is legal but unusual (an extension field, a block without data, a
    leading byte-order mark) is only noted, as ``sse_notices``: no client reads it differently."""
    sse = ctx.exchange.sse
    for stray in sse.stray_lines[:SHOWN]:
        yield f"$.lines[{stray.number}]", f"not an SSE field, dropped by clients: {stray.text[:120]!r}"
    if len(sse.stray_lines) > SHOWN:
        yield "$.lines", f"{len(sse.stray_lines) - SHOWN} more stray lines"
    if sse.notices:
        notes = [
            f"{f'line {n.number}' if n.number else 'start'}: {n.why}: {n.text[:120]!r}"
            for n in sse.notices[:SHOWN]
        ]
        if len(sse.notices) > SHOWN:
            notes.append(f"{len(sse.notices) - SHOWN} more")
        ctx.observations["sse_notices"] = notes


@check(
    "sse.done-last",
    "The stream ends with exactly one data: [DONE], after every chunk.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def done_last(ctx: Context) -> Iterator[Violation]:
    events = ctx.exchange.sse.events
    done = [e.index for e in events if e.data == "[DONE]"]
    if not done:
        hint = " (the text ends inside an unterminated event)" if ctx.exchange.sse.unterminated else ""
        yield "$.events", f"no [DONE] event{hint}"
        return
    if len(done) > 1:
        yield f"$.events[{done[1]}]", f"[DONE] sent {len(done)} times (events {done})"
    if done[0] != events[-1].index:
        yield f"$.events[{done[0] + 1}]", f"{len(events) - 1 - done[0]} event(s) after [DONE]"


@check(
    "stream.not-empty",
    "A successful stream carries at least one chunk before [DONE].",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def not_empty(ctx: Context) -> Iterator[Violation]:
    if not ctx.chunks:
        yield "$.events", "no JSON chunk in the stream"


@check(
    "chunk.object",
    'Every chunk says object: "chat.completion.chunk".',
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def chunk_object(ctx: Context) -> Iterator[Yielded]:
    if not ctx.chunks:
        yield NOTHING
    for event, chunk in ctx.chunks:
        if isinstance(chunk, dict) and chunk.get("object") != "chat.completion.chunk":
            yield (
                f"$.events[{event}].object",
                f"expected 'chat.completion.chunk', got {chunk.get('object')!r}",
            )


def _constant(ctx: Context, key: str) -> Iterator[Yielded]:
    if not ctx.chunks:
        yield NOTHING
    first = None
    for event, chunk in ctx.chunks:  # every chunk is an object (Exchange.chunks)
        if first is None:
            first = (event, chunk.get(key))
        elif chunk.get(key) != first[1]:
            yield (
                f"$.events[{event}].{key}",
                f"{chunk.get(key)!r} differs from {first[1]!r} of event {first[0]}",
            )


@check(
    "chunk.id-constant",
    "Every chunk of one stream has the same id.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def id_constant(ctx: Context) -> Iterator[Yielded]:
    yield from _constant(ctx, "id")


@check(
    "chunk.created-constant",
    "Every chunk of one stream has the same created.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def created_constant(ctx: Context) -> Iterator[Yielded]:
    yield from _constant(ctx, "created")


@check(
    "chunk.model-constant",
    "Every chunk of one stream has the same model.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def model_constant(ctx: Context) -> Iterator[Yielded]:
    yield from _constant(ctx, "model")


@check(
    "stream.finish-reason",
    "Each choice gets exactly one non-null finish_reason, on its last chunk.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def finish_reason(ctx: Context) -> Iterator[Yielded]:
    if not ctx.assembled.choices:
        yield NOTHING  # no choice at all: message.not-empty reports it
    for index, choice in sorted(ctx.assembled.choices.items()):
        if not choice.finish_events:
            yield f"$.choices[{index}]", "the choice never got a finish_reason"
        elif len(choice.finish_events) > 1:
            yield (
                f"$.events[{choice.finish_events[1]}].choices",
                f"choice {index} got a finish_reason on {len(choice.finish_events)} chunks "
                f"(events {choice.finish_events})",
            )
        elif choice.finish_events[0] != choice.last_event:
            yield (
                f"$.events[{choice.finish_events[0]}].choices",
                f"choice {index} finished at event {choice.finish_events[0]} but has chunks up to "
                f"event {choice.last_event}",
            )


def _choices_asked_for(ctx: Context) -> int | None:
    """The request's ``n`` (1 when it sends none), or ``None`` when the request is unknown."""
    if not isinstance(ctx.request, dict):
        return None
    n = ctx.request.get("n", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1


@check(
    "stream.choice-index",
    "Every chunk's choices name indexes the answer has: below the request's n (1 when it sends none); "
    "without the request, indexes run 0, 1, … with none left out.",
    Source.OPENAI,
    "ChatCompletionStreamResponse.choices[].index: the index of the choice among the n asked for",
    applies=streamed_ok,
)
def choice_index(ctx: Context) -> Iterator[Yielded]:
    asked = _choices_asked_for(ctx)
    first_seen: dict[int, str] = {}  # index -> the path of the first choice that named it
    for event, chunk in ctx.chunks:
        for slot, choice in enumerate(as_list(chunk.get("choices"))):
            index = choice.get("index") if isinstance(choice, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                continue  # schema.chunk reports it
            path = f"$.events[{event}].choices[{slot}].index"
            if asked is not None and index >= asked:
                yield path, f"choice index {index} in a stream answering n = {asked} (0 to {asked - 1})"
            first_seen.setdefault(index, path)
    if not first_seen:
        yield NOTHING  # no choice at all: message.not-empty reports it
    elif asked is None:
        missing = sorted(set(range(max(first_seen))) - first_seen.keys())
        if missing:
            top = max(first_seen)
            absent = ", ".join(map(str, missing))
            yield first_seen[top], f"choice index {top} names no choice: no chunk carries index {absent}"


@check(
    "stream.usage-final",
    "usage comes at most once, on the final chunk.",
    Source.SEED,
    SEED_STREAM,
    applies=streamed_ok,
)
def usage_final(ctx: Context) -> Iterator[Yielded]:
    usage_events = ctx.assembled.usage_events
    if not usage_events:
        yield NOTHING  # no usage at all: usage.present reports it
    if len(usage_events) > 1:
        yield f"$.events[{usage_events[1]}].usage", f"usage sent on {len(usage_events)} chunks {usage_events}"
    last = ctx.chunks[-1][0] if ctx.chunks else None
    for event in usage_events:
        if event != last:
            yield f"$.events[{event}].usage", f"usage on event {event}, not on the final chunk {last}"
            break


@check(
    "stream.role-first-only",
    "role appears in a choice's first delta only.",
    Source.OPENAI,
    "ChatCompletionStreamResponseDelta; docs/spec.md#more-facts: Vertex repeats it in every delta",
    applies=lambda ctx: streamed_ok(ctx) and openai(ctx),
)
def role_first_only(ctx: Context) -> Iterator[Yielded]:
    if not any(as_list(chunk.get("choices")) for _, chunk in ctx.chunks):
        yield NOTHING  # no delta at all: message.not-empty reports it
    seen: set[int] = set()
    for event, chunk in ctx.chunks:
        for position, choice in enumerate(as_list(chunk.get("choices"))):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if index in seen and "role" in delta:
                yield (
                    f"$.events[{event}].choices[{position}].delta.role",
                    "role repeated after the first delta",
                )
                return
            seen.add(index)
