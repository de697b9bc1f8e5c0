"""What a client's user gets: openai-node, LiteLLM and LangChain held to the wire they were answered on.

A client lane (``vocabulary.CLIENT_LANES``) drives a real client through the suite's gateway and
keeps, next to the wire traffic, what that client handed its user (``Exchange.sdk_view``: a
``client_call.ClientResult`` as JSON, ``{"call", "version", "view", "error"}``). These checks hold
the view to the wire: the answer reaches the user, with the wire's content, the tool calls the wire
carried (put together by call id, as ``ctx.assembled`` does), arguments that parse and fit the
declared parameters, each call's thought signature, the wire's usage; an error reaches the user
with the server's message. A finding here is about the client release under test, not the server;
each says what the client gave and what the wire gave. Where there is nothing to judge (no
content on the wire, no calls, no usage, no error message) a check yields ``NOTHING``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..assembly import as_list
from ..exchange import parse_json
from ..extensions import google
from ..findings import json_path
from ..json_equality import same
from ..requirements import Source
from ..vocabulary import CLIENT_LANES
from . import NOTHING, Context, Violation, Yielded, check
from ._predicates import answered, succeeded
from .tools import argument_errors, declared_tools

CLIENT_WHERE = "{} (the client's view: vertex_conformance/client_call.py)"
VIEW = "$.sdk_view.view"
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def client_lane(ctx: Context) -> bool:
    return ctx.exchange.lane in CLIENT_LANES


def _result(ctx: Context) -> dict[str, Any]:
    """The client's result (``ClientResult.to_dict()``), or ``{}`` when the lane kept none."""
    return ctx.exchange.sdk_view if isinstance(ctx.exchange.sdk_view, dict) else {}


def _view(ctx: Context) -> dict[str, Any] | None:
    view = _result(ctx).get("view")
    return view if isinstance(view, dict) else None


def client_viewed(ctx: Context) -> bool:
    """A client-lane answer with something to judge that the client handed its user."""
    return client_lane(ctx) and answered(ctx) and _view(ctx) is not None


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@check(
    "client.answers",
    "A successful answer reaches the client's user: the client returns its result without raising.",
    Source.OPENAI,
    CLIENT_WHERE.format("the client's documented call: create, stream, invoke"),
    # Bytes that are not UTF-8 are response.utf8's finding; a client is right to refuse them.
    applies=lambda ctx: client_lane(ctx) and answered(ctx) and not ctx.exchange.undecodable,
)
def client_answers(ctx: Context) -> Iterator[Violation]:
    result = _result(ctx)
    error = result.get("error")
    if isinstance(error, dict):
        yield (
            "$.sdk_view.error",
            f"the client raised {error.get('type')} ({_short(error.get('message'), 160)}) on a "
            f"{ctx.exchange.status or 'successful'} answer",
        )
    elif _view(ctx) is None:
        yield "$.sdk_view.view", "the client handed its user nothing for a successful answer"


def _first_message(ctx: Context) -> dict[str, Any]:
    """The wire's first choice's message: the body's, or the stream's assembled by call id."""
    return next((message for _, message in ctx.answer_messages()), {})


def _differ(theirs: Any, ours: Any) -> str:
    """Where the client's value differs from the wire's, said briefly: texts at their first
    differing character, anything else whole."""
    if not (isinstance(theirs, str) and isinstance(ours, str)):
        return f"the client gave {_short(theirs)}; the wire {_short(ours)}"
    at = next(
        (i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b), min(len(theirs), len(ours))
    )
    start = max(0, at - 20)
    return (
        f"the client's text ({len(theirs)} characters) differs from the wire's ({len(ours)}) at character "
        f"{at}: the client {_short(theirs[start : at + 30])}, the wire {_short(ours[start : at + 30])}"
    )


@check(
    "client.content",
    "The content of the client's message equals the content of the wire's first choice (a stream's "
    "deltas joined).",
    Source.OPENAI,
    CLIENT_WHERE.format("ChatCompletionMessage.content / AIMessage.content"),
    applies=client_viewed,
)
def client_content(ctx: Context) -> Iterator[Yielded]:
    ours = _first_message(ctx).get("content")
    if ours is None or ours == "" or ours == []:
        yield NOTHING  # the wire has no content (a tool-call answer): nothing for the client to keep
        return
    theirs = (_view(ctx) or {}).get("content")
    if not same(theirs, ours):
        yield f"{VIEW}.content", _differ(theirs, ours)


