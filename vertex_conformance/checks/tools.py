"""Function calling (docs/spec.md form 8): the call envelope, the arguments, and how a stream carries them.

Streams are judged on ``ctx.assembled`` (calls grouped by ``id``), so a server that changes a call's
``index`` mid-stream, as the documented sample does, still gets its arguments judged per call; the
index itself is judged apart, by ``tools.index-stable``.

Two gates: the envelope and argument checks apply to any answer with tool calls, or to any answer
to a request that declared ``tools`` (an answer without calls then has nothing for them to judge:
they yield ``NOTHING``, never a pass; ``tools.called`` is what fails it). The checks that need the
declared tools (``known-function``, ``args-schema``), and ``index-stable`` and ``name-once``, apply
only when the request is known and declares tools: the documented stream breaks both of these
(docs/spec.md#known-quirks, known deviations kept in ``expectations/``), and a capture checked
without its request stays judged on its envelope alone, so ``vertex-conformance check`` of the
documented samples remains a clean baseline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import jsonschema_rs

# The assembler's private step, for the one check that needs each fragment's call: the same rule
# that groups them in ``ctx.assembled``, never a second copy of it.
from ..assembly import Choice, ToolCall, _add_tool_call, as_list
from ..exchange import Exchange, parse_json
from ..extensions import google
from ..findings import Finding, json_path
from ..json_equality import same
from ..requirements import Source, requirement
from . import NOTHING, Context, Yielded, check
from ._predicates import answered, streamed_ok

SEED_TOOLS = "stream_function_call_arguments verwenden: Beispielanfrage and Beispielantworten"
_NOT_PARSED = object()


def declared_tools(request: Any) -> dict[str, Any]:
    """The function tools a request declared, by name (``parameters`` or ``None`` for each)."""
    tools = request.get("tools") if isinstance(request, dict) else None
    out: dict[str, Any] = {}
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out[function["name"]] = function.get("parameters")
    return out


def _parsed(arguments: Any) -> Any:
    """The arguments parsed as JSON, or ``_NOT_PARSED``."""
    try:
        return parse_json(arguments) if isinstance(arguments, str) else _NOT_PARSED
    except ValueError:
        return _NOT_PARSED


class Call(NamedTuple):
    """One tool call of an answer: where it is, its choice and position, the call as a non-streamed
    answer carries it, and (streamed) the events its fragments came in."""

    path: str
    choice: int
    position: int
    body: dict[str, Any]
    events: list[int] | None = None


def _plain_choices(ctx: Context) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(position, choice)`` for the well-formed choices of a non-streamed answer (the schema
    check reports the others)."""
    body = ctx.exchange.body if isinstance(ctx.exchange.body, dict) else {}
    choices = body.get("choices") if isinstance(body.get("choices"), list) else []
    return ((slot, choice) for slot, choice in enumerate(choices) if isinstance(choice, dict))


def _calls(ctx: Context) -> Iterator[Call]:
    """Every tool call of the answer, in order; streamed calls are the assembled ones (by id)."""
    if ctx.exchange.streamed:
        for index, choice in sorted(ctx.assembled.choices.items()):
            for position, call in enumerate(choice.tool_calls):
                path = f"$.assembled.choices[{index}].message.tool_calls[{position}]"
                yield Call(path, index, position, call.to_message(), call.fragment_events)
        return
    for slot, choice in _plain_choices(ctx):
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
        index = choice["index"] if isinstance(choice.get("index"), int) else slot
        for position, call in enumerate(calls):
            if isinstance(call, dict):
                path = f"$.response.choices[{slot}].message.tool_calls[{position}]"
                yield Call(path, index, position, call)


def _has_calls(ctx: Context) -> bool:
    return any(True for _ in _calls(ctx))


def _with_tools(ctx: Context) -> bool:
    """An answer to a request that declared tools, or an answer that calls some."""
    return answered(ctx) and (bool(declared_tools(ctx.request)) or _has_calls(ctx))


def _declares_tools(ctx: Context) -> bool:
    return answered(ctx) and bool(declared_tools(ctx.request))


def _asks_for_a_call(ctx: Context) -> bool:
    """A request that declares tools, lets the model call them (``tool_choice`` is not "none") and
    does not hand a tool's result back (no tool message after the last user message): the answer to
    a tool result is text (forms 6 and 11)."""
    request = ctx.request
    if not declared_tools(request) or request.get("tool_choice") == "none":
        return False
    roles = [m.get("role") for m in as_list(request.get("messages")) if isinstance(m, dict)]
    turns = [role for role in roles if role in ("user", "tool")]
    return not turns or turns[-1] != "tool"


