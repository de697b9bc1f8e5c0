"""Mutation testing of the checks: break the shipped traffic in named ways and count what they notice.

Every response and stream of every shipped cassette is a *subject*. Each operator of the catalogue
breaks a subject in one named way (a dropped field, a camelCase key, a second ``[DONE]``, arguments
that miss their schema…) and yields 0..n *mutants*, each with a description; an operator yields
nothing where it makes no sense (tool operators on answers without tool calls, say). Each operator
also names the requirements it *targets*: the ones whose statement its mutations violate.

A score that says what it measures follows three rules:

- A mutant is *caught* when ``evaluate`` newly fails a requirement it targets (the original may
  already fail a known deviation, ``tools.index-stable``, so verdicts are compared, not counted).
  A failure of another requirement is reported ("caught by any requirement"), never credited.
- Mutants are counted as *distinct mutations*: grouped by the mutated answer's bytes, since an
  answer several forms share is mutated once per form. A mutation counts as caught only when
  every copy is.
- Beside the score: how many mutations schema validation alone caught, and how many only the
  closure of the vertex profile's objects (``additionalProperties: false``) caught: validated
  again with the profile opened (``tools/open_schemas.py``), nothing fails.

Two lists keep the score honest:

- ``EQUIVALENT_REWRITES``, the no-op control, change the bytes but nothing the contract lets a
  client observe (key order, CR or CRLF line ends, a BOM, SSE comments and blocks without data, a
  split delta, OpenAI's usage chunk…), each with the specification that allows it. Any failure
  they raise is a *false alarm*; one awaiting its fix is listed in ``PENDING_FALSE_ALARMS``.
- ``ALLOWED_SURVIVORS`` names, with a reason, each mutant the checks are known to miss. A survivor
  or false alarm on neither list fails ``tests/test_mutations.py`` and the command.

Run ``python -m tools.mutations`` (from the checkout's root) for the score overall, by operator and
by form (the suite module a cassette belongs to), the survivors and the no-op control; ``--json``
prints the same as JSON. The faults written from outside the checks are ``tools/out_of_catalogue.py``'s.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vertex_conformance.checks import evaluate
from vertex_conformance.checks.tools import declared_tools
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.extensions import google
from vertex_conformance.findings import json_path
from vertex_conformance.paths import CASSETTES, FIXTURES
from vertex_conformance.recording import SAMPLE_HEADER, AtomicPersister, CassetteSerializer

from .open_schemas import SCHEMA_REQUIREMENTS, open_failures

PROFILE = "vertex"
SHIPPED = CASSETTES / "vertex"
MEDIA = FIXTURES / "media"
JsonPath = tuple[str | int, ...]


# --- subjects: the shipped traffic -----------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """One recorded interaction to mutate. ``form`` is its suite module without ``test_``."""

    form: str
    cassette: str
    interaction: int
    exchange: Exchange

    @property
    def kind(self) -> str:
        """``stream``, ``plain`` (a successful JSON answer), ``error`` or ``other``."""
        if self.exchange.streamed:
            return "stream"
        if self.exchange.status >= 400:
            return "error"
        return "plain" if isinstance(self.exchange.body, dict) else "other"

    @property
    def request(self) -> dict[str, Any]:
        body = self.exchange.request.body if self.exchange.request else None
        return body if isinstance(body, dict) else {}

    @cached_property
    def events(self) -> tuple[Any, ...]:
        """The stream's event payloads: a chunk parsed (a dict), anything else as its text."""
        out = []
        for event in self.exchange.sse.events:
            try:
                parsed = json.loads(event.data)
            except ValueError:
                parsed = None
            out.append(parsed if isinstance(parsed, dict) else event.data)
        return tuple(out)


def exchange_from_interaction(request: Any, response: dict[str, Any]) -> Exchange:
    """The exchange a cassette interaction (as ``CassetteSerializer`` loads it) stands for."""
    headers = {
        name.lower(): str(values[0])
        for name, values in response["headers"].items()
        if values and name.lower() != SAMPLE_HEADER
    }
    raw = request.body or b""
    wire = WireRequest(
        method=request.method,
        url=request.uri,
        headers={name.lower(): str(value) for name, value in request.headers.items()},
        body_text=raw.decode("utf-8") if isinstance(raw, bytes) else str(raw),
    )
    text = (response["body"]["string"] or b"").decode("utf-8")
    status = response["status"]["code"]
    if headers.get("content-type", "").split(";")[0].strip().lower() == "text/event-stream":
        return Exchange(wire, status, headers, stream_text=text)
    return Exchange(wire, status, headers, body_text=text)


def load_subjects(root: Path = SHIPPED) -> list[Subject]:
    """Every distinct interaction of every cassette under ``root``. The lanes record the same answer
    to the same request twice; one copy is kept, so a mutant is not counted once per lane."""
    subjects, seen = [], set()
    for path in sorted(root.rglob("*.yaml")):
        requests, responses = AtomicPersister.load_cassette(path, CassetteSerializer)[:2]
        form = path.parent.name.removeprefix("test_")
        for index, (request, response) in enumerate(zip(requests, responses, strict=True)):
            exchange = exchange_from_interaction(request, response)
            wire = exchange.request
            body = json.dumps(wire.body, sort_keys=True) if wire and wire.body is not None else ""
            where = urlsplit(wire.url).path if wire else ""
            key = (
                form,
                where,
                body,
                exchange.status,
                exchange.content_type,
                exchange.body_text,
                exchange.stream_text,
            )
            if key not in seen:
                seen.add(key)
                subjects.append(Subject(form, path.relative_to(root).as_posix(), index, exchange))
    return subjects


# --- building mutated exchanges ------------------------------------------------------------------


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answer_with(subject: Subject, **changes: Any) -> Exchange:
    """The subject's exchange with other response parts (the request stays as it was sent)."""
    base = subject.exchange
    return Exchange(
        request=base.request,
        status=changes.get("status", base.status),
        headers=changes.get("headers", base.headers),
        body_text=changes.get("body_text", base.body_text if not base.streamed else None),
        stream_text=changes.get("stream_text", base.stream_text),
    )


def plain_answer(subject: Subject, body: Any) -> Exchange:
    return answer_with(subject, body_text=dump(body))


def render(events: Iterable[Any]) -> str:
    """SSE text for event payloads: one ``data:`` event per payload, chunks as compact JSON."""
    return "".join(f"data: {dump(e) if isinstance(e, dict) else e}\n\n" for e in events)


def stream_answer(subject: Subject, events: Iterable[Any]) -> Exchange:
    return answer_with(subject, stream_text=render(events))


def event_copies(subject: Subject) -> list[Any]:
    """A fresh, mutable copy of the subject's event payloads."""
    return copy.deepcopy(list(subject.events))


def chunk_positions(events: list[Any]) -> list[int]:
    return [i for i, e in enumerate(events) if isinstance(e, dict)]


def get_at(doc: Any, path: JsonPath) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def expand(doc: Any, pattern: str) -> list[JsonPath]:
    """Every path in ``doc`` that a dotted pattern names (``*`` stands for each item of a list)."""
    paths: list[JsonPath] = [()]
    for part in pattern.split("."):
        found: list[JsonPath] = []
        for path in paths:
            node = get_at(doc, path)
            if part == "*" and isinstance(node, list):
                found.extend((*path, i) for i in range(len(node)))
            elif isinstance(node, dict) and part in node:
                found.append((*path, part))
        paths = found
    return paths


def _where(path: JsonPath, event: int | None = None) -> str:
    return (f"event {event}: " if event is not None else "") + json_path("$", *path)


def is_answer(subject: Subject) -> bool:
    """A successful answer with something to break: a JSON object, or a stream with chunks."""
    return subject.kind == "plain" or (
        subject.kind == "stream" and bool(chunk_positions(list(subject.events)))
    )


Change = Callable[[Any, JsonPath], str | None]  # mutates the document at a path; says what it did


def _field_mutants(
    subject: Subject, plain: Iterable[str], stream: Iterable[str], change: Change
) -> Iterator[tuple[str, Exchange]]:
    """One mutant per path a pattern names in a plain answer; for a stream, one per pattern, made in
    the last chunk that has it (the final chunk carries usage and finish_reason)."""
    if subject.kind == "plain":
        for pattern in plain:
            for path in expand(subject.exchange.body, pattern):
                body = copy.deepcopy(subject.exchange.body)
                what = change(body, path)
                if what:
                    yield f"{_where(path)} {what}", plain_answer(subject, body)
    elif subject.kind == "stream":
        for pattern in stream:
            events = event_copies(subject)
            hits = [
                (pos, paths[0]) for pos in chunk_positions(events) if (paths := expand(events[pos], pattern))
            ]
            if hits:
                pos, path = hits[-1]
                what = change(events[pos], path)
                if what:
                    yield f"{_where(path, pos)} {what}", stream_answer(subject, events)


