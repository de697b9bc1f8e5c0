"""The out-of-catalogue figure: faults that were not written beside the checks.

The mutation catalogue (``tools/mutations.py``) grew next to the checks, so its score shows that the
checks notice what their authors thought of. The faults in ``tools/out_of_catalogue.json`` come from
outside: each was reported in the public issue tracker of a client or gateway that talks to an
OpenAI-compatible Gemini endpoint (openai-python, openai-node, LiteLLM, LangChain, the AI SDK…), or is
named by a specification (SSE, RFC 8259, Google's error model), and each entry links its source.

An entry names the requirements it targets and its mutation: a function of this module (``FAULTS``)
and the arguments to call it with. The function breaks every shipped answer it fits, the way the
report describes, and yields nothing where the fault cannot occur (a tool-call fault on an answer
without tool calls). The figure is scored like the catalogue (distinct mutated answers, caught only
when a targeted requirement fails), and reported on its own.

    python -m tools.out_of_catalogue           # the figure, by entry; --json for JSON
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.mutations import (
    MESSAGE,
    Mutant,
    Outcome,
    Subject,
    Tally,
    answer_with,
    chunk_positions,
    distinct,
    dump,
    event_copies,
    expand,
    get_at,
    has_calls,
    image_paths,
    is_answer,
    judge,
    load_subjects,
    plain_answer,
    rate,
    render,
    stream_answer,
    stream_calls,
    usage_answer,
    usage_of,
)
from vertex_conformance.exchange import Exchange
from vertex_conformance.requirements import all_requirements

CATALOGUE = Path(__file__).with_name("out_of_catalogue.json")
TARGET = 0.9  # of the distinct mutated answers, caught by a requirement their fault targets

Made = Iterator[tuple[str, Exchange]]
FAULTS: dict[str, Callable[..., Made]] = {}


def fault(fn: Callable[..., Made]) -> Callable[..., Made]:
    FAULTS[fn.__name__] = fn
    return fn


# --- streamed choices and chunks -------------------------------------------------------------------


def _streamed(subject: Subject) -> bool:
    return subject.kind == "stream" and is_answer(subject)


@fault
def choice_index_on_every_chunk(subject: Subject, index: int) -> Made:
    if _streamed(subject):
        events = event_copies(subject)
        for pos in chunk_positions(events):
            for choice in events[pos].get("choices") or []:
                if isinstance(choice, dict):
                    choice["index"] = index
        yield f"every chunk names choice {index}", stream_answer(subject, events)


@fault
def choice_index_counting(subject: Subject) -> Made:
    events = event_copies(subject) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if len(chunks) > 1:
        for count, pos in enumerate(chunks):
            for choice in events[pos].get("choices") or []:
                if isinstance(choice, dict):
                    choice["index"] = count
        yield "the choice index counts the chunks (0, 1, 2, …)", stream_answer(subject, events)


@fault
def drop_from_chunks(subject: Subject, key: str, which: str) -> Made:
    """``key`` left out of the ``first`` chunk, or of ``every`` chunk."""
    events = event_copies(subject) if _streamed(subject) else []
    chunks = chunk_positions(events)
    chosen = chunks[:1] if which == "first" else chunks
    if any(key in events[pos] for pos in chosen):
        for pos in chosen:
            events[pos].pop(key, None)
        yield f"{key} left out of {which} chunk", stream_answer(subject, events)


@fault
def chunk_ids_differ(subject: Subject) -> Made:
    events = event_copies(subject) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if len(chunks) > 1 and all(isinstance(events[pos].get("id"), str) for pos in chunks):
        for count, pos in enumerate(chunks):
            events[pos]["id"] = f"{events[pos]['id']}-{count}"
        yield "every chunk with an id of its own", stream_answer(subject, events)


@fault
def content_after_finish(subject: Subject) -> Made:
    """A chunk with more text after the chunk that carried finish_reason."""
    events = event_copies(subject) if _streamed(subject) else []
    finishing = [
        pos
        for pos in chunk_positions(events)
        if any(isinstance(c, dict) and c.get("finish_reason") for c in events[pos].get("choices") or [])
    ]
    if finishing:
        late = copy.deepcopy(events[finishing[-1]])
        late.pop("usage", None)
        late["choices"] = [{"index": 0, "delta": {"content": " One more thing."}}]
        yield (
            "text after the finishing chunk",
            stream_answer(subject, [*events[: finishing[-1] + 1], late, *events[finishing[-1] + 1 :]]),
        )


@fault
def error_event_mid_stream(subject: Subject, error: dict[str, Any]) -> Made:
    """An error object as an event after the first chunk, then [DONE]: the answer cut short."""
    events = list(subject.events) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if chunks:
        text = render([*events[: chunks[0] + 1], {"error": error}, "[DONE]"])
        yield "an error event after the first chunk, then [DONE]", answer_with(subject, stream_text=text)


# --- SSE framing -------------------------------------------------------------------------------------


@fault
def events_merged(subject: Subject) -> Made:
    """The blank line between the first two chunk events left out: one event of two data lines."""
    events = list(subject.events) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if len(chunks) > 1 and chunks[1] == chunks[0] + 1:
        first, second = chunks[0], chunks[1]
        merged = f"data: {dump(events[first])}\ndata: {dump(events[second])}\n\n"
        text = render(events[:first]) + merged + render(events[second + 1 :])
        yield "two chunks in one event (no blank line between them)", answer_with(subject, stream_text=text)


@fault
def chunk_cut_and_glued(subject: Subject) -> Made:
    """The first chunk's data cut inside a key, the next ``data:`` line glued onto it."""
    events = list(subject.events) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if len(chunks) > 1 and chunks[1] == chunks[0] + 1:
        first, second = chunks[0], chunks[1]
        data = dump(events[first])
        cut = data.index('"choices"') + 3
        glued = f"data: {data[:cut]}data: {dump(events[second])}\n\n"
        text = render(events[:first]) + glued + render(events[second + 1 :])
        yield "a chunk cut inside a key, the next data: line glued on", answer_with(subject, stream_text=text)


