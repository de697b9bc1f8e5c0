"""Structured output (form 12): with a ``json_schema`` response format the answer text is JSON that
satisfies the request's schema, and the SDK's ``parse()`` helper hands back that same value.

Each stage is judged once: text that is not JSON fails ``structured.json`` only, since there is
no value for ``structured.schema`` to validate or ``structured.sdk-parsed`` to compare.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs

from ..exchange import parse_json
from ..findings import json_path
from ..json_equality import same
from ..requirements import Source
from . import NOTHING, Context, Yielded, check
from ._predicates import answered

SEED_STRUCTURED = "Strukturierte Ausgabe: a Pydantic response_format via beta.chat.completions.parse"
_NOT_JSON = object()


def _json_schema_format(ctx: Context) -> dict[str, Any] | None:
    """The request's ``response_format`` when it asks for a JSON schema."""
    request = ctx.request
    response_format = request.get("response_format") if isinstance(request, dict) else None
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        return response_format
    return None


def _schema(ctx: Context) -> Any:
    json_schema = (_json_schema_format(ctx) or {}).get("json_schema")
    return json_schema.get("schema") if isinstance(json_schema, dict) else None


def structured_requested(ctx: Context) -> bool:
    return answered(ctx) and _json_schema_format(ctx) is not None


def _parse(content: Any) -> Any:
    """The JSON value of ``content``, or ``_NOT_JSON`` (orjson refuses anything but text, ``None``
    included, with the same ValueError as text that is not JSON)."""
    try:
        return parse_json(content)
    except ValueError:
        return _NOT_JSON


@check(
    "structured.json",
    "With a json_schema response format, every answer's text (assembled, for streams) parses as JSON.",
    Source.SEED,
    SEED_STRUCTURED,
    applies=structured_requested,
)
def answer_is_json(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING  # no message at all: message.not-empty reports it
    for path, message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            yield f"{path}.content", f"no text to parse (content is {content!r})"
            continue
        try:
            parse_json(content)
        except ValueError as exc:
            yield f"{path}.content", f"not JSON ({exc}): {content[:80]!r}"


@check(
    "structured.schema",
    "The parsed answer validates against the request's response_format.json_schema.schema.",
    Source.SEED,
    SEED_STRUCTURED + "; the returned content validates against that schema",
    applies=lambda ctx: structured_requested(ctx) and isinstance(_schema(ctx), dict),
)
def answer_matches_schema(ctx: Context) -> Iterator[Yielded]:
    try:
        # offline: a remote $ref in someone's schema must never send traffic from a check.
        validator = jsonschema_rs.validator_for(_schema(ctx), offline=True)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield "$.request.body.response_format.json_schema.schema", f"not a usable JSON Schema: {first_line}"
        return
    values = [(path, _parse(message.get("content"))) for path, message in ctx.answer_messages()]
    values = [(path, value) for path, value in values if value is not _NOT_JSON]  # else structured.json's
    if not values:
        yield NOTHING
    for path, value in values:
        for error in validator.iter_errors(value):
            message_text = error.message if len(error.message) <= 200 else f"{error.message[:200]}…"
            yield json_path(f"{path}.content", *error.instance_path), message_text


def _sdk_parsed(ctx: Context) -> list[tuple[int, dict[str, Any]]]:
    """``(position, message)`` of every SDK-view choice whose message carries ``parsed``."""
    view = ctx.exchange.sdk_view
    choices = view.get("choices") if isinstance(view, dict) else None
    out = []
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and "parsed" in message:
            out.append((position, message))
    return out


@check(
    "structured.sdk-parsed",
    "The SDK's message.parsed equals the JSON value of the answer's content on the wire.",
    Source.OPENAI,
    "openai SDK parse helper: ParsedChatCompletionMessage.parsed",
    applies=lambda ctx: structured_requested(ctx) and not ctx.exchange.streamed and bool(_sdk_parsed(ctx)),
)
def sdk_parsed(ctx: Context) -> Iterator[Yielded]:
    choices = ctx.exchange.body.get("choices")
    wire = {
        choice.get("index"): choice.get("message")
        for choice in (choices if isinstance(choices, list) else [])
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict)
    }
    view_choices = ctx.exchange.sdk_view["choices"]
    judged = 0
    for position, message in _sdk_parsed(ctx):
        index = view_choices[position].get("index", position)
        value = _parse((wire.get(index) or {}).get("content"))
        if value is _NOT_JSON:
            continue  # structured.json reports it
        judged += 1
        if not same(message["parsed"], value):  # json_equality: true is not 1
            yield (
                f"$.sdk_view.choices[{position}].message.parsed",
                f"the SDK parsed {json.dumps(message['parsed'])[:120]} but the content is "
                f"{json.dumps(value)[:120]}",
            )
    if not judged:
        yield NOTHING