def _function(call: dict[str, Any]) -> dict[str, Any]:
    return call["function"] if isinstance(call.get("function"), dict) else {}


def _first_fragments(ctx: Context) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(position in its choice, path, fragment)`` for the first fragment of every streamed call,
    looked up in the chunk that carried it (the assembly merges fragments; this is the raw one)."""
    chunks = dict(ctx.chunks)
    for index, choice in sorted(ctx.assembled.choices.items()):
        for position, call in enumerate(choice.tool_calls):
            event = call.fragment_events[0]
            yield (position, *_fragment_in(chunks[event], event, index, call))


def _fragment_in(
    chunk: dict[str, Any], event: int, choice: int, call: ToolCall
) -> tuple[str, dict[str, Any]]:
    for slot, raw in enumerate(chunk.get("choices") or []):
        if not isinstance(raw, dict) or raw.get("index", 0) != choice:
            continue
        delta = raw.get("delta") if isinstance(raw.get("delta"), dict) else {}
        for position, fragment in enumerate(delta.get("tool_calls") or []):
            if isinstance(fragment, dict) and fragment.get("id") == call.id:
                return f"$.events[{event}].choices[{slot}].delta.tool_calls[{position}]", fragment
    raise LookupError(f"event {event} carries no fragment of call {call.id!r}")  # assembly says it does


@check(
    "tools.first-fragment",
    'The first streamed fragment of each tool call carries its id, type "function" and function.name.',
    Source.SEED,
    f'{SEED_TOOLS} (the first chunk of a call also has function.arguments "")',
    applies=lambda ctx: streamed_ok(ctx) and _with_tools(ctx),
)
def first_fragment(ctx: Context) -> Iterator[Yielded]:
    firsts = list(_first_fragments(ctx))
    if not firsts:
        yield NOTHING
    for _, path, fragment in firsts:
        missing = [
            key
            for key, present in (
                ("id", isinstance(fragment.get("id"), str) and bool(fragment["id"])),
                ('type "function"', fragment.get("type") == "function"),
                ("function.name", isinstance(_function(fragment).get("name"), str)),
            )
            if not present
        ]
        if missing:
            yield path, f"the first fragment of a tool call lacks {', '.join(missing)}"


@check(
    "tools.thought-signature",
    "The first tool call of each answer carries extra_content.google.thought_signature "
    "(streamed: on its first fragment).",
    Source.SEED,
    f"{SEED_TOOLS}: of the two parallel calls only the first carries it, as Gemini documents for "
    "parallel function calls (https://ai.google.dev/gemini-api/docs/thought-signatures)",
    applies=_with_tools,
)
def thought_signature(ctx: Context) -> Iterator[Yielded]:
    if ctx.exchange.streamed:
        firsts = [(path, fragment) for position, path, fragment in _first_fragments(ctx) if position == 0]
        where = "the first tool call's first fragment"
    else:
        firsts = [(call.path, call.body) for call in _calls(ctx) if call.position == 0]
        where = "the first tool call"
    if not firsts:
        yield NOTHING
    for path, carrier in firsts:
        signature = google(carrier).get("thought_signature")
        if not (isinstance(signature, str) and signature):
            yield f"{path}.extra_content", f"{where} has no extra_content.google.thought_signature"


def _from_events(call: Call) -> str:
    """For a streamed call, the events its fragments came in: the evidence a reader looks up."""
    return f" (fragments in events {call.events})" if call.events is not None else ""


@check(
    "tools.args-json",
    "Each tool call's arguments (its fragments concatenated, by id) parse as a JSON object.",
    Source.SEED,
    f'{SEED_TOOLS}: the fragments join to {{"location":"Boston, MA","unit":"celsius"}}',
    applies=_with_tools,
)
def args_json(ctx: Context) -> Iterator[Yielded]:
    calls = list(_calls(ctx))
    if not calls:
        yield NOTHING
    for call in calls:
        arguments = _function(call.body).get("arguments")
        parsed = _parsed(arguments)
        if parsed is _NOT_PARSED or not isinstance(parsed, dict):
            what = "do not parse as JSON" if parsed is _NOT_PARSED else "are JSON but not an object"
            yield (
                f"{call.path}.function.arguments",
                f"the arguments {what}: {str(arguments)[:120]!r}{_from_events(call)}",
            )


def _no_retrieval(uri: str) -> Any:
    """Parameters schemas are judged offline: a remote $ref in a request is never fetched."""
    raise ValueError(f"remote $ref {uri} is not fetched")


def argument_errors(schema: Any, arguments: Any) -> list[tuple[list[str | int], str]]:
    """``(instance path, message)`` for each way ``arguments`` break a tool's ``parameters`` schema,
    judged offline (a remote $ref is never fetched); ValueError when there is no usable schema.
    One rule for the wire's calls and the calls a client hands its user (checks/clients.py)."""
    validator = jsonschema_rs.validator_for(schema, retriever=_no_retrieval)
    return [(list(error.instance_path), error.message[:200]) for error in validator.iter_errors(arguments)]