@fault
def split_json_over_events(subject: Subject) -> Made:
    """The first chunk's JSON split over two events: the first holds ``{`` alone."""
    events = list(subject.events) if _streamed(subject) else []
    chunks = chunk_positions(events)
    if chunks:
        data = dump(events[chunks[0]])
        split = f"data: {data[:1]}\n\ndata: {data[1:]}\n\n"
        text = render(events[: chunks[0]]) + split + render(events[chunks[0] + 1 :])
        yield "one chunk split over two events", answer_with(subject, stream_text=text)


# --- tool calls -----------------------------------------------------------------------------------


def _plain_calls(subject: Subject) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """For every message with tool calls: a fresh copy of the body and that message's calls in it."""
    if subject.kind != "plain":
        return
    for path in expand(subject.exchange.body, MESSAGE):
        calls = get_at(subject.exchange.body, path).get("tool_calls")
        if isinstance(calls, list) and calls and all(isinstance(call, dict) for call in calls):
            body = copy.deepcopy(subject.exchange.body)
            yield body, get_at(body, path)["tool_calls"]


@fault
def shared_tool_call_id(subject: Subject) -> Made:
    """The second tool call with the first one's id (a copy of the first when it is alone)."""
    for body, calls in _plain_calls(subject):
        if len(calls) > 1:
            calls[1]["id"] = calls[0].get("id")
        else:
            calls.append(copy.deepcopy(calls[0]))
        yield "two tool calls share one id", plain_answer(subject, body)


@fault
def set_in_tool_calls(subject: Subject, key: str, value: Any = None, drop: bool = False) -> Made:
    """Every non-streamed tool call's ``key`` set to ``value``, or left out (``drop``)."""
    for body, calls in _plain_calls(subject):
        for call in calls:
            if drop:
                call.pop(key, None)
            else:
                call[key] = value
        yield (
            f"every tool call's {key} {'left out' if drop else '= ' + dump(value)}",
            plain_answer(subject, body),
        )


@fault
def first_fragment_fields(subject: Subject, fields: dict[str, Any]) -> Made:
    """Every streamed call's first fragment with ``fields`` set."""
    events = event_copies(subject) if _streamed(subject) else []
    calls = stream_calls(events)
    if calls:
        for call in calls:
            call.fragments[0].update(copy.deepcopy(fields))
        yield f"every call's first fragment with {dump(fields)}", stream_answer(subject, events)


@fault
def fragments_without(subject: Subject, key: str) -> Made:
    events = event_copies(subject) if _streamed(subject) else []
    fragments = [f for call in stream_calls(events) for f in call.fragments]
    if any(key in f for f in fragments):
        for fragment in fragments:
            fragment.pop(key, None)
        yield f"no tool-call fragment carries {key}", stream_answer(subject, events)


