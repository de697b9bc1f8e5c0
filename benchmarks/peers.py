"""Peers: would what an openai SDK user already has notice the same mutations?

Three peers, each judged only by the rules it makes itself, over the distinct mutated answers of
``tools/mutations.py`` (and of the out-of-catalogue faults):

- ``openai-schema``: OpenAI's published schema alone (the ``openai`` profile's response, chunk and
  error schemas, which ``$ref`` into ``schemas/openai/reference.json``), run with jsonschema-rs on
  the body or on every chunk; an event whose data does not parse counts as a violation, since a
  validator fed by ``json.loads`` stops there.
- ``openai-client``: a default ``openai`` client, as a user runs ``client.chat.completions.create``
  (the stream iterated to its end): the answer is served to it by an in-memory transport, so
  nothing leaves the process. It notices what its user would: an exception, or a field the user
  reads (a declared field of the SDK's typed objects) that the original answer had and the mutant
  lost. The default client validates nothing (it builds its objects with ``construct``), so a
  count sent as a string passes it.
- ``openai-client-strict``: the same client, and every object it received validated strictly with
  the SDK's own types (``ChatCompletion.model_validate`` on the body, ``ChatCompletionChunk``'s on
  every event before ``[DONE]``, where the SDK stops reading): what a user who asks pydantic to
  check gets. Error answers have no SDK type: the client raises ``APIStatusError`` on any 4xx,
  whatever the body says.

The original Vertex traffic already breaks OpenAI's rules (no ``refusal``, no ``finish_reason`` key
on non-final chunks…), so a peer notices a mutant only with something the original did not have.
Schema and pydantic violations are compared per unit (the body, or one event), with mutant events
aligned to the original's by their data (``difflib``): an event the mutant left as it was cannot
add anything, a changed event is compared with the event it replaced, and an inserted one with
everything the original stream had.

Besides all mutations, the comparison counts those that break OpenAI's contract as this suite
reads it (``evaluate`` with the ``openai`` profile newly fails), the fairer ground for peers that
know nothing of Vertex's extensions.
"""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
import openai
import pydantic
from openai._streaming import SSEDecoder
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tools.mutations import Mutation, Outcome, distinct, failing
from vertex_conformance import schemas
from vertex_conformance.exchange import Exchange
from vertex_conformance.lanes import http_library

Signature = tuple[Any, ...]
Unit = tuple[str, frozenset[Signature]]  # (the data judged, its violations)
NOT_JSON: Signature = ("not JSON",)


# --- openai-schema --------------------------------------------------------------------------------


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
    try:
        errors = list(_validator(kind).iter_errors(value))
    except ValueError as exc:  # jsonschema-rs refuses a lone surrogate that json.loads let through
        return frozenset({("validator raised", type(exc).__name__)})
    return frozenset((tuple(e.instance_path), tuple(e.schema_path)) for e in errors)


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


# --- openai-client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientView:
    """What a user of ``client.chat.completions.create`` got: the exception it raised (its type's
    name), or the paths of the declared fields that held a value (for a stream, in any chunk)."""

    raised: str | None
    read: frozenset[tuple[Any, ...]]


def _read_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a declared field with a value in the SDK's typed objects; a value the SDK
    could not type (a dict where a model belongs, say) is a leaf: nothing below it can be read."""
    if isinstance(value, pydantic.BaseModel):
        for name in type(value).model_fields:
            field = getattr(value, name, None)
            if field is not None:
                yield from _read_paths(field, (*path, name))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _read_paths(item, (*path, position))
    else:
        yield path


def _client(exchange: Exchange) -> openai.OpenAI:
    """A default client whose every request is answered with ``exchange``'s answer, in memory."""
    library = importlib.import_module(http_library())
    text = exchange.stream_text if exchange.streamed else exchange.body_text
    content = (text or "").encode("utf-8", "surrogatepass")

    # the body is served as text: the recorded length and encoding no longer describe it
    headers = {k: v for k, v in exchange.headers.items() if k not in ("content-length", "content-encoding")}

    def answer(request: Any) -> Any:
        return library.Response(exchange.status or 200, headers=headers, content=content)

    return openai.OpenAI(
        api_key="unused",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=library.MockTransport(answer)),
    )


def client_view(exchange: Exchange) -> ClientView:
    """Run ``client.chat.completions.create`` (and iterate the stream) against ``exchange``. The
    request is a minimal one: what the SDK does with an answer does not depend on what was asked,
    beyond ``stream``."""
    client = _client(exchange)
    read: set[tuple[Any, ...]] = set()
    try:
        result = client.chat.completions.create(
            model="google/gemini-2.5-flash",
            messages=[{"role": "user", "content": "Hello"}],
            stream=exchange.streamed,
        )
        for item in result if exchange.streamed else [result]:
            read.update(_read_paths(item))
    except Exception as exc:  # whatever the SDK raises is what its user sees
        return ClientView(type(exc).__name__, frozenset())
    finally:
        client.close()
    return ClientView(None, frozenset(read))