def _adder(key: str, value: Any) -> Change:
    def change(doc: Any, path: JsonPath) -> str:
        get_at(doc, path)[key] = value
        return f"gains {key!r}"

    return change


def _drop(doc: Any, path: JsonPath) -> str:
    del get_at(doc, path[:-1])[path[-1]]
    return "dropped"


def _flipped(value: Any, key: str | int) -> Any:
    """``value`` as another JSON type, the way servers get it wrong: numbers as strings, strings as
    numbers, tool arguments as an object instead of a JSON string."""
    if key == "arguments" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {"raw": value}
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return 42
    if isinstance(value, list):
        return {}
    if isinstance(value, dict):
        return [value]
    return []  # null


def _flip(doc: Any, path: JsonPath) -> str:
    parent, key = get_at(doc, path[:-1]), path[-1]
    before = parent[key]
    parent[key] = _flipped(before, key)
    return f"{type(before).__name__} -> {type(parent[key]).__name__}"


def _setter(value: Any) -> Change:
    def change(doc: Any, path: JsonPath) -> str | None:
        parent, key = get_at(doc, path[:-1]), path[-1]
        if parent[key] == value:
            return None  # no change, no mutant
        parent[key] = value
        return f"= {dump(value)}"

    return change


# --- text of the answer (content) and tool-call arguments, plain or streamed ----------------------


def _message_paths(subject: Subject) -> list[JsonPath]:
    return expand(subject.exchange.body, "choices.*.message")


def _stream_text(events: list[Any], choice: int = 0) -> str | None:
    parts = [
        delta["content"]
        for pos in chunk_positions(events)
        for raw in events[pos].get("choices") or []
        if isinstance(raw, dict) and raw.get("index", 0) == choice
        for delta in [raw.get("delta") or {}]
        if isinstance(delta, dict) and isinstance(delta.get("content"), str)
    ]
    return "".join(parts) if parts else None


def _set_stream_text(events: list[Any], text: str, choice: int = 0) -> None:
    """Put ``text`` in the first delta that carried content and empty the others: the stream then
    assembles to ``text`` however the original was split."""
    first = True
    for pos in chunk_positions(events):
        for raw in events[pos].get("choices") or []:
            delta = raw.get("delta") if isinstance(raw, dict) and raw.get("index", 0) == choice else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                delta["content"], first = (text if first else ""), False


def _text_mutants(
    subject: Subject, edits: Iterable[tuple[str, Callable[[str], str | None]]]
) -> Iterator[tuple[str, Exchange]]:
    """For each ``(description, edit)``: the answer's text edited (``None``: the edit does not apply)."""
    for description, edit in edits:
        if subject.kind == "plain":
            for path in _message_paths(subject):
                message = get_at(subject.exchange.body, path)
                text = message.get("content") if isinstance(message, dict) else None
                new = edit(text) if isinstance(text, str) else None
                if new is not None and new != text:
                    body = copy.deepcopy(subject.exchange.body)
                    get_at(body, path)["content"] = new
                    yield f"{_where((*path, 'content'))}: {description}", plain_answer(subject, body)
        elif subject.kind == "stream":
            events = event_copies(subject)
            text = _stream_text(events)
            new = edit(text) if text is not None else None
            if new is not None and new != text:
                _set_stream_text(events, new)
                yield f"assembled content: {description}", stream_answer(subject, events)


@dataclass
class _StreamCall:
    id: Any
    fragments: list[dict[str, Any]] = field(default_factory=list)  # in order, as carried by the chunks

    @property
    def arguments(self) -> str:
        return "".join(
            f["function"]["arguments"]
            for f in self.fragments
            if isinstance(f.get("function"), dict) and isinstance(f["function"].get("arguments"), str)
        )

    def set_arguments(self, text: str) -> None:
        """The whole text in the first fragment that carried arguments, the others emptied."""
        first = True
        for fragment in self.fragments:
            function = fragment.get("function")
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                function["arguments"], first = (text if first else ""), False


def stream_calls(events: list[Any]) -> list[_StreamCall]:
    """The tool calls of choice 0, grouped by id as the suite's assembler groups them."""
    calls: dict[Any, _StreamCall] = {}
    for pos in chunk_positions(events):
        for raw in events[pos].get("choices") or []:
            delta = raw.get("delta") if isinstance(raw, dict) else None
            fragments = delta.get("tool_calls") if isinstance(delta, dict) else None
            for fragment in fragments if isinstance(fragments, list) else []:
                if isinstance(fragment, dict) and fragment.get("id") is not None:
                    calls.setdefault(fragment["id"], _StreamCall(fragment["id"])).fragments.append(fragment)
    return list(calls.values())


def _call_mutants(
    subject: Subject, edit: Callable[[str, dict[str, Any]], Iterator[tuple[str, str]]]
) -> Iterator[tuple[str, Exchange]]:
    """For every tool call: ``edit(arguments, call)`` yields ``(description, new arguments)``."""
    if subject.kind == "plain":
        for path in expand(subject.exchange.body, "choices.*.message.tool_calls.*"):
            call = get_at(subject.exchange.body, path)
            arguments = (call.get("function") or {}).get("arguments")
            if not isinstance(arguments, str):
                continue
            for description, new in edit(arguments, call):
                body = copy.deepcopy(subject.exchange.body)
                get_at(body, path)["function"]["arguments"] = new
                yield f"{_where(path)}: {description}", plain_answer(subject, body)
    elif subject.kind == "stream":
        for n, call in enumerate(stream_calls(list(subject.events))):
            first = call.fragments[0]
            for description, new in edit(call.arguments, first):
                events = event_copies(subject)
                stream_calls(events)[n].set_arguments(new)
                yield f"streamed call {n} ({call.id}): {description}", stream_answer(subject, events)


def _function(call: dict[str, Any]) -> dict[str, Any]:
    return call["function"] if isinstance(call.get("function"), dict) else {}


# --- the operators --------------------------------------------------------------------------------

Make = Callable[[Subject], Iterator[tuple[str, Exchange]]]


@dataclass(frozen=True)
class Operator:
    """A named way to break a subject, and the requirements it targets: the ones whose statement
    the mutation violates. A mutant counts as caught only when one of them fails; any other
    requirement that fails is reported beside it, never credited."""

    name: str
    make: Make
    targets: frozenset[str]


OPERATORS: dict[str, Operator] = {}


def operator(name: str, *targets: str) -> Callable[[Make], Make]:
    def register(fn: Make) -> Make:
        OPERATORS[name] = Operator(name, fn, frozenset(targets))
        return fn

    return register


# The schema requirements of an answer: what a dropped or mistyped field, or a key the closed
# profile does not list, fails.
SCHEMA = ("schema.response", "schema.chunk")


MESSAGE = "choices.*.message"
CALL = f"{MESSAGE}.tool_calls.*"
DELTA = "choices.*.delta"
FRAGMENT = f"{DELTA}.tool_calls.*"
_USAGE_COUNTS = "usage.prompt_tokens usage.completion_tokens usage.total_tokens"
_TOP = f"id object created model choices usage choices.*.index {_USAGE_COUNTS}"
# Fields the contract requires (OpenAI's, or the documented Vertex answer's). A stream's delta role and
# content are left out: dropping them from one chunk is what OpenAI's own streams do.
REQUIRED_PLAIN = (
    f"{_TOP} choices.*.finish_reason choices.*.logprobs {MESSAGE} {MESSAGE}.role {MESSAGE}.content "
    f"{MESSAGE}.audio.data {CALL}.id {CALL}.type {CALL}.function {CALL}.function.name "
    f"{CALL}.function.arguments"
).split()
REQUIRED_STREAM = f"{_TOP} {DELTA} {FRAGMENT}.index".split()
# Fields whose JSON type the contract fixes.
_TYPED = (
    f"{_TOP} system_fingerprint choices.*.finish_reason choices.*.logprobs usage.completion_tokens_details "
    "usage.completion_tokens_details.reasoning_tokens usage.extra_properties.google.traffic_type"
)
TYPED_PLAIN = (
    f"{_TYPED} {MESSAGE} {MESSAGE}.role {MESSAGE}.content {MESSAGE}.tool_calls {MESSAGE}.extra_content "
    f"{MESSAGE}.extra_content.google.thought_signature {MESSAGE}.audio {MESSAGE}.audio.data "
    f"{MESSAGE}.audio.extra_content.google.mime_type {CALL}.function {CALL}.function.arguments "
    f"{CALL}.extra_content.google.thought_signature"
).split()
TYPED_STREAM = (
    f"{_TYPED} {DELTA} {DELTA}.role {DELTA}.content {DELTA}.tool_calls {FRAGMENT}.index "
    f"{FRAGMENT}.function.arguments {FRAGMENT}.extra_content.google.thought_signature"
).split()