@fault
def parallel_calls_merged(subject: Subject) -> Made:
    """The second call's fragments sent under the first call's index, without an id, type or name
    of their own: a client joins both calls' arguments into one string."""
    events = event_copies(subject) if _streamed(subject) else []
    calls = stream_calls(events)
    if len(calls) > 1:
        index = calls[0].fragments[0].get("index")
        for fragment in calls[1].fragments:
            for key in ("id", "type"):
                fragment.pop(key, None)
            if isinstance(fragment.get("function"), dict):
                fragment["function"].pop("name", None)
            fragment["index"] = index
        yield "the second call's fragments continue the first call", stream_answer(subject, events)


@fault
def duplicate_summary_chunk(subject: Subject) -> Made:
    """After the stream's chunks, one more repeating every call whole, its arguments JSON-encoded
    once more."""
    events = event_copies(subject) if _streamed(subject) else []
    calls = stream_calls(events)
    if calls:
        last = events[chunk_positions(events)[-1]]
        summary = {key: last[key] for key in ("id", "object", "created", "model") if key in last}
        summary["choices"] = [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": n,
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": (call.fragments[0].get("function") or {}).get("name"),
                                "arguments": json.dumps(call.arguments),
                            },
                        }
                        for n, call in enumerate(calls)
                    ]
                },
            }
        ]
        done = [pos for pos, event in enumerate(events) if event == "[DONE]"]
        at = done[0] if done else len(events)
        yield (
            "a summary chunk repeating every call",
            stream_answer(subject, [*events[:at], summary, *events[at:]]),
        )


@fault
def arguments_as_object(subject: Subject) -> Made:
    """Tool-call arguments sent as a JSON object instead of a string holding one."""
    for body, calls in _plain_calls(subject):
        for call in calls:
            function = call.get("function") or {}
            function["arguments"] = _parsed(function.get("arguments"))
        yield "every call's arguments an object", plain_answer(subject, body)
    events = event_copies(subject) if _streamed(subject) else []
    calls = stream_calls(events)
    if calls:
        for call in calls:
            value = _parsed(call.arguments)
            carrying = [f["function"] for f in call.fragments if "arguments" in (f.get("function") or {})]
            for function in carrying:
                del function["arguments"]
            if carrying:
                carrying[0]["arguments"] = value
        yield "every streamed call's arguments an object", stream_answer(subject, events)


def _parsed(arguments: Any) -> Any:
    try:
        return json.loads(arguments)
    except (TypeError, ValueError):
        return {"raw": arguments}


# --- finish_reason, content, usage ------------------------------------------------------------------


@fault
def finish_reason_value(subject: Subject, value: str, with_tool_calls: bool | None = None) -> Made:
    """Every non-null finish_reason set to ``value`` (only on answers with tool calls, or without,
    when ``with_tool_calls`` says so)."""
    if not is_answer(subject) or (with_tool_calls is not None and has_calls(subject) != with_tool_calls):
        return
    documents = [copy.deepcopy(subject.exchange.body)] if subject.kind == "plain" else event_copies(subject)
    changed = False
    for document in documents:
        for path in expand(document, "choices.*.finish_reason") if isinstance(document, dict) else []:
            if get_at(document, path) not in (None, value):
                get_at(document, path[:-1])["finish_reason"], changed = value, True
    if changed:
        made = (
            plain_answer(subject, documents[0])
            if subject.kind == "plain"
            else stream_answer(subject, documents)
        )
        yield f"finish_reason {value!r}", made


@fault
def content_as_parts(subject: Subject) -> Made:
    """Text content sent as a list of content parts, ``[{"type": "text", "text": …}]``."""
    if not is_answer(subject):
        return
    documents = [copy.deepcopy(subject.exchange.body)] if subject.kind == "plain" else event_copies(subject)
    pattern = f"{MESSAGE}.content" if subject.kind == "plain" else "choices.*.delta.content"
    changed = False
    for document in documents:
        for path in expand(document, pattern) if isinstance(document, dict) else []:
            text = get_at(document, path)
            if isinstance(text, str) and text:
                get_at(document, path[:-1])["content"], changed = [{"type": "text", "text": text}], True
    if changed:
        made = (
            plain_answer(subject, documents[0])
            if subject.kind == "plain"
            else stream_answer(subject, documents)
        )
        yield "content as a list of parts", made