@check(
    "tools.args-schema",
    "Each tool call's parsed arguments validate against the parameters schema of the tool it names.",
    Source.SEED,
    f"{SEED_TOOLS}: parameters require location and unit (enum celsius, fahrenheit)",
    applies=_declares_tools,
)
def args_schema(ctx: Context) -> Iterator[Yielded]:
    tools = declared_tools(ctx.request)
    judged = 0
    for call in _calls(ctx):
        name = _function(call.body).get("name")
        schema = tools.get(name) if isinstance(name, str) else None
        parsed = _parsed(_function(call.body).get("arguments"))
        if not isinstance(schema, dict) or not isinstance(parsed, dict):
            continue  # an unknown name, no parameters, or arguments that do not parse: not this requirement
        judged += 1
        try:
            errors = argument_errors(schema, parsed)
        except ValueError as exc:  # jsonschema_rs.ValidationError is one
            reason = str(exc).splitlines()[0]
            yield f"{call.path}.function.name", f"the declared parameters of {name!r} are unusable: {reason}"
            continue
        for where, message in errors:
            yield (
                json_path(f"{call.path}.function.arguments", *where),
                f"{message} (parameters of {name!r}){_from_events(call)}",
            )
    if not judged:
        yield NOTHING


@check(
    "tools.known-function",
    "Every tool call names a function the request declared in tools.",
    Source.OPENAI,
    "ChatCompletionTool: the model calls the functions given in tools",
    applies=_declares_tools,
)
def known_function(ctx: Context) -> Iterator[Yielded]:
    tools = declared_tools(ctx.request)
    named = [(call, _function(call.body).get("name")) for call in _calls(ctx)]
    named = [(call, name) for call, name in named if isinstance(name, str)]  # a missing name is the schema's
    if not named:
        yield NOTHING
    for call, name in named:
        if name not in tools:
            yield f"{call.path}.function.name", f"{name!r} is not among the declared tools {sorted(tools)}"


@check(
    "tools.called",
    'A request that declares tools (tool_choice not "none", not handing back a tool result) is '
    "answered with at least one tool call.",
    Source.SEED,
    f"{SEED_TOOLS}: the documented answer to the tools request is two calls",
    applies=lambda ctx: answered(ctx) and _asks_for_a_call(ctx),
)
def called(ctx: Context) -> Iterator[Yielded]:
    if _has_calls(ctx):
        return
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING  # no message at all: message.not-empty reports it
        return
    path, message = messages[0]
    content = message.get("content")
    instead = f"text {content[:80]!r}" if isinstance(content, str) and content else "neither calls nor text"
    yield (
        f"{path}.tool_calls",
        f"the request declared tools {sorted(declared_tools(ctx.request))}, but the answer made no tool "
        f"call (it answered with {instead})",
    )


def _streamed_id_reuse(ctx: Context) -> Iterator[Yielded]:
    """A streamed call id that comes back once another call of its choice began: a second call under
    the same id (the assembly, which groups by id, would splice the two together)."""
    current: dict[int, tuple[str, int]] = {}  # per choice: the call being streamed, and its first event
    ended: dict[int, set[str]] = {}  # per choice: the ids of calls another call followed
    judged = False
    for event, chunk in ctx.chunks:
        for slot, raw in enumerate(as_list(chunk.get("choices"))):
            if not isinstance(raw, dict) or not isinstance(raw.get("index", 0), int):
                continue  # schema.chunk reports it
            index = raw.get("index", 0)
            delta = raw.get("delta") if isinstance(raw.get("delta"), dict) else {}
            for position, fragment in enumerate(as_list(delta.get("tool_calls"))):
                call_id = fragment.get("id") if isinstance(fragment, dict) else None
                if not (isinstance(call_id, str) and call_id) or call_id == current.get(index, ("", 0))[0]:
                    continue  # no id continues the current call; a missing first id is tools.first-fragment's
                judged = True
                if call_id in ended.setdefault(index, set()):
                    other, began = current[index]
                    yield (
                        f"$.events[{event}].choices[{slot}].delta.tool_calls[{position}].id",
                        f"call id {call_id!r} comes back after call {other!r} began at event {began}: "
                        "two calls share one id",
                    )
                if index in current:
                    ended[index].add(current[index][0])
                current[index] = (call_id, event)
    if not judged:
        yield NOTHING