def client_notices(original: ClientView, mutant: ClientView) -> bool:
    """An exception the original did not raise, or a field the original had and the mutant lost."""
    return mutant.raised != original.raised or bool(original.read - mutant.read)


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


def strict_units(exchange: Exchange) -> list[Unit]:
    """What the SDK's types say, validated strictly, of each object the client received."""
    if exchange.streamed:
        units = []
        text = (exchange.stream_text or "").encode("utf-8", "surrogatepass")
        for sse in SSEDecoder().iter_bytes(iter([text])):
            if sse.data.startswith("[DONE]"):
                break
            units.append((sse.data, _pydantic_violations(ChatCompletionChunk, sse.data)))
        return units
    if exchange.status >= 400:
        return []
    return [(exchange.body_text or "", _pydantic_violations(ChatCompletion, exchange.body_text or ""))]


# --- the peers and the comparison -----------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A way of checking: ``view`` is what it makes of an answer, ``notices`` whether the view of a
    mutant holds something the original's did not."""

    name: str
    view: Callable[[Exchange], Any]
    notices: Callable[[Any, Any], bool]


def _strict_view(exchange: Exchange) -> tuple[ClientView, list[Unit]]:
    return client_view(exchange), strict_units(exchange)


def _strict_notices(original: tuple[ClientView, list[Unit]], mutant: tuple[ClientView, list[Unit]]) -> bool:
    return client_notices(original[0], mutant[0]) or adds_violation(original[1], mutant[1])


PEERS = (
    Peer("openai-schema", schema_units, adds_violation),
    Peer("openai-client", client_view, client_notices),
    Peer("openai-client-strict", _strict_view, _strict_notices),
)


def peer_verdicts(mutations: list[Mutation], peers: Iterable[Peer] = PEERS) -> dict[str, list[bool]]:
    """For each peer, whether it noticed each mutation (its first copy, against that copy's original)."""
    verdicts: dict[str, list[bool]] = {}
    for peer in peers:
        originals: dict[int, Any] = {}
        noticed = []
        for mutation in mutations:
            mutant = mutation.mutant
            key = id(mutant.subject)
            if key not in originals:
                originals[key] = peer.view(mutant.subject.exchange)
            noticed.append(peer.notices(originals[key], peer.view(mutant.exchange)))
        verdicts[peer.name] = noticed
    return verdicts


def breaks_openai_contract(mutation: Mutation) -> bool:
    """Whether the mutant newly fails a requirement of OpenAI's contract as this suite reads it."""
    mutant = mutation.mutant
    return bool(failing(mutant.exchange, "openai") - failing(mutant.subject.exchange, "openai"))


SUITE_TARGETED = "suite, targeted"
SUITE_ANY = "suite, any"
Table = dict[str, dict[str, dict[str, int]]]


def comparison(
    catalogue: list[Outcome], outside: list[Outcome] | None = None, peers: Iterable[Peer] = PEERS
) -> Table:
    """``{group: {detector: {caught, total}}}`` over distinct mutations: ``catalogue`` (all of them),
    ``catalogue, breaks OpenAI's contract``, ``out-of-catalogue`` (when ``outside`` is given), then
    each operator of the catalogue. The detectors are this suite's ``evaluate`` (caught by a
    targeted requirement, and by any) and each peer."""
    peers = list(peers)
    sets = {"catalogue": distinct(catalogue), "out-of-catalogue": distinct(outside or [])}
    table: Table = {}
    for name, mutations in sets.items():
        if not mutations:
            continue
        verdicts = {
            SUITE_TARGETED: [m.targeted for m in mutations],
            SUITE_ANY: [m.caught for m in mutations],
            **peer_verdicts(mutations, peers),
        }
        contract = [breaks_openai_contract(m) for m in mutations] if name == "catalogue" else []
        for position, mutation in enumerate(mutations):
            groups = [name]
            if name == "catalogue":
                groups.append(mutation.mutant.operator)
                if contract[position]:
                    groups.append("catalogue, breaks OpenAI's contract")
            for group in groups:
                row = table.setdefault(group, {})
                for detector, noticed in verdicts.items():
                    cell = row.setdefault(detector, {"caught": 0, "total": 0})
                    cell["caught"] += noticed[position]
                    cell["total"] += 1
    heads = [
        g for g in ("catalogue", "catalogue, breaks OpenAI's contract", "out-of-catalogue") if g in table
    ]
    return {**{g: table.pop(g) for g in heads}, **dict(sorted(table.items()))}


def format_comparison(table: Table) -> str:
    detectors = list(next(iter(table.values())))
    width = max(len(group) for group in table) + 2
    lines = [f"{'mutations':<{width}}" + "".join(f"{d:>22}" for d in detectors)]
    for group, row in table.items():
        cells = (row[d] for d in detectors)
        lines.append(f"{group:<{width}}" + "".join(f"{_cell(c['caught'], c['total']):>22}" for c in cells))
    return "\n".join(lines)


def _cell(caught: int, total: int) -> str:
    return f"{caught}/{total} {caught / total:6.1%}" if total else "-"