@fault
def choices_replaced(subject: Subject, value: Any) -> Made:
    """A 200 answer whose choices are ``value`` (``[]``, ``null``)."""
    if subject.kind == "plain" and subject.exchange.body.get("choices"):
        yield (
            f"choices: {dump(value)} on a 200 answer",
            plain_answer(subject, {**subject.exchange.body, "choices": value}),
        )


@fault
def usage_total(subject: Subject, value: int) -> Made:
    found = usage_of(subject)
    if found and found[2].get("total_tokens") != value:
        events, _, usage = found
        usage["total_tokens"] = value
        yield f"total_tokens {value}", usage_answer(subject, events)


@fault
def usage_dropped(subject: Subject) -> Made:
    if subject.kind == "stream" and usage_of(subject):
        events = event_copies(subject)
        for pos in chunk_positions(events):
            events[pos].pop("usage", None)
        yield "no chunk carries usage", stream_answer(subject, events)


@fault
def cumulative_usage(subject: Subject) -> Made:
    """Usage on every chunk, counting up to the final figures (each adds up by itself)."""
    found = usage_of(subject) if subject.kind == "stream" else None
    if (
        not found
        or len(chunk_positions(found[0])) < 2
        or not isinstance(found[2].get("completion_tokens"), int)
    ):
        return
    events, _, usage = found
    chunks = chunk_positions(events)
    for count, pos in enumerate(chunks[:-1]):
        partial = copy.deepcopy(usage)
        partial["completion_tokens"] = usage["completion_tokens"] * (count + 1) // len(chunks)
        partial["total_tokens"] = (
            usage["total_tokens"] - usage["completion_tokens"] + partial["completion_tokens"]
        )
        events[pos]["usage"] = partial
    yield "usage on every chunk, cumulative", stream_answer(subject, events)


@fault
def lone_surrogate(subject: Subject) -> Made:
    """A lone UTF-16 surrogate escaped in the text (``\\ud800``): not JSON text (RFC 8259 §8.2)."""
    if subject.kind == "plain":
        for path in expand(subject.exchange.body, f"{MESSAGE}.content"):
            if isinstance(get_at(subject.exchange.body, path), str):
                body = copy.deepcopy(subject.exchange.body)
                get_at(body, path[:-1])["content"] += "\ud800"
                yield "a lone surrogate in the text", answer_with(subject, body_text=json.dumps(body))
                return
    elif _streamed(subject):
        events = event_copies(subject)
        for pos in chunk_positions(events):
            for path in expand(events[pos], "choices.*.delta.content"):
                if isinstance(get_at(events[pos], path), str):
                    get_at(events[pos], path[:-1])["content"] += "\ud800"
                    text = "".join(f"data: {json.dumps(e) if isinstance(e, dict) else e}\n\n" for e in events)
                    yield "a lone surrogate in a delta", answer_with(subject, stream_text=text)
                    return


# --- images and errors ----------------------------------------------------------------------------


def _image_bytes(subject: Subject, edit: Callable[[bytes], bytes], description: str) -> Made:
    for path in image_paths(subject):
        body = copy.deepcopy(subject.exchange.body)
        audio = get_at(body, path)
        data = audio.get("data") if isinstance(audio, dict) else None
        if not isinstance(data, str):
            continue
        raw = base64.b64decode(data)
        if len(edit(raw)) not in (0, len(raw)):
            audio["data"] = base64.b64encode(edit(raw)).decode("ascii")
            yield description, plain_answer(subject, body)


@fault
def image_truncated(subject: Subject, keep: float) -> Made:
    """The image's bytes cut to ``keep`` of their length (valid base64, magic bytes intact)."""
    yield from _image_bytes(subject, lambda raw: raw[: int(len(raw) * keep)], f"image cut to {keep:.0%}")


@fault
def image_head_dropped(subject: Subject, count: int) -> Made:
    yield from _image_bytes(subject, lambda raw: raw[count:], f"the image's first {count} bytes lost")


@fault
def error_fields(subject: Subject, fields: dict[str, Any]) -> Made:
    """An error object with ``fields`` set (where they change anything)."""
    body = subject.exchange.body if subject.kind == "error" else None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and any(error.get(k) != v for k, v in fields.items()):
        if "code" in fields and fields["code"] == subject.exchange.status:
            return  # the HTTP status already says so: nothing contradicts
        yield f"error with {dump(fields)}", plain_answer(subject, {**body, "error": {**error, **fields}})