@check(
    "tools.call-id-unique",
    "No two tool calls of one answer message share an id, and a non-streamed call's id is not empty "
    "(streamed: an id does not come back once another call's fragments began).",
    Source.OPENAI,
    "ChatCompletionMessageToolCall.id: a follow-up answers each call by its tool_call_id",
    applies=_with_tools,
)
def call_id_unique(ctx: Context) -> Iterator[Yielded]:
    if ctx.exchange.streamed:  # the first fragment's id being there is tools.first-fragment's
        yield from _streamed_id_reuse(ctx)
        return
    calls = [call for call in _calls(ctx) if isinstance(call.body.get("id"), str)]  # else schema.response's
    if not calls:
        yield NOTHING
    owner: dict[tuple[int, str], str] = {}
    for call in calls:
        call_id = call.body["id"]
        if not call_id:
            yield f"{call.path}.id", "the tool call's id is empty: no tool message could answer it"
        elif (call.choice, call_id) in owner:
            yield f"{call.path}.id", f"id {call_id!r} is also the id of {owner[call.choice, call_id]}"
        else:
            owner[call.choice, call_id] = call.path


@check(
    "tools.finish-reason",
    'finish_reason is "tool_calls" exactly when the choice answers with tool calls.',
    Source.SEED,
    f'{SEED_TOOLS}: the last chunk has finish_reason "tool_calls"; text answers finish with "stop"',
    applies=answered,
)
def finish_reason(ctx: Context) -> Iterator[Yielded]:
    # A missing finish_reason is stream.finish-reason's (streams) or schema.response's.
    if ctx.exchange.streamed:
        finished = [(i, c) for i, c in sorted(ctx.assembled.choices.items()) if c.finish_events]
        if not finished:
            yield NOTHING
        for index, choice in finished:
            if (choice.finish_reason == "tool_calls") != bool(choice.tool_calls):
                yield (
                    f"$.events[{choice.finish_events[-1]}].choices",
                    f"choice {index} has {len(choice.tool_calls)} tool call(s) and finished with "
                    f"{choice.finish_reason!r}",
                )
        return
    finished = [(slot, c) for slot, c in _plain_choices(ctx) if c.get("finish_reason") is not None]
    if not finished:
        yield NOTHING
    for slot, choice in finished:
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        reason = choice["finish_reason"]
        if (reason == "tool_calls") != bool(message.get("tool_calls")):
            yield (
                f"$.response.choices[{slot}].finish_reason",
                f"finish_reason is {reason!r} for a message "
                + ("with tool calls" if message.get("tool_calls") else "without tool calls"),
            )


@check(
    "tools.index-stable",
    "Every fragment of one streamed tool call carries the same index, and different calls different ones.",
    Source.OPENAI,
    "ChatCompletionMessageToolCallChunk.index; docs/spec.md#known-quirks: the documented stream breaks it",
    applies=lambda ctx: streamed_ok(ctx) and _declares_tools(ctx),
)
def index_stable(ctx: Context) -> Iterator[Yielded]:
    calls = [call for choice in ctx.assembled.choices.values() for call in choice.tool_calls]
    if not any(i is not None for call in calls for i in call.indexes):
        yield NOTHING  # no call, or none with an index (a missing index is schema.chunk's)
    for index, choice in sorted(ctx.assembled.choices.items()):
        owner: dict[int, str] = {}
        for position, call in enumerate(choice.tool_calls):
            path = f"$.assembled.choices[{index}].message.tool_calls[{position}].index"
            seen = sorted({i for i in call.indexes if i is not None})  # a missing index is schema.chunk's
            if len(seen) > 1:
                steps = zip(call.fragment_events, call.indexes, strict=True)
                pairs = ", ".join(f"event {e}: {i}" for e, i in steps)
                yield path, f"call {call.id!r} changes its index between fragments ({pairs})"
            elif seen and seen[0] in owner:
                yield (
                    path,
                    f"call {call.id!r} (events {call.fragment_events}) has index {seen[0]}, "
                    f"already used by call {owner[seen[0]]!r}",
                )
            for i in seen:
                owner.setdefault(i, str(call.id))


