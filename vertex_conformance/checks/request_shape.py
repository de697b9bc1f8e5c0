"""Checks of the request body's shape and of the links inside a conversation: the body fits the
profile's request schema, tool messages answer earlier tool calls, a multimodal function
response's ``$ref`` names one of its files, and thought signatures travel back to the model.

They judge what a lane (or an SDK) put on the wire, so they apply to every exchange whose
request body is known, answered or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import schemas
from ..exchange import parse_json
from ..extensions import google
from ..requirements import Source
from . import NOTHING, Context, Violation, Yielded, check

SEED_FUNCTION_RESPONSE = "Multimodale Funktionsantworten: Beispielanfrage"


def _messages(ctx: Context) -> list[tuple[int, dict[str, Any]]]:
    """``(position, message)`` for every message of the request that is an object."""
    messages = ctx.request.get("messages") if isinstance(ctx.request, dict) else None
    if not isinstance(messages, list):
        return []
    return [(position, m) for position, m in enumerate(messages) if isinstance(m, dict)]


def _with_role(ctx: Context, role: str) -> list[tuple[int, dict[str, Any]]]:
    return [(position, m) for position, m in _messages(ctx) if m.get("role") == role]


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls = message.get("tool_calls")
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


@check(
    "request.schema",
    "The request body validates against the profile's request schema.",
    Source.SEED,
    "every Beispielanfrage; Beispiele für extra_body and extra_content; Multimodale Anfragen",
    applies=lambda ctx: ctx.request is not None,
)
def request_schema(ctx: Context) -> Iterator[Violation]:
    yield from schemas.violations(ctx.profile, "request", ctx.request, "$.request.body")


def _refs(value: Any) -> Iterator[Any]:
    """Every ``$ref`` value in a JSON value, depth first."""
    if isinstance(value, dict):
        if "$ref" in value:
            yield value["$ref"]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _texts(content: Any) -> list[str]:
    """A tool message's text: its string content, or the text of its text parts."""
    if isinstance(content, str):
        return [content]
    parts = content if isinstance(content, list) else []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


@check(
    "request.function-response-ref",
    'Every {"$ref": X} in a tool message\'s JSON content names the display_name of one of its '
    "extra_content.google.parts[].file_data.",
    Source.SEED,
    SEED_FUNCTION_RESPONSE + ' ({"$ref": "dress.jpg"} and file_data.display_name "dress.jpg")',
    applies=lambda ctx: bool(_with_role(ctx, "tool")),
)
def function_response_ref(ctx: Context) -> Iterator[Yielded]:
    refs = 0
    for position, message in _with_role(ctx, "tool"):
        parts = google(message).get("parts")
        files = [
            part["file_data"]
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict) and isinstance(part.get("file_data"), dict)
        ]
        names = {f["display_name"] for f in files if isinstance(f.get("display_name"), str)}
        for text in _texts(message.get("content")):
            try:
                value = parse_json(text)
            except ValueError:
                continue  # plain text holds no $ref
            for ref in _refs(value):
                refs += 1
                if not (isinstance(ref, str) and ref in names):
                    yield (
                        f"$.request.body.messages[{position}].content",
                        f"$ref {ref!r} names no file in extra_content.google.parts "
                        f"(display names: {sorted(names)})",
                    )
    if not refs:
        yield NOTHING  # no tool message points at a file


@check(
    "request.tool-call-id",
    "Every tool message's tool_call_id answers a tool call id of an earlier assistant message.",
    Source.SEED,
    SEED_FUNCTION_RESPONSE + " (tool_call_id = the assistant tool call's id)",
    applies=lambda ctx: bool(_with_role(ctx, "tool")),
)
def tool_call_id(ctx: Context) -> Iterator[Violation]:
    called: list[Any] = []
    for position, message in _messages(ctx):
        if message.get("role") == "assistant":
            called.extend(call.get("id") for call in _tool_calls(message))
        elif message.get("role") == "tool" and message.get("tool_call_id") not in called:
            yield (
                f"$.request.body.messages[{position}].tool_call_id",
                f"{message.get('tool_call_id')!r} answers no earlier tool call (ids called before: {called})",
            )


@check(
    "request.thought-signature-kept",
    "Assistant tool calls sent back keep their thought_signature: the first call of every assistant "
    "message carries extra_content.google.thought_signature.",
    Source.REPORTED,
    "docs/spec.md#reported-behaviour: thought signatures (400 without them on newer models); "
    "Gemini signs only the first of parallel calls, as the seed's stream sample shows",
    applies=lambda ctx: any(_tool_calls(m) for _, m in _with_role(ctx, "assistant")),
)
def thought_signature_kept(ctx: Context) -> Iterator[Violation]:
    for position, message in _with_role(ctx, "assistant"):
        calls = _tool_calls(message)
        if not calls:
            continue
        signature = google(calls[0]).get("thought_signature")
        if not (isinstance(signature, str) and signature):
            yield (
                f"$.request.body.messages[{position}].tool_calls[0].extra_content.google.thought_signature",
                f"the tool call {calls[0].get('id')!r} was sent back without its thought_signature",
            )