@operator(
    "drop-field",
    *SCHEMA,
    "response.object",
    "chunk.object",
    "response.choice-index",
    "response.model-echo",
    "message.role-assistant",
    "message.content-key",
    "message.not-empty",
    "usage.present",
    "stream.finish-reason",
    "image.base64",
    "tools.args-json",
    "chunk.id-constant",
    "chunk.created-constant",
    "chunk.model-constant",
)
def drop_field(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Leave out a required field; in a stream, from the last chunk that has it, or the role from
    every delta."""
    if not is_answer(subject):
        return
    yield from _field_mutants(subject, REQUIRED_PLAIN, REQUIRED_STREAM, _drop)
    if subject.kind == "stream":
        events = event_copies(subject)
        roles = [e for pos in chunk_positions(events) for e in expand(events[pos], f"{DELTA}.role")]
        if roles:
            for pos in chunk_positions(events):
                for path in expand(events[pos], f"{DELTA}.role"):
                    _drop(events[pos], path)
            yield "role dropped from every delta", stream_answer(subject, events)


@operator(
    "change-type",
    *SCHEMA,
    "response.object",
    "chunk.object",
    "response.choice-index",
    "response.model-echo",
    "message.role-assistant",
    "tools.args-json",
    "image.base64",
)
def change_type(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Send a field as another JSON type (a count as a string, arguments as an object…)."""
    if not is_answer(subject):
        return
    yield from _field_mutants(subject, TYPED_PLAIN, TYPED_STREAM, _flip)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


@operator("camel-case", *SCHEMA)
def camel_case(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Rename a snake_case key to camelCase (Gemini's native spelling), for each such key present:
    everywhere in a plain answer, in the last chunk that has it in a stream."""
    if not is_answer(subject):
        return
    if subject.kind == "plain":
        for key in dict.fromkeys(k for k in _keys(subject.exchange.body) if "_" in k):
            yield (
                f"{key} -> {camel(key)}",
                plain_answer(subject, _rename(subject.exchange.body, key, camel(key))),
            )
        return
    events = list(subject.events)
    positions = chunk_positions(events)
    for key in dict.fromkeys(k for pos in positions for k in _keys(events[pos]) if "_" in k):
        pos = [p for p in positions if key in set(_keys(events[p]))][-1]
        mutated = event_copies(subject)
        mutated[pos] = _rename(mutated[pos], key, camel(key))
        yield f"event {pos}: {key} -> {camel(key)}", stream_answer(subject, mutated)


@operator("wrong-object", "response.object", "chunk.object")
def wrong_object(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """The wrong ``object``: a chunk's name on a plain answer, and the other way round."""
    if is_answer(subject):
        yield from _field_mutants(
            subject,
            ["object"],
            ["object"],
            _setter("chat.completion.chunk" if subject.kind == "plain" else "chat.completion"),
        )
        yield from _field_mutants(subject, ["object"], ["object"], _setter("text_completion"))


@operator("wrong-role", "message.role-assistant")
def wrong_role(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A role other than assistant (``model`` is Gemini's native one): on a plain message; on every
    delta, the first delta or the last delta of a stream."""
    if subject.kind == "plain":
        yield from _field_mutants(subject, [f"{MESSAGE}.role"], [], _setter("model"))
    elif is_answer(subject):
        events = event_copies(subject)
        roles = [(pos, p) for pos in chunk_positions(events) for p in expand(events[pos], f"{DELTA}.role")]
        for description, chosen in (
            ("every delta", roles),
            ("the first delta", roles[:1]),
            ("the last delta", roles[-1:]),
        ):
            if chosen:
                mutated = event_copies(subject)
                for pos, path in chosen:
                    get_at(mutated[pos], path[:-1])["role"] = "model"
                yield f"role 'model' on {description}", stream_answer(subject, mutated)


def has_calls(subject: Subject) -> bool:
    if subject.kind == "plain":
        return bool(expand(subject.exchange.body, CALL))
    return bool(stream_calls(list(subject.events)))


@operator("finish-reason", *SCHEMA, "tools.finish-reason", "stream.finish-reason")
def finish_reason(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A wrong, missing, repeated or misplaced ``finish_reason``."""
    if not is_answer(subject):
        return
    wrong = "stop" if has_calls(subject) else "tool_calls"
    pattern = "choices.*.finish_reason"
    for value in ("STOP", wrong, None):
        yield from _field_mutants(subject, [pattern], [pattern], _setter(value))
    if subject.kind != "stream":
        return
    events = event_copies(subject)
    finishing = [(pos, path) for pos in chunk_positions(events) for path in expand(events[pos], pattern)]
    if not finishing:
        return
    pos, path = finishing[-1]
    reason = get_at(events[pos], path)
    first = chunk_positions(events)[0]
    if first == pos:
        return
    for description, keep_last in (
        ("repeated on the first chunk", True),
        ("moved to the first chunk", False),
    ):
        mutated = event_copies(subject)
        get_at(mutated[first], path[:-1])["finish_reason"] = reason
        if not keep_last:
            del get_at(mutated[pos], path[:-1])["finish_reason"]
        yield f"finish_reason {reason!r} {description}", stream_answer(subject, mutated)


def _done_positions(events: list[Any]) -> list[int]:
    return [i for i, e in enumerate(events) if e == "[DONE]"]


@operator("done-marker", "sse.done-last", "sse.event-json")
def done_marker(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """``[DONE]`` left out, sent twice, sent before the last chunk, or misspelt."""
    if not is_answer(subject) or subject.kind != "stream":
        return
    events = list(subject.events)
    done = _done_positions(events)
    if not done:
        return
    without = [e for e in events if e != "[DONE]"]
    yield "[DONE] dropped", stream_answer(subject, without)
    yield "[DONE] sent twice", stream_answer(subject, [*events, "[DONE]"])
    chunks = chunk_positions(events)
    if len(chunks) > 1:
        early = [*without[: chunks[-1]], "[DONE]", *without[chunks[-1] :]]
        yield "[DONE] before the last chunk", stream_answer(subject, early)
    yield "[done] in lower case", stream_answer(subject, [("[done]" if e == "[DONE]" else e) for e in events])


@operator("after-done", "sse.done-last", "sse.no-dropped-lines")
def after_done(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Anything after ``[DONE]``: another chunk, or a stray text line."""
    if not is_answer(subject) or subject.kind != "stream" or not _done_positions(list(subject.events)):
        return
    events = list(subject.events)
    last_chunk = events[chunk_positions(events)[-1]]
    yield "a chunk after [DONE]", stream_answer(subject, [*events, last_chunk])
    yield "a text line after [DONE]", answer_with(subject, stream_text=render(events) + "that is all\n")


@operator("corrupt-json", "response.json", "sse.event-json")
def corrupt_json(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """JSON that does not parse: a body or one event's data cut short; NaN where a count belongs."""
    if subject.kind == "plain":
        text = dump(subject.exchange.body)
        yield "body cut one character short", answer_with(subject, body_text=text[:-1])
        if "usage" in subject.exchange.body:
            body = copy.deepcopy(subject.exchange.body)
            body["usage"]["total_tokens"] = float("nan")
            yield "usage.total_tokens NaN (not JSON)", answer_with(subject, body_text=json.dumps(body))
    elif is_answer(subject):
        events = event_copies(subject)
        chunks = chunk_positions(events)
        pos = chunks[len(chunks) // 2]
        events[pos] = dump(events[pos])[:-2]
        yield f"event {pos}: data cut two characters short", stream_answer(subject, events)


@operator("chunk-drift", "chunk.id-constant", "chunk.created-constant", "chunk.model-constant")
def chunk_drift(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """One chunk (the last) with another ``id``, ``created`` or ``model`` than the rest."""
    if not is_answer(subject) or subject.kind != "stream" or len(chunk_positions(list(subject.events))) < 2:
        return
    for key, change in (
        ("id", lambda v: f"{v}x"),
        ("created", lambda v: v + 1),
        ("model", lambda v: f"{v}-002"),
    ):
        events = event_copies(subject)
        last = events[chunk_positions(events)[-1]]
        if isinstance(last.get(key), int | str):
            last[key] = change(last[key])
            yield f"last chunk's {key} changed to {last[key]!r}", stream_answer(subject, events)


@operator("tool-args-json", "tools.args-json")
def tool_args_json(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Tool-call arguments that are not a JSON object: cut short, empty, or a JSON array."""

    def edits(arguments: str, call: dict[str, Any]) -> Iterator[tuple[str, str]]:
        if arguments:
            yield "arguments cut one character short", arguments[:-1]
            yield "arguments empty", ""
        yield "arguments a JSON array", "[" + arguments + "]"

    if is_answer(subject):
        yield from _call_mutants(subject, edits)


def _violations_of(parameters: Any, value: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Arguments that break ``parameters``: a value outside an enum, a required key left out, a
    string property sent as a number."""
    if not isinstance(parameters, dict):
        return
    properties = parameters.get("properties") if isinstance(parameters.get("properties"), dict) else {}
    for name, schema in properties.items():
        if not isinstance(schema, dict) or name not in value:
            continue
        if isinstance(schema.get("enum"), list):
            yield (
                f"{name} outside its enum",
                dump({**value, name: "not-" + "-".join(map(str, schema["enum"]))}),
            )
        if schema.get("type") == "string":
            yield f"{name} a number, not a string", dump({**value, name: 42})
    for name in parameters.get("required") or []:
        if name in value:
            yield f"required {name} left out", dump({k: v for k, v in value.items() if k != name})


@operator("tool-args-schema", "tools.args-schema")
def tool_args_schema(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Arguments that parse but break the declared tool's ``parameters``."""
    tools = declared_tools(subject.request)

    def edits(arguments: str, call: dict[str, Any]) -> Iterator[tuple[str, str]]:
        try:
            value = json.loads(arguments)
        except ValueError:
            return
        if isinstance(value, dict):
            yield from _violations_of(tools.get(_function(call).get("name")), value)

    if is_answer(subject) and tools:
        yield from _call_mutants(subject, edits)


@operator("tool-envelope", *SCHEMA, "tools.known-function", "tools.first-fragment", "tools.thought-signature")
def tool_envelope(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """The call around the arguments: an undeclared function name, a type other than function, the
    first call's thought_signature left out; streamed, a first fragment without id, type or name."""
    if not is_answer(subject) or not has_calls(subject):
        return
    if subject.kind == "plain":
        yield from _field_mutants(subject, [f"{CALL}.function.name"], [], _setter("get_weather_forecast"))
        yield from _field_mutants(subject, [f"{CALL}.type"], [], _setter("tool"))
        for path in expand(subject.exchange.body, f"{CALL}.extra_content.google.thought_signature"):
            body = copy.deepcopy(subject.exchange.body)
            del get_at(body, path[:-1])["thought_signature"]
            yield f"{_where(path)} dropped", plain_answer(subject, body)
        return
    for n, call in enumerate(stream_calls(list(subject.events))):
        for description, edit in _fragment_edits(n):
            events = event_copies(subject)
            target = stream_calls(events)[n]
            if edit(target):
                yield f"streamed call {n} ({call.id}): {description}", stream_answer(subject, events)


def _fragment_edits(n: int) -> list[tuple[str, Callable[[_StreamCall], bool]]]:
    """Edits of one streamed call; each returns whether it changed anything."""

    def pop(*keys: str) -> Callable[[_StreamCall], bool]:
        def edit(call: _StreamCall) -> bool:
            holder = call.fragments[0]
            for key in keys[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            return isinstance(holder, dict) and holder.pop(keys[-1], None) is not None

        return edit

    def rename(call: _StreamCall) -> bool:
        for fragment in call.fragments:
            if isinstance(fragment.get("function"), dict) and "name" in fragment["function"]:
                fragment["function"]["name"] = "get_weather_forecast"
        return True

    def retype(call: _StreamCall) -> bool:
        for fragment in call.fragments:
            fragment["type"] = "tool"
        return True

    edits = [
        ("first fragment without type", pop("type")),
        ("first fragment without function.name", pop("function", "name")),
        ("an undeclared function name", rename),
        ("type 'tool' on every fragment", retype),
        ("thought_signature dropped", pop("extra_content", "google", "thought_signature")),
    ]
    if n == 0:
        # Only a turn's first call: a later call's first fragment without its id reads as one more
        # fragment of the call before it (how OpenAI streams continue a call), and the later call
        # then starts at its next fragment, which carries id, type and name: a well-formed stream.
        edits.append(("first fragment without id", pop("id")))
    return edits


def usage_of(subject: Subject) -> tuple[list[Any], int | None, dict[str, Any]] | None:
    """``(events, position, usage)`` of a fresh copy (position ``None`` for a plain answer)."""
    if subject.kind == "plain":
        body = copy.deepcopy(subject.exchange.body)
        usage = body.get("usage")
        return ([body], None, usage) if isinstance(usage, dict) else None
    if subject.kind == "stream":
        events = event_copies(subject)
        holders = [pos for pos in chunk_positions(events) if isinstance(events[pos].get("usage"), dict)]
        return (events, holders[-1], events[holders[-1]]["usage"]) if holders else None
    return None


def usage_answer(subject: Subject, events: list[Any]) -> Exchange:
    return plain_answer(subject, events[0]) if subject.kind == "plain" else stream_answer(subject, events)


def _reasoning(usage: dict[str, Any]) -> int:
    details = usage.get("completion_tokens_details")
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) else 0


@operator("usage-arithmetic", "usage.vertex-total")
def usage_arithmetic(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Counts that do not add up: total off by one; reasoning left out of the total (OpenAI's rule);
    completion_tokens_details dropped while the total still counts the reasoning."""
    edits: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
        ("total_tokens off by one", lambda u: u.update(total_tokens=u["total_tokens"] + 1)),
    ]
    found = usage_of(subject)
    if found and _reasoning(found[2]):
        edits += [
            (
                "total_tokens without the reasoning tokens (OpenAI's rule)",
                lambda u: u.update(total_tokens=u["total_tokens"] - _reasoning(u)),
            ),
            (
                "completion_tokens_details dropped, total unchanged",
                lambda u: u.pop("completion_tokens_details"),
            ),
        ]
    for description, edit in edits:
        found = usage_of(subject)
        if found and isinstance(found[2].get("total_tokens"), int):
            events, _, usage = found
            edit(usage)
            yield description, usage_answer(subject, events)


@operator("negative-count", *SCHEMA)
def negative_count(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A negative token count, the total adjusted so the arithmetic still holds."""
    for key in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        found = usage_of(subject)
        if not found:
            return
        events, _, usage = found
        holder = usage.get("completion_tokens_details") if key == "reasoning_tokens" else usage
        if isinstance(holder, dict) and isinstance(holder.get(key), int) and holder[key] > 0:
            usage["total_tokens"] -= 2 * holder[key]
            holder[key] = -holder[key]
            yield f"{key} negative ({holder[key]})", usage_answer(subject, events)


def image_paths(subject: Subject) -> list[JsonPath]:
    """The ``message.audio`` of an answer to an image request (plain: the seed shows no stream)."""
    modalities = subject.request.get("modalities")
    if subject.kind != "plain" or not (isinstance(modalities, list) and "image" in modalities):
        return []
    return expand(subject.exchange.body, f"{MESSAGE}.audio")


def _image_mutants(
    subject: Subject, edits: Iterable[tuple[str, Callable[[dict[str, Any]], bool]]]
) -> Iterator[tuple[str, Exchange]]:
    for path in image_paths(subject):
        for description, edit in edits:
            body = copy.deepcopy(subject.exchange.body)
            if edit(get_at(body, path)):
                yield f"{_where(path)}: {description}", plain_answer(subject, body)


def _data_edit(change: Callable[[str], str]) -> Callable[[dict[str, Any]], bool]:
    def edit(audio: dict[str, Any]) -> bool:
        data = audio.get("data")
        if not isinstance(data, str) or change(data) == data:
            return False  # nothing to change: not a mutant
        audio["data"] = change(data)
        return True

    return edit


@operator("image-base64", "image.base64")
def image_base64(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Image data that is not strict base64: not base64 at all (the documented placeholder), wrapped
    at 76 characters, the URL-safe alphabet, padding left off, or empty."""
    yield from _image_mutants(
        subject,
        [
            ("data is the placeholder <BASE64_BYTES>", _data_edit(lambda d: "<BASE64_BYTES>")),
            (
                "data wrapped at 76 characters",
                _data_edit(lambda d: "\n".join(d[i : i + 76] for i in range(0, len(d), 76))),
            ),
            ("data in the URL-safe alphabet", _data_edit(lambda d: d.replace("+", "-").replace("/", "_"))),
            ("data without its padding", _data_edit(lambda d: d.rstrip("="))),
            ("data empty", _data_edit(lambda d: "")),
        ],
    )


def _declare(mime: str | None) -> Callable[[dict[str, Any]], bool]:
    def edit(audio: dict[str, Any]) -> bool:
        declared = google(audio)
        if not declared or declared.get("mime_type") == mime:
            return False
        if mime is None:
            del declared["mime_type"]
        else:
            declared["mime_type"] = mime
        return True

    return edit


@operator("image-mime", "image.mime-matches")
def image_mime(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Image bytes that do not match the declared MIME type, or a type that is unknown or missing."""
    edits = []
    for name in ("pixel.jpg", "pixel.gif", "pixel.webp"):
        encoded = base64.b64encode((MEDIA / name).read_bytes()).decode("ascii")
        edits.append((f"data replaced by {name}", _data_edit(lambda d, e=encoded: e)))
    edits += [
        (
            "data replaced by bytes of no image",
            _data_edit(lambda d: base64.b64encode(b"hello, world").decode()),
        ),
        ("mime_type says image/jpeg", _declare("image/jpeg")),
        ("mime_type says image/bmp (unknown)", _declare("image/bmp")),
        ("mime_type dropped", _declare(None)),
    ]
    yield from _image_mutants(subject, edits)


@operator("image-envelope", "image.content-null", "image.thought-signature")
def image_envelope(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """The message around an image: text in content (null expected), the thought_signature dropped."""
    for path in image_paths(subject):
        message = path[:-1]
        body = copy.deepcopy(subject.exchange.body)
        get_at(body, message)["content"] = "Here is your image."
        yield f"{_where(message)}: content is text", plain_answer(subject, body)
        body = copy.deepcopy(subject.exchange.body)
        if google(get_at(body, message)).pop("thought_signature", None) is not None:
            yield f"{_where(message)}: thought_signature dropped", plain_answer(subject, body)


@operator("usage-placement", "stream.usage-final")
def usage_placement(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """Streamed usage on the wrong chunk: moved to a middle chunk, copied onto one, or on every chunk."""
    found = usage_of(subject) if subject.kind == "stream" else None
    if not found or len(chunk_positions(found[0])) < 2:
        return
    events, final, usage = found
    chunks = chunk_positions(events)
    middle = chunks[(len(chunks) - 1) // 2]
    for description, targets, keep_final in (
        (f"usage moved to event {middle}", [middle], False),
        (f"usage also on event {middle}", [middle], True),
        ("usage on every chunk", chunks, True),
    ):
        mutated = event_copies(subject)
        for pos in targets:
            mutated[pos]["usage"] = copy.deepcopy(usage)
        if not keep_final:
            del mutated[final]["usage"]
        yield description, stream_answer(subject, mutated)


@operator("content-type", "response.content-type", "sse.content-type")
def content_type(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A wrong Content-Type header: a stream served as JSON or text, a JSON answer served as HTML."""
    if not is_answer(subject):
        return
    values = ("application/json", "text/plain") if subject.kind == "stream" else ("text/html; charset=utf-8",)
    for value in values:
        yield (
            f"content-type {value}",
            answer_with(subject, headers={**subject.exchange.headers, "content-type": value}),
        )


@operator("stray-line", "sse.no-dropped-lines")
def stray_line(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A line in the stream that is not shaped like an SSE field: a log line, a chunk without
    ``data:``, a field name with its colon missing. (A bare word such as ``ping`` is a legal
    extension field that clients ignore: it is in the no-op control.)"""
    if not is_answer(subject) or subject.kind != "stream":
        return
    events = list(subject.events)
    head, tail = render(events[:1]), render(events[1:])
    yield "a log line", answer_with(subject, stream_text=f"{head}upstream done in 12 ms\n\n{tail}")
    first = events[0] if isinstance(events[0], dict) else {}
    yield "a chunk without 'data: '", answer_with(subject, stream_text=f"{head}{dump(first)}\n\n{tail}")
    yield "'data' without its colon", answer_with(subject, stream_text=f"{head}data {dump(first)}\n\n{tail}")


@operator("extension-unknown", *SCHEMA)
def extension_unknown(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """An undocumented key in a closed Vertex extension: inside extra_content.google (on a message,
    tool call, image or delta), beside google in extra_content, or inside usage.extra_properties.google."""
    if not is_answer(subject):
        return

    plain = [f"{MESSAGE}{where}.extra_content.google" for where in ("", ".audio")] + [
        f"{CALL}.extra_content.google"
    ]
    stream = [f"{DELTA}.extra_content.google", f"{DELTA}.tool_calls.*.extra_content.google"]
    yield from _field_mutants(subject, plain, stream, _adder("thought", True))
    yield from _field_mutants(
        subject, [f"{MESSAGE}.extra_content"], [f"{DELTA}.extra_content"], _adder("openai", {})
    )
    extra = ["usage.extra_properties.google"]
    yield from _field_mutants(subject, extra, extra, _adder("traffic_tier", "STANDARD"))


@operator("unknown-key", *SCHEMA)
def unknown_key(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A key neither OpenAI nor Vertex documents, where Gemini-native or other vendors' fields leak:
    candidates at the top, safety_ratings on a choice, reasoning_content on a message or delta,
    thoughts_token_count in usage."""
    if not is_answer(subject):
        return
    if subject.kind == "plain":
        body = copy.deepcopy(subject.exchange.body)
        body["candidates"] = []
        yield "$ gains 'candidates'", plain_answer(subject, body)
    else:
        events = event_copies(subject)
        pos = chunk_positions(events)[-1]
        events[pos]["candidates"] = []
        yield f"event {pos}: $ gains 'candidates'", stream_answer(subject, events)
    yield from _field_mutants(subject, ["choices.*"], ["choices.*"], _adder("safety_ratings", []))
    yield from _field_mutants(subject, [MESSAGE], [DELTA], _adder("reasoning_content", "thinking..."))
    yield from _field_mutants(subject, ["usage"], ["usage"], _adder("thoughts_token_count", 0))


def _thinking(request: dict[str, Any]) -> dict[str, Any]:
    config = google(request, "extra_body").get("thinking_config")
    return config if isinstance(config, dict) else {}


@operator("reasoning-tokens", "thinking.budget", "thinking.reasoning-tokens")
def reasoning_tokens(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """With thinking asked for: reasoning tokens over the thinking budget, zero, or not reported (the
    total adjusted each time, so only the thinking rule breaks)."""
    config = _thinking(subject.request)
    budget = config.get("thinking_budget")
    found = usage_of(subject)
    if not config or not found or not _reasoning(found[2]):
        return
    edits: list[tuple[str, int | None]] = [("zero", 0), ("not reported", None)]
    if isinstance(budget, int) and budget >= 0:
        edits.insert(0, (f"over the thinking budget ({budget + 1} > {budget})", budget + 1))
    for description, value in edits:
        events, _, usage = usage_of(subject) or found
        details = usage["completion_tokens_details"]
        usage["total_tokens"] += (value or 0) - details["reasoning_tokens"]
        if value is None:
            del details["reasoning_tokens"]
        else:
            details["reasoning_tokens"] = value
        yield f"reasoning_tokens {description}", usage_answer(subject, events)


@operator("thought-tags", "thinking.tags-balanced", "thinking.thoughts-tagged")
def thought_tags(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """With a thought_tag_marker asked for: tags that do not balance (a closing or opening tag lost,
    a second opening, a stray closing), the thought untagged, emptied, or tagged with another marker."""
    marker = google(subject.request, "extra_body").get("thought_tag_marker")
    if not is_answer(subject) or not isinstance(marker, str) or not marker:
        return
    opening, closing = f"<{marker}>", f"</{marker}>"

    def needs_tags(edit: Callable[[str], str]) -> Callable[[str], str | None]:
        return lambda text: edit(text) if opening in text and closing in text else None

    block = re.compile(f"{re.escape(opening)}(.*?){re.escape(closing)}", re.DOTALL)
    other = "thought" if marker != "thought" else "think"
    yield from _text_mutants(
        subject,
        [
            ("closing tag lost", needs_tags(lambda t: t.replace(closing, "", 1))),
            ("opening tag lost", needs_tags(lambda t: t.replace(opening, "", 1))),
            (
                "a second opening tag inside the first",
                needs_tags(lambda t: t.replace(opening, opening * 2, 1)),
            ),
            ("a stray closing tag appended", lambda t: t + closing),
            ("thought left untagged", needs_tags(lambda t: t.replace(opening, "").replace(closing, ""))),
            ("thought emptied", needs_tags(lambda t: block.sub(opening + closing, t))),
            (
                f"thought tagged <{other}>",
                needs_tags(lambda t: t.replace(opening, f"<{other}>").replace(closing, f"</{other}>")),
            ),
        ],
    )


def _json_schema(request: dict[str, Any]) -> dict[str, Any] | None:
    response_format = request.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


@operator("structured-output", "structured.json", "structured.schema")
def structured_output(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """With a json_schema response format: content that breaks the schema (a required property left
    out, one of the wrong type, an extra one where none are allowed) or is not bare JSON."""
    schema = _json_schema(subject.request)
    if schema is None or not is_answer(subject):
        return

    def edit(change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Callable[[str], str | None]:
        def apply(text: str) -> str | None:
            try:
                value = json.loads(text)
            except ValueError:
                return None
            changed = change(value) if isinstance(value, dict) else None
            return dump(changed) if changed is not None else None

        return apply

    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    edits: list[tuple[str, Callable[[str], str | None]]] = []
    for name in schema.get("required") or []:
        edits.append(
            (f"required {name} left out", edit(lambda v, n=name: {k: x for k, x in v.items() if k != n}))
        )
    for name, prop in properties.items():
        wrong = {"string": 42, "array": "a, b", "object": [], "integer": "1", "number": "1", "boolean": "yes"}
        if isinstance(prop, dict) and prop.get("type") in wrong:
            bad = wrong[prop["type"]]
            edits.append(
                (f"{name} of the wrong type", edit(lambda v, n=name, b=bad: {**v, n: b} if n in v else None))
            )
    if schema.get("additionalProperties") is False:
        edits.append(("an undeclared property", edit(lambda v: {**v, "notes": "extra"})))
    edits += [
        ("wrapped in a ```json fence", lambda t: f"```json\n{t}\n```"),
        ("cut one character short", lambda t: t[:-1] if t else None),
    ]
    yield from _text_mutants(subject, edits)


@operator("model-echo", "response.model-echo")
def model_echo(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """The answer names another model than asked for: the google/ prefix lost, or another model."""
    model = subject.request.get("model")
    if not is_answer(subject) or not isinstance(model, str):
        return
    for description, value in (
        ("without google/", model.removeprefix("google/")),
        ("another model", "google/gemini-1.5-pro"),
    ):
        if value == model:
            continue
        if subject.kind == "plain":
            body = copy.deepcopy(subject.exchange.body)
            body["model"] = value
            yield f"model {description}", plain_answer(subject, body)
        else:
            events = event_copies(subject)
            for pos in chunk_positions(events):
                events[pos]["model"] = value
            yield f"model {description} on every chunk", stream_answer(subject, events)


@operator("empty-answer", "message.not-empty", "stream.not-empty")
def empty_answer(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """An answer with nothing in it: no choices, empty text; a stream of [DONE] alone."""
    if subject.kind == "plain":
        body = copy.deepcopy(subject.exchange.body)
        if body.get("choices"):
            body["choices"] = []
            yield "choices empty", plain_answer(subject, body)
        if not has_calls(subject) and not image_paths(subject):
            yield from _field_mutants(subject, [f"{MESSAGE}.content"], [], _setter(""))
    elif is_answer(subject):
        yield "[DONE] alone", stream_answer(subject, [e for e in subject.events if not isinstance(e, dict)])
        if not has_calls(subject):
            yield from _text_mutants(subject, [("all text removed", lambda t: "")])


@operator("enum-value", *SCHEMA)
def enum_value(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A value outside a documented set: an unknown traffic_type."""
    if is_answer(subject):
        pattern = "usage.extra_properties.google.traffic_type"
        yield from _field_mutants(subject, [pattern], [pattern], _setter("STANDARD"))


@operator("choice-index", "response.choice-index", "stream.choice-index")
def choice_index(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A choice with the wrong index: 1 for the only choice; in a stream, on its last chunk only."""
    if is_answer(subject):
        yield from _field_mutants(subject, ["choices.*.index"], ["choices.*.index"], _setter(1))


@operator("truncated-stream", "sse.done-last", "sse.event-json", "stream.finish-reason")
def truncated_stream(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """A stream cut off: inside the last chunk, or right after it (no blank line, no [DONE])."""
    if not is_answer(subject) or subject.kind != "stream":
        return
    events = list(subject.events)
    last = chunk_positions(events)[-1]
    before = render(events[:last])
    data = dump(events[last])
    yield (
        "cut inside the last chunk",
        answer_with(subject, stream_text=f"{before}data: {data[: len(data) // 2]}"),
    )
    yield "cut after the last chunk's line", answer_with(subject, stream_text=f"{before}data: {data}\n")


@operator("error-body", "schema.error", "response.json")
def error_body(subject: Subject) -> Iterator[tuple[str, Exchange]]:
    """An error answer whose body is broken: an HTML page instead of JSON (any error); for an error
    object: a field left out, the code as a string, an unknown key, the array wrapping users
    reported, OpenAI's error shape."""
    if subject.kind != "error":
        return
    yield (
        "an HTML page instead of JSON",
        answer_with(subject, body_text="<html><body>Bad Request</body></html>"),
    )
    body = subject.exchange.body
    if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
        return  # already no error object (schema.error fails on the original): nothing further to break
    error = body["error"]

    def mutant(value: Any) -> Exchange:
        return answer_with(subject, body_text=dump(value))

    for key in ("message", "status"):
        if key in error:
            yield f"error.{key} dropped", mutant({"error": {k: v for k, v in error.items() if k != key}})
    if isinstance(error.get("code"), int):
        yield "error.code a string", mutant({"error": {**error, "code": str(error["code"])}})
    yield "error gains 'type'", mutant({"error": {**error, "type": "invalid_request_error"}})
    yield "wrapped in an array", mutant([body])
    message = error.get("message")
    yield "OpenAI's error shape", mutant({"error": {"message": message, "type": "invalid_request_error"}})


# --- the no-op control: bytes change, nothing a client may rely on does ----------------------------


def _reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder(v) for v in value]
    return value


def _null_finish_reasons(subject: Subject) -> Exchange | None:
    events = event_copies(subject)
    added = False
    for pos in chunk_positions(events):
        for choice in events[pos].get("choices") or []:
            if isinstance(choice, dict) and "finish_reason" not in choice:
                choice["finish_reason"], added = None, True
    return stream_answer(subject, events) if added else None


def _split_data(subject: Subject) -> Exchange | None:
    events = list(subject.events)
    pos = chunk_positions(events)[0]
    text = dump(events[pos])
    cut = 1  # after the opening brace: between two JSON tokens, never inside a string
    head, tail = render(events[:pos]), render(events[pos + 1 :])
    return answer_with(subject, stream_text=f"{head}data: {text[:cut]}\ndata: {text[cut:]}\n\n{tail}")


def _split_delta(subject: Subject) -> Exchange | None:
    """The first text delta of two or more characters sent as two chunks in the same envelope: the
    first with the text's first half, the second with the rest (and whatever finish_reason and
    usage the original chunk carried). The text assembles to the same."""
    events = event_copies(subject)
    for pos in chunk_positions(events):
        choices = events[pos].get("choices")
        delta = choices[0].get("delta") if isinstance(choices, list) and len(choices) == 1 else None
        text = delta.get("content") if isinstance(delta, dict) and set(delta) <= {"role", "content"} else None
        if not isinstance(text, str) or len(text) < 2:
            continue
        first = copy.deepcopy(events[pos])
        first.pop("usage", None)
        first["choices"][0].pop("finish_reason", None)
        first["choices"][0]["delta"]["content"] = text[: len(text) // 2]
        delta["content"] = text[len(text) // 2 :]
        delta.pop("role", None)  # the role, like OpenAI's, on the first delta only
        return stream_answer(subject, [*events[:pos], first, *events[pos:]])
    return None


def _usage_chunk(subject: Subject) -> Exchange | None:
    """Usage moved from the last chunk onto a chunk of its own after it, with ``choices: []``: how
    OpenAI sends it (``stream_options.include_usage``)."""
    events = event_copies(subject)
    holders = [pos for pos in chunk_positions(events) if isinstance(events[pos].get("usage"), dict)]
    if not holders:
        return None
    last = events[holders[-1]]
    envelope = {key: last[key] for key in ("id", "object", "created", "model") if key in last}
    chunk = {**envelope, "choices": [], "usage": last.pop("usage")}
    return stream_answer(subject, [*events[: holders[-1] + 1], chunk, *events[holders[-1] + 1 :]])


def _rewrite_stream_text(edit: Callable[[str], str]) -> Callable[[Subject], Exchange | None]:
    return lambda subject: answer_with(subject, stream_text=edit(render(subject.events)))


def _around_events(block: str) -> Callable[[Subject], Exchange | None]:
    """``block`` before the first event and after every event (rendered events end in a blank line)."""
    return _rewrite_stream_text(lambda t: block + t.replace("\n\n", "\n\n" + block))


RFC8259 = "https://www.rfc-editor.org/rfc/rfc8259"
WHATWG_SSE = "https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation"


@dataclass(frozen=True)
class Rewrite:
    """A no-op rewrite: why it changes nothing a client may rely on (and where that is written), and
    how to make it."""

    reason: str
    source: str
    kinds: tuple[str, ...]
    make: Callable[[Subject], Exchange | None]


# The false-alarm control: every rewrite the contract allows, run over every answer it applies to.
# A requirement a rewrite fails is a false alarm of the checks.
EQUIVALENT_REWRITES: dict[str, Rewrite] = {
    "key-order": Rewrite(
        "JSON objects are unordered",
        f"{RFC8259}#section-4",
        ("plain", "stream"),
        lambda s: (
            plain_answer(s, _reorder(s.exchange.body))
            if s.kind == "plain"
            else stream_answer(s, [_reorder(e) for e in s.events])
        ),
    ),
    "pretty-json": Rewrite(
        "whitespace between JSON tokens is insignificant",
        f"{RFC8259}#section-2",
        ("plain",),
        lambda s: answer_with(s, body_text=json.dumps(s.exchange.body, indent=2)),
    ),
    "crlf-framing": Rewrite(
        "SSE lines may end in CRLF",
        WHATWG_SSE,
        ("stream",),
        _rewrite_stream_text(lambda t: t.replace("\n", "\r\n")),
    ),
    "cr-framing": Rewrite(
        "SSE lines may end in a lone CR",
        WHATWG_SSE,
        ("stream",),
        _rewrite_stream_text(lambda t: t.replace("\n", "\r")),
    ),
    "bom": Rewrite(
        "one byte order mark at the start of the stream is dropped",
        WHATWG_SSE,
        ("stream",),
        _rewrite_stream_text(lambda t: "\ufeff" + t),
    ),
    "sse-comment": Rewrite(
        "lines starting with ':' are comments (keep-alives)",
        WHATWG_SSE,
        ("stream",),
        _rewrite_stream_text(lambda t: ": keep-alive\n\n" + t.replace("\n\n", "\n\n: keep-alive\n\n", 1)),
    ),
    "event-only-block": Rewrite(
        "a block without data dispatches nothing (a gateway's 'event: ping')",
        WHATWG_SSE,
        ("stream",),
        _around_events("event: ping\n\n"),
    ),
    "id-only-block": Rewrite(
        "an 'id:' field sets the last event id and dispatches nothing",
        WHATWG_SSE,
        ("stream",),
        _around_events("id: 7\n\n"),
    ),
    "retry-only-block": Rewrite(
        "a 'retry:' field sets the reconnection time and dispatches nothing",
        WHATWG_SSE,
        ("stream",),
        _around_events("retry: 3000\n\n"),
    ),
    "extension-field": Rewrite(
        "a line naming a field no client knows ('ping', a field without a colon) is ignored",
        WHATWG_SSE,
        ("stream",),
        _around_events("ping\n\n"),
    ),
    "data-no-space": Rewrite(
        "the space after 'data:' is optional",
        WHATWG_SSE,
        ("stream",),
        _rewrite_stream_text(lambda t: t.replace("data: ", "data:")),
    ),
    "split-data-lines": Rewrite(
        "an event's data: lines are joined with a newline, which JSON ignores between tokens",
        WHATWG_SSE,
        ("stream",),
        _split_data,
    ),
    "split-delta": Rewrite(
        "a text delta may be split over two chunks: clients join the deltas",
        "https://platform.openai.com/docs/api-reference/chat-streaming/streaming",
        ("stream",),
        _split_delta,
    ),
    "usage-chunk": Rewrite(
        "OpenAI sends usage on a last chunk of its own, with choices: [] (stream_options.include_usage)",
        "https://github.com/openai/openai-agents-js/issues/107",
        ("stream",),
        _usage_chunk,
    ),
    "null-finish-reason": Rewrite(
        "finish_reason null on non-final chunks is what OpenAI sends; Vertex leaves the key out",
        "https://platform.openai.com/docs/api-reference/chat-streaming/streaming",
        ("stream",),
        _null_finish_reasons,
    ),
}


# --- what the checks are known to miss, and false alarms awaiting a fix -----------------------------


@dataclass(frozen=True)
class Allowed:
    """A survivor accepted with a reason. In ``description``, ``*`` matches anything; nothing else is
    special (descriptions are full of brackets)."""

    operator: str
    description: str
    reason: str

    def matches(self, mutant: Mutant) -> bool:
        pattern = ".*".join(re.escape(part) for part in self.description.split("*"))
        return mutant.operator == self.operator and re.fullmatch(pattern, mutant.description) is not None


# Each would be a gap in the checks, not an equivalent mutant, accepted with its reason. An entry
# that no longer matches a survivor fails tests/test_mutations.py, so the list cannot go stale.
ALLOWED_SURVIVORS: tuple[Allowed, ...] = ()

# No-op rewrites that still raise a false alarm, each with the reason and the fix it waits for.
# An entry whose rewrite no longer alarms fails tests/test_mutations.py.
PENDING_FALSE_ALARMS: dict[str, str] = {}


# --- the runner -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    operator: str
    description: str
    subject: Subject
    exchange: Exchange
    targets: frozenset[str]  # the requirements whose failure counts as catching it

    @property
    def label(self) -> str:
        return f"{self.operator}: {self.description} [{self.subject.cassette}#{self.subject.interaction}]"

    @property
    def answer(self) -> tuple[Any, ...]:
        """The mutated answer as sent: two mutants with the same bytes are one mutation."""
        exchange = self.exchange
        return (exchange.status, exchange.content_type, exchange.body_text, exchange.stream_text)


def mutants(subject: Subject, operators: dict[str, Operator] | None = None) -> Iterator[Mutant]:
    for name, op in (operators or OPERATORS).items():
        for description, exchange in op.make(subject):
            yield Mutant(name, description, subject, exchange, op.targets)


def equivalents(subject: Subject) -> Iterator[Mutant]:
    for name, rewrite in EQUIVALENT_REWRITES.items():
        if subject.kind in rewrite.kinds and is_answer(subject):
            exchange = rewrite.make(subject)
            if exchange is not None:
                yield Mutant(name, rewrite.reason, subject, exchange, frozenset())


def failing(exchange: Exchange, profile: str = PROFILE) -> frozenset[str]:
    """The requirements ``exchange`` fails (one with nothing to evaluate, ``None``, does not)."""
    results, _ = evaluate(exchange, profile)
    return frozenset(rid for rid, findings in results.items() if findings)


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    new_failures: frozenset[str]  # failing requirements the original did not fail
    open_failures: frozenset[str]  # the schema ones among them that still fail with the profile opened

    @property
    def caught(self) -> bool:
        return bool(self.new_failures)

    @property
    def targeted(self) -> bool:
        """Caught by a requirement the mutant targets: what the score counts."""
        return bool(self.new_failures & self.mutant.targets)

    @property
    def schema_only(self) -> bool:
        return self.caught and self.new_failures <= SCHEMA_REQUIREMENTS.keys()

    @property
    def closure_only(self) -> bool:
        """Caught by schema validation alone, and only because the profile's objects are closed."""
        return self.schema_only and not self.open_failures


def judge(subject: Subject, made: Iterable[Mutant]) -> Iterator[Outcome]:
    """Each mutant of ``subject`` judged against the original: what it newly fails, and which of
    those schema failures survive opening the profile."""
    before = failing(subject.exchange)
    for mutant in made:
        new = failing(mutant.exchange) - before
        schema = new & SCHEMA_REQUIREMENTS.keys()
        still = (
            open_failures(mutant.exchange, schema) - open_failures(subject.exchange, schema)
            if schema
            else frozenset()
        )
        yield Outcome(mutant, new, still)


@dataclass(frozen=True)
class Mutation:
    """One distinct mutated answer and every mutant that made it: an answer several forms share is
    mutated once per form, and two operators may make the same bytes. It counts once, and as what
    every copy shows: a verdict one copy does not share is not credited."""

    outcomes: tuple[Outcome, ...]

    @property
    def mutant(self) -> Mutant:
        return self.outcomes[0].mutant

    @property
    def targeted(self) -> bool:
        return all(o.targeted for o in self.outcomes)

    @property
    def caught(self) -> bool:
        return all(o.caught for o in self.outcomes)

    @property
    def schema_only(self) -> bool:
        return all(o.schema_only for o in self.outcomes)

    @property
    def closure_only(self) -> bool:
        return all(o.closure_only for o in self.outcomes)

    @property
    def agreed(self) -> bool:
        """Whether every copy failed the same requirements."""
        return len({o.new_failures for o in self.outcomes}) == 1

    @property
    def allowed(self) -> Allowed | None:
        return next((a for a in ALLOWED_SURVIVORS if any(a.matches(o.mutant) for o in self.outcomes)), None)


def distinct(outcomes: Iterable[Outcome]) -> list[Mutation]:
    """The outcomes grouped by the mutated answer's bytes, in first-seen order."""
    groups: dict[tuple[Any, ...], list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.mutant.answer, []).append(outcome)
    return [Mutation(tuple(group)) for group in groups.values()]


@dataclass(frozen=True)
class Tally:
    """Distinct mutations, and how many were caught by a targeted requirement, by any, by schema
    validation alone, and only by the closure of the profile's objects."""

    total: int
    targeted: int
    caught: int
    schema_only: int
    closure_only: int

    @classmethod
    def of(cls, mutations: list[Mutation]) -> Tally:
        return cls(
            len(mutations),
            sum(m.targeted for m in mutations),
            sum(m.caught for m in mutations),
            sum(m.schema_only for m in mutations),
            sum(m.closure_only for m in mutations),
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "targeted": self.targeted,
            "caught": self.caught,
            "schema_only": self.schema_only,
            "closure_only": self.closure_only,
        }


@dataclass(frozen=True)
class Run:
    subjects: list[Subject]
    outcomes: list[Outcome]  # every mutant, one per form that shares an answer
    rewrites: list[Outcome]  # the no-op control; a caught one is a false alarm

    @cached_property
    def mutations(self) -> list[Mutation]:
        return distinct(self.outcomes)

    @property
    def tally(self) -> Tally:
        return Tally.of(self.mutations)

    @property
    def score(self) -> float:
        """Distinct mutations caught by a requirement they target, as a share of all."""
        tally = self.tally
        return tally.targeted / tally.total if tally.total else 0.0

    @property
    def survivors(self) -> list[Mutation]:
        return [m for m in self.mutations if not m.targeted]

    @property
    def disagreements(self) -> list[Mutation]:
        return [m for m in self.mutations if not m.agreed]

    @property
    def false_alarms(self) -> list[Outcome]:
        return [o for o in self.rewrites if o.caught]

    def by(self, key: Callable[[Mutant], str]) -> dict[str, Tally]:
        """``{group: Tally}`` over the distinct mutations within each group, groups sorted."""
        groups: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            groups.setdefault(key(outcome.mutant), []).append(outcome)
        return {name: Tally.of(distinct(group)) for name, group in sorted(groups.items())}


def run(subjects: list[Subject] | None = None) -> Run:
    """Every mutant and no-op rewrite of every subject, judged against its original."""
    subjects = load_subjects() if subjects is None else subjects
    outcomes: list[Outcome] = []
    rewrites: list[Outcome] = []
    for subject in subjects:
        outcomes.extend(judge(subject, mutants(subject)))
        rewrites.extend(judge(subject, equivalents(subject)))
    return Run(subjects, outcomes, rewrites)


def rate(count: int, total: int) -> str:
    return f"{count:,}/{total:,} ({count / total:.1%})" if total else "0/0"


TALLY_HEADER = f"{'distinct':>9} {'targeted':>16} {'any':>16} {'schema only':>16} {'closure only':>16}"


def tally_row(name: str, tally: Tally, width: int = 30) -> str:
    def cell(count: int) -> str:
        return f"{count:>6} {count / tally.total:>8.1%}" if tally.total else f"{'-':>15}"

    cells = (cell(n) for n in (tally.targeted, tally.caught, tally.schema_only, tally.closure_only))
    return f"  {name:<{width}} {tally.total:>9} " + " ".join(f"{c:>16}" for c in cells)


def format_tally(tally: Tally, mutants_count: int) -> list[str]:
    return [
        f"  distinct mutated answers: {tally.total:,} (from {mutants_count:,} mutants: an answer several "
        "forms share is mutated once per form)",
        f"  caught by a requirement the operator targets  {rate(tally.targeted, tally.total)}",
        f"  caught by any requirement                     {rate(tally.caught, tally.total)}",
        f"  caught by schema validation alone             {rate(tally.schema_only, tally.total)}",
        f"  caught only by the profile's closure          {rate(tally.closure_only, tally.total)}"
        "  (additionalProperties: false; opened, nothing fails)",
    ]


def format_run(result: Run) -> str:
    tally = result.tally
    lines = [
        f"mutation score: {rate(tally.targeted, tally.total)} distinct mutated answers caught by a "
        f"requirement their operator targets ({len(result.subjects)} distinct recorded interactions, "
        f"{len(OPERATORS)} operators)",
        *format_tally(tally, len(result.outcomes)),
        f"  copies of one answer judged differently: {len(result.disagreements)}",
        "",
        f"by operator:{'':<20}{TALLY_HEADER}",
        *(tally_row(name, t) for name, t in result.by(lambda m: m.operator).items()),
        "",
        f"by form:{'':<24}{TALLY_HEADER}",
        *(tally_row(name, t) for name, t in result.by(lambda m: m.subject.form).items()),
        "",
        f"survivors (not caught by a targeted requirement): {len(result.survivors)} "
        f"({sum(m.allowed is None for m in result.survivors)} not in ALLOWED_SURVIVORS)",
    ]
    for entry in ALLOWED_SURVIVORS:
        matched = [m for m in result.survivors if m.allowed == entry]
        lines.append(f"  {len(matched)} x {entry.operator}: {entry.description}")
        lines.append(f"      allowed: {entry.reason}")
    for mutation in result.survivors:
        if mutation.allowed is None:
            caught_by = sorted(mutation.outcomes[0].new_failures)
            lines.append(
                f"  NOT IN ALLOWED_SURVIVORS: {mutation.mutant.label} (fails {caught_by or 'nothing'})"
            )
    lines += ["", *format_control(result.rewrites)]
    return "\n".join(lines)


def format_control(rewrites: list[Outcome]) -> list[str]:
    alarms = [o for o in rewrites if o.caught]
    lines = [f"no-op control: {len(rewrites)} rewrites, false alarms: {len(alarms)}"]
    for name, rewrite in EQUIVALENT_REWRITES.items():
        made = [o for o in rewrites if o.mutant.operator == name]
        raised = [o for o in made if o.caught]
        lines.append(f"  {name:<20} {len(raised):>3}/{len(made):<3} {rewrite.reason} ({rewrite.source})")
        if name in PENDING_FALSE_ALARMS and raised:
            lines.append(f"      pending: {PENDING_FALSE_ALARMS[name]}")
    for outcome in alarms:
        if outcome.mutant.operator not in PENDING_FALSE_ALARMS:
            lines.append(f"  FALSE ALARM {outcome.mutant.label}: {sorted(outcome.new_failures)}")
    return lines


def as_json(result: Run) -> dict[str, Any]:
    return {
        "score": result.score,
        **result.tally.as_dict(),
        "mutants": len(result.outcomes),
        "subjects": len(result.subjects),
        "disagreements": len(result.disagreements),
        "by_operator": {k: t.as_dict() for k, t in result.by(lambda m: m.operator).items()},
        "by_form": {k: t.as_dict() for k, t in result.by(lambda m: m.subject.form).items()},
        "survivors": [
            {
                "mutant": m.mutant.label,
                "failures": sorted(m.outcomes[0].new_failures),
                "allowed": m.allowed.reason if m.allowed else None,
            }
            for m in result.survivors
        ],
        "rewrites": len(result.rewrites),
        "false_alarms": [
            {
                "mutant": o.mutant.label,
                "failures": sorted(o.new_failures),
                "pending": PENDING_FALSE_ALARMS.get(o.mutant.operator),
            }
            for o in result.false_alarms
        ],
    }


def unexplained(result: Run) -> tuple[list[Mutation], list[Outcome]]:
    """Survivors not on the allow-list, and false alarms not pending a fix: what fails the run."""
    return (
        [m for m in result.survivors if m.allowed is None],
        [o for o in result.false_alarms if o.mutant.operator not in PENDING_FALSE_ALARMS],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutations",
        description="Mutation score of the checks over the shipped cassettes, and the no-op control.",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run()
    print(json.dumps(as_json(result), indent=2) if args.json else format_run(result))
    survivors, alarms = unexplained(result)
    return 1 if survivors or alarms else 0


if __name__ == "__main__":
    sys.exit(main())