def _later_names(ctx: Context) -> dict[tuple[int, int], list[int]]:
    """By ``(choice index, position of the call)`` as assembled, the events whose fragment of that call,
    not its first, carries a ``function.name``. Fragments are put to their call by the assembler's own
    rule (``_add_tool_call``: by id, an id-less one to the call last seen at its index), so the
    positions are those of ``ctx.assembled``."""
    choices: dict[int, Choice] = {}
    later: dict[tuple[int, int], list[int]] = {}
    for event, chunk in ctx.chunks:
        for raw in as_list(chunk.get("choices")):
            if not isinstance(raw, dict) or not isinstance(raw.get("index", 0), int):
                continue  # schema.chunk reports it
            choice = choices.setdefault(raw.get("index", 0), Choice(index=raw.get("index", 0)))
            delta = raw.get("delta") if isinstance(raw.get("delta"), dict) else {}
            for fragment in as_list(delta.get("tool_calls")):
                if not isinstance(fragment, dict):
                    continue
                before = [len(call.fragment_events) for call in choice.tool_calls]
                _add_tool_call(choice, fragment, event)
                name = _function(fragment).get("name")
                if len(choice.tool_calls) > len(before) or not (isinstance(name, str) and name):
                    continue  # a call's first fragment, or one without a name
                calls = choice.tool_calls
                position = next(p for p, count in enumerate(before) if len(calls[p].fragment_events) > count)
                later.setdefault((choice.index, position), []).append(event)
    return later


@check(
    "tools.name-once",
    "A streamed tool call's function.name comes in its first fragment only; its later fragments carry "
    "arguments only.",
    Source.OPENAI,
    "ChatCompletionChunk: OpenAI names a call in its first fragment; openai-python's stream accumulator "
    "(accumulate_delta) appends every fragment's name; the documented stream repeats it in every fragment",
    applies=lambda ctx: streamed_ok(ctx) and _declares_tools(ctx),
)
def name_once(ctx: Context) -> Iterator[Yielded]:
    if not _has_calls(ctx):
        yield NOTHING
        return
    for (index, position), events in sorted(_later_names(ctx).items()):
        call = ctx.assembled.choices[index].tool_calls[position]
        yield (
            f"$.assembled.choices[{index}].message.tool_calls[{position}].function.name",
            f"call {call.id!r} ({call.name!r}) is named again in {len(events)} later fragment(s) (events "
            f"{events}): an accumulator that appends names (openai-python's) joins them",
        )


STREAM_MATCHES_PLAIN = requirement(
    "tools.stream-matches-plain",
    "The streamed tool calls equal the non-streamed ones to the same request: names and parsed "
    "arguments, in order.",
    Source.OPENAI,
    "streaming carries the same completion as the plain answer; vLLM tests/tool_use compare the two",
)


def compare_tool_calls(streamed: Exchange, plain: Exchange) -> list[Finding]:
    """Findings of ``tools.stream-matches-plain`` for a streamed and a non-streamed answer to the same
    request. Empty unless both answered: a failed exchange is reported by its own checks."""
    if not streamed.streamed or plain.streamed:
        raise ValueError("compare_tool_calls takes the streamed exchange first, then the non-streamed one")
    contexts = (Context(streamed), Context(plain))
    if not all(answered(ctx) for ctx in contexts):
        return []
    sides: dict[int, tuple[list[Call], list[Call]]] = {}
    for side, ctx in enumerate(contexts):
        for call in _calls(ctx):
            sides.setdefault(call.choice, ([], []))[side].append(call)
    rid = STREAM_MATCHES_PLAIN.id
    findings = []
    for index, (streamed_calls, plain_calls) in sorted(sides.items()):
        if len(streamed_calls) != len(plain_calls):
            findings.append(
                Finding(
                    rid,
                    f"$.assembled.choices[{index}].message.tool_calls",
                    f"choice {index}: {len(streamed_calls)} streamed tool call(s), "
                    f"{len(plain_calls)} non-streamed",
                )
            )
        for ours, theirs in zip(streamed_calls, plain_calls, strict=False):  # a count mismatch: above
            for what, left, right in (
                ("name", _function(ours.body).get("name"), _function(theirs.body).get("name")),
                ("arguments", _comparable(ours), _comparable(theirs)),
            ):
                if not same(left, right):  # json_equality: true is not 1
                    findings.append(
                        Finding(
                            rid, f"{ours.path}.function.{what}", f"streamed {left!r}, non-streamed {right!r}"
                        )
                    )
    return sorted(findings)


def _comparable(call: Call) -> Any:
    """The parsed arguments, or their text when they do not parse (tools.args-json reports that)."""
    arguments = _function(call.body).get("arguments")
    parsed = _parsed(arguments)
    return arguments if parsed is _NOT_PARSED else parsed
