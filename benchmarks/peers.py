"""Peer comparison: do two other ways of checking Vertex traffic notice the same mutants?

- ``openai-schema``: OpenAI's published schema alone (the ``openai`` profile's response, chunk and
  error schemas, which ``$ref`` into ``schemas/openai/reference.json``), run with jsonschema-rs on
  the body or on every chunk; an event whose data does not parse counts as a violation, since a
  validator fed by ``json.loads`` stops there.
- ``openai-sdk``: the ``openai`` SDK's own parsing: ``ChatCompletion.model_validate`` on a body;
  for a stream, the SDK's ``SSEDecoder`` and ``ChatCompletionChunk.model_validate`` on every event
  before ``[DONE]`` (where the SDK stops reading), plus iterating a real ``openai.Stream`` over an
  ``httpx2.Response`` holding the text, as an SDK user would. Error answers are left alone: the SDK
  raises ``APIStatusError`` on any 4xx whatever the body says.

The original Vertex traffic already breaks OpenAI's schema (no ``refusal``, no ``finish_reason`` key
on non-final chunks…), so a peer catches a mutant only when it reports a violation the original
did not have. Violations are compared per unit (the body, or one event), with mutant events aligned
to the original's by their data (``difflib``): an event the mutant left as it was cannot add
anything, a changed event is compared with the event it replaced, and an inserted one with
everything the original stream had.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx2
import jsonschema_rs
import pydantic
from openai import OpenAI, Stream
from openai._streaming import SSEDecoder
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tools.mutations import Mutant, Run
from vertex_conformance import schemas
from vertex_conformance.exchange import Exchange

Signature = tuple[Any, ...]
Unit = tuple[str, frozenset[Signature]]  # (the data judged, its violations)
NOT_JSON: Signature = ("not JSON",)


@cache
def _validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    resources = []
    for path in schemas.schema_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        if "$id" in document:
            resources.append((document["$id"], document))
    return jsonschema_rs.Draft202012Validator(
        schemas.load("openai", kind), registry=jsonschema_rs.Registry(resources)
    )


def _schema_violations(kind: str, text: str) -> frozenset[Signature]:
    try:
        value = json.loads(text)
    except ValueError:
        return frozenset({NOT_JSON})
    return frozenset(
        (tuple(e.instance_path), tuple(e.schema_path)) for e in _validator(kind).iter_errors(value)
    )


def schema_units(exchange: Exchange) -> list[Unit]:
    """What OpenAI's schema alone says of each unit of ``exchange``."""
    if exchange.streamed:
        return [
            (event.data, _schema_violations("chunk", event.data))
            for event in exchange.sse.events
            if event.data != "[DONE]"
        ]
    kind = "error" if exchange.status >= 400 else "response"
    return [(exchange.body_text or "", _schema_violations(kind, exchange.body_text or ""))]


def _pydantic_violations(model: type[pydantic.BaseModel], text: str) -> frozenset[Signature]:
    try:
        value = json.loads(text)
    except ValueError:
        return frozenset({NOT_JSON})
    try:
        model.model_validate(value)
    except pydantic.ValidationError as exc:
        return frozenset((tuple(error["loc"]), error["type"]) for error in exc.errors())
    return frozenset()


@cache
def _client() -> OpenAI:
    """A client for building ``Stream`` objects; it never sends a request."""
    return OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0)


def _sdk_stream_raises(exchange: Exchange) -> frozenset[Signature]:
    """What iterating ``openai.Stream[ChatCompletionChunk]`` over the text raises, if anything."""
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx2.Response(
        exchange.status or 200,
        headers=exchange.headers,
        content=(exchange.stream_text or "").encode("utf-8"),
        request=request,
    )
    try:
        for _ in Stream(cast_to=ChatCompletionChunk, response=response, client=_client()):
            pass
    except Exception as exc:  # whatever the SDK raises is what its user sees
        return frozenset({("stream raised", type(exc).__name__)})
    return frozenset()


def sdk_units(exchange: Exchange) -> list[Unit]:
    """What the SDK's parsing says of each unit of ``exchange``."""
    if exchange.streamed:
        units = []
        text = (exchange.stream_text or "").encode("utf-8")
        for sse in SSEDecoder().iter_bytes(iter([text])):
            if sse.data.startswith("[DONE]"):
                break
            units.append((sse.data, _pydantic_violations(ChatCompletionChunk, sse.data)))
        units.append(("<stream>", _sdk_stream_raises(exchange)))
        return units
    if exchange.status >= 400:
        return []
    return [(exchange.body_text or "", _pydantic_violations(ChatCompletion, exchange.body_text or ""))]


def adds_violation(original: list[Unit], mutant: list[Unit]) -> bool:
    """Whether ``mutant`` has a violation its counterpart in ``original`` lacks (see module docstring)."""
    everything = frozenset().union(*(violations for _, violations in original))
    matcher = difflib.SequenceMatcher(None, [d for d, _ in original], [d for d, _ in mutant], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or tag == "delete":
            continue
        for offset, (_, violations) in enumerate(mutant[j1:j2]):
            counterpart = original[i1 + offset][1] if tag == "replace" and i1 + offset < i2 else everything
            if violations - counterpart:
                return True
    return False


@dataclass(frozen=True)
class Peer:
    name: str
    units: Callable[[Exchange], list[Unit]]


PEERS = (Peer("openai-schema", schema_units), Peer("openai-sdk", sdk_units))


def peer_verdicts(result: Run, peers: Iterable[Peer] = PEERS) -> dict[str, list[bool]]:
    """For each peer, whether it caught each mutant of ``result`` (in ``result.outcomes`` order)."""
    verdicts: dict[str, list[bool]] = {}
    for peer in peers:
        originals: dict[int, list[Unit]] = {}
        caught = []
        for outcome in result.outcomes:
            mutant: Mutant = outcome.mutant
            key = id(mutant.subject)
            if key not in originals:
                originals[key] = peer.units(mutant.subject.exchange)
            caught.append(adds_violation(originals[key], peer.units(mutant.exchange)))
        verdicts[peer.name] = caught
    return verdicts


def comparison(result: Run, peers: Iterable[Peer] = PEERS) -> dict[str, dict[str, dict[str, int]]]:
    """``{group: {detector: {caught, total}}}`` for ``overall`` and each operator; the detectors are
    this suite's ``evaluate`` (``vertex-conformance``) and each peer."""
    verdicts = {"vertex-conformance": [o.caught for o in result.outcomes], **peer_verdicts(result, peers)}
    table: dict[str, dict[str, dict[str, int]]] = {}
    for position, outcome in enumerate(result.outcomes):
        for group in ("overall", outcome.mutant.operator):
            row = table.setdefault(group, {})
            for detector, caught in verdicts.items():
                cell = row.setdefault(detector, {"caught": 0, "total": 0})
                cell["caught"] += caught[position]
                cell["total"] += 1
    return {"overall": table.pop("overall"), **dict(sorted(table.items()))}


def format_comparison(table: dict[str, dict[str, dict[str, int]]]) -> str:
    detectors = list(table["overall"])
    lines = [f"{'operator':<20}" + "".join(f"{d:>22}" for d in detectors)]
    for group, row in table.items():
        cells = (row[d] for d in detectors)
        lines.append(f"{group:<20}" + "".join(f"{_cell(c['caught'], c['total']):>22}" for c in cells))
    return "\n".join(lines)


def _cell(caught: int, total: int) -> str:
    return f"{caught}/{total} {caught / total:6.1%}" if total else "-"