def _arguments(arguments: Any) -> Any:
    """Arguments as compared: parsed when they are JSON text, else as given (a dict a client parsed
    for its user, or text that does not parse: ``client.tool-arguments`` reports that)."""
    try:
        return parse_json(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return arguments


def _wire_calls(ctx: Context) -> list[dict[str, Any]]:
    """The wire's tool calls of the first choice (a stream's, by call id), as messages carry them."""
    return [call for call in as_list(_first_message(ctx).get("tool_calls")) if isinstance(call, dict)]


def _function(call: dict[str, Any]) -> dict[str, Any]:
    return call["function"] if isinstance(call.get("function"), dict) else {}


def _client_calls(ctx: Context) -> list[dict[str, Any]]:
    """The tool calls the client handed its user (a view without ``tool_calls``: none)."""
    return [call for call in as_list((_view(ctx) or {}).get("tool_calls")) if isinstance(call, dict)]


def _spell(calls: list[tuple[Any, Any, Any]]) -> str:
    spelled = (f"{id} {name}({json.dumps(args, ensure_ascii=False)})" for id, name, args in calls)
    return "[" + ", ".join(s if len(s) <= 160 else s[:159] + "…" for s in spelled) + "]"


@check(
    "client.tool-calls",
    "The client hands its user the tool calls the wire carried, put together by call id: the same "
    "count, ids, names and parsed arguments, in order.",
    Source.SEED,
    CLIENT_WHERE.format(
        "stream_function_call_arguments: the documented stream's index is not stable per call, its id is"
    ),
    applies=client_viewed,
)
def client_tool_calls(ctx: Context) -> Iterator[Yielded]:
    ours = [
        (c.get("id"), _function(c).get("name"), _arguments(_function(c).get("arguments")))
        for c in _wire_calls(ctx)
    ]
    theirs = [(c.get("id"), c.get("name"), _arguments(c.get("arguments"))) for c in _client_calls(ctx)]
    if not ours and not theirs:
        yield NOTHING  # a text answer: no call to hand over
        return
    if len(theirs) != len(ours):
        yield (
            f"{VIEW}.tool_calls",
            f"the client gave {len(theirs)} tool call(s) {_spell(theirs)}; the wire by call id "
            f"{len(ours)} {_spell(ours)}",
        )
        return
    for position, (mine, wire) in enumerate(zip(theirs, ours, strict=True)):
        for key, held, sent in zip(("id", "name", "arguments"), mine, wire, strict=True):
            if not same(held, sent):  # json_equality: true is not 1
                yield (
                    f"{VIEW}.tool_calls[{position}].{key}",
                    f"the client gave {_short(held)}; the wire {_short(sent)}",
                )


@check(
    "client.tool-call-ids-unique",
    "No two of the tool calls the client hands its user share an id.",
    Source.OPENAI,
    CLIENT_WHERE.format("a follow-up answers each call by its tool_call_id"),
    applies=client_viewed,
)
def client_tool_call_ids_unique(ctx: Context) -> Iterator[Yielded]:
    calls = _client_calls(ctx)
    if not calls:
        yield NOTHING
    first: dict[str, int] = {}
    for position, call in enumerate(calls):
        call_id = call.get("id")
        if not (isinstance(call_id, str) and call_id):
            continue  # a missing id is client.tool-calls' finding (it differs from the wire's)
        if call_id in first:
            yield (
                f"{VIEW}.tool_calls[{position}].id",
                f"id {call_id!r} is also the id of call {first[call_id]}: a follow-up would answer both "
                "with one tool_call_id",
            )
        else:
            first[call_id] = position


@check(
    "client.tool-arguments",
    "Each tool call the client hands its user has arguments that parse as a JSON object and satisfy the "
    "parameters schema of the tool of that name in the request.",
    Source.SEED,
    CLIENT_WHERE.format("stream_function_call_arguments: parameters require location and unit"),
    applies=client_viewed,
)
def client_tool_arguments(ctx: Context) -> Iterator[Yielded]:
    calls = _client_calls(ctx)
    if not calls:
        yield NOTHING
    tools = declared_tools(ctx.exchange.expected_body) or declared_tools(ctx.request)
    for position, call in enumerate(calls):
        path = f"{VIEW}.tool_calls[{position}].arguments"
        raw, parsed = call.get("arguments"), _arguments(call.get("arguments"))
        if isinstance(raw, str) and parsed is raw:
            yield path, f"the client's arguments do not parse as JSON: {_short(raw, 120)}"
            continue
        if not isinstance(parsed, dict):
            yield path, f"the client's arguments are not a JSON object: {_short(parsed, 120)}"
            continue
        name = call.get("name")
        try:
            errors = argument_errors(tools.get(name) if isinstance(name, str) else None, parsed)
        except ValueError:  # no parameters (a tool not declared), or unusable ones: tools.args-schema's
            continue
        for where, message in errors:
            yield json_path(path, *where), f"{message} (parameters of {name!r})"


def _signature(carrier: Any) -> Any:
    signature = google(carrier).get("thought_signature")
    return signature if isinstance(signature, str) and signature else None


@check(
    "client.thought-signature",
    "Each tool call the client hands its user carries the extra_content.google.thought_signature the "
    "wire gave the call with its id.",
    Source.SEED,
    CLIENT_WHERE.format(
        "the thought_signature of a tool call must come back with it in the follow-up turn "
        "(https://ai.google.dev/gemini-api/docs/thought-signatures)"
    ),
    applies=client_viewed,
)
def client_thought_signature(ctx: Context) -> Iterator[Yielded]:
    signed = {c.get("id"): s for c in _wire_calls(ctx) if (s := _signature(c)) is not None}
    owner = {s: call_id for call_id, s in signed.items()}
    judged = False
    for position, call in enumerate(_client_calls(ctx)):
        wire = signed.get(call.get("id"))
        held = call.get("thought_signature") or None
        if wire is None and held not in owner:
            continue  # the wire signed no call of this id, and the client put none of its signatures here
        judged = True
        if held == wire:
            continue
        path = f"{VIEW}.tool_calls[{position}].thought_signature"
        if held in owner:
            yield path, f"moved: the call carries the signature the wire gave call {owner[held]!r}"
        elif held is None:
            yield path, f"dropped: the wire gave call {call.get('id')!r} the signature {_short(wire)}"
        else:
            yield path, f"changed: the client gave {_short(held)}; the wire {_short(wire)}"
    if not judged:
        yield NOTHING


@check(
    "client.usage",
    "The usage the client reports equals the wire's: prompt, completion and total tokens as sent (a "
    "total recomputed from the other two is not Vertex's, which counts reasoning tokens too).",
    Source.SEED,
    CLIENT_WHERE.format("stream_function_call_arguments: usage 27 + 45 + 504 reasoning tokens = 576 total"),
    applies=client_viewed,
)
def client_usage(ctx: Context) -> Iterator[Yielded]:
    _, wire = ctx.answer_usage()
    sent = {
        k: wire[k] for k in _USAGE_KEYS if isinstance(wire, dict) and isinstance(wire.get(k), int | float)
    }
    if not sent:
        yield NOTHING  # the wire has no usage: usage.present reports it
        return
    held = (_view(ctx) or {}).get("usage")
    if not isinstance(held, dict):
        yield f"{VIEW}.usage", f"the client reports no usage; the wire's is {_short(sent)}"
        return
    for key, value in sent.items():
        if not same(held.get(key), value):
            message = f"the client gave {_short(held.get(key))}; the wire {value}"
            if key == "total_tokens" and _recomputed(held):
                message += " (prompt + completion, recomputed: Vertex's total also counts reasoning tokens)"
            yield f"{VIEW}.usage.{key}", message


def _recomputed(usage: dict[str, Any]) -> bool:
    parts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return all(isinstance(p, int) for p in parts) and usage.get("total_tokens") == sum(parts)


def _wire_error_messages(ctx: Context) -> list[str]:
    """The messages of the error body: Google's ``{"error": {...}}``, or each error of the reported
    array form ``[{"error": {...}}]`` (as checks/errors.py reads them)."""
    body = ctx.exchange.body
    wrappers = body if isinstance(body, list) else [body]
    errors = [w.get("error") for w in wrappers if isinstance(w, dict)]
    return [
        e["message"]
        for e in errors
        if isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"].strip()
    ]


def _spellings(message: str) -> tuple[str, ...]:
    """How a message may show inside a client's error text, whitespace normalised: as sent, or escaped
    inside the body the client quotes (JSON text, or Python's repr of the parsed body, as openai-python's
    ``Error code: 400 - [{'error': …}]`` does)."""
    return tuple(" ".join(s.split()) for s in (message, json.dumps(message)[1:-1], repr(message)[1:-1]))


@check(
    "client.error-message",
    "When an error answer carries a message, the error the client raises shows its user that message.",
    Source.REPORTED,
    CLIENT_WHERE.format(
        "docs/spec.md#known-quirks: errors in Google's shape {error: {code, message, status}}, reported "
        "also as an array; a bare status leaves the user guessing"
    ),
    applies=lambda ctx: client_lane(ctx) and not succeeded(ctx) and bool(_result(ctx)),
)
def client_error_message(ctx: Context) -> Iterator[Yielded]:
    messages = _wire_error_messages(ctx)
    if not messages:
        yield NOTHING  # an error without a message: nothing the client could show
        return
    error = _result(ctx).get("error")
    if not isinstance(error, dict):
        yield (
            "$.sdk_view.error",
            f"the client raised nothing for a {ctx.exchange.status} answer saying {_short(messages[0])}",
        )
        return
    shown = error.get("message") if isinstance(error.get("message"), str) else ""
    text = " ".join(shown.split())
    for message in messages:
        if not any(spelling in text for spelling in _spellings(message)):
            yield (
                "$.sdk_view.error.message",
                f"the client showed {_short(shown)}; the wire's message {_short(message)} is not in it",
            )