# --- the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One entry of the catalogue: a reported or specified fault, its source, what it targets."""

    id: str
    description: str
    link: str
    targets: frozenset[str]
    function: str
    args: dict[str, Any]

    def mutants(self, subject: Subject) -> Iterator[Mutant]:
        for description, exchange in FAULTS[self.function](subject, **self.args):
            yield Mutant(self.id, description, subject, exchange, self.targets)


def load(path: Path | None = None) -> list[Fault]:
    """The entries of ``path`` (``CATALOGUE`` by default); ``ValueError`` naming the entry for
    anything malformed (an unknown function or requirement id, a link that is not https, a
    repeated id)."""
    path = path or CATALOGUE
    known = {r.id for r in all_requirements()}
    faults: list[Fault] = []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["faults"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a fault catalogue ({exc})") from None
    for number, entry in enumerate(entries):
        where = f"{path.name}: entry {number} ({entry.get('id', '?')})"
        try:
            mutation = entry["mutation"]
            made = Fault(
                entry["id"],
                entry["description"],
                entry["link"],
                frozenset(entry["targets"]),
                mutation["function"],
                mutation.get("args", {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: missing {exc}") from None
        if made.function not in FAULTS:
            raise ValueError(f"{where}: no fault function {made.function!r}")
        if not made.targets or made.targets - known:
            raise ValueError(f"{where}: unknown requirement ids {sorted(made.targets - known)}")
        if urlsplit(made.link).scheme != "https" or not urlsplit(made.link).netloc:
            raise ValueError(f"{where}: link is not an https URL: {made.link!r}")
        if any(f.id == made.id for f in faults):
            raise ValueError(f"{where}: id {made.id!r} repeated")
        faults.append(made)
    return faults


@dataclass(frozen=True)
class Figure:
    faults: list[Fault]
    outcomes: list[Outcome]

    @property
    def tally(self) -> Tally:
        return Tally.of(distinct(self.outcomes))

    @property
    def score(self) -> float:
        tally = self.tally
        return tally.targeted / tally.total if tally.total else 0.0

    def by_fault(self) -> dict[str, Tally]:
        return {
            f.id: Tally.of(distinct(o for o in self.outcomes if o.mutant.operator == f.id))
            for f in self.faults
        }


def run(faults: list[Fault] | None = None, subjects: list[Subject] | None = None) -> Figure:
    faults = load() if faults is None else faults
    subjects = load_subjects() if subjects is None else subjects
    outcomes = [
        outcome
        for subject in subjects
        for outcome in judge(subject, (m for f in faults for m in f.mutants(subject)))
    ]
    return Figure(faults, outcomes)


def format_figure(figure: Figure) -> str:
    tally = figure.tally
    lines = [
        f"out-of-catalogue figure: {rate(tally.targeted, tally.total)} distinct mutated answers caught "
        f"by a requirement their fault targets ({len(figure.faults)} faults from issue trackers and "
        f"specifications; target {TARGET:.0%})",
        f"  caught by any requirement {rate(tally.caught, tally.total)}; by schema validation alone "
        f"{rate(tally.schema_only, tally.total)}; only by the profile's closure "
        f"{rate(tally.closure_only, tally.total)}",
        "",
    ]
    by_fault = figure.by_fault()
    for entry in figure.faults:
        t = by_fault[entry.id]
        mark = "  " if t.total and t.targeted == t.total else "!!"
        lines.append(f"{mark} {entry.id:<34} {t.targeted:>3}/{t.total:<3} {entry.link}")
        if t.targeted < t.total or not t.total:
            failing = sorted(
                {r for o in figure.outcomes if o.mutant.operator == entry.id for r in o.new_failures}
            )
            lines.append(
                f"     {entry.description} targets {sorted(entry.targets)}; "
                f"{'no shipped answer fits it' if not t.total else 'fails ' + str(failing or 'nothing')}"
            )
    return "\n".join(lines)


def as_json(figure: Figure) -> dict[str, Any]:
    by_fault = figure.by_fault()
    return {
        "score": figure.score,
        **figure.tally.as_dict(),
        "faults": [
            {"id": f.id, "link": f.link, "targets": sorted(f.targets), **by_fault[f.id].as_dict()}
            for f in figure.faults
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.out_of_catalogue",
        description="The out-of-catalogue detection figure: reported and specified faults, scored.",
    )
    parser.add_argument("--json", action="store_true", help="print the figure as JSON")
    args = parser.parse_args(argv)
    try:
        figure = run()
    except ValueError as exc:
        print(f"out_of_catalogue: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(as_json(figure), indent=2) if args.json else format_figure(figure))
    return 0 if figure.score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
