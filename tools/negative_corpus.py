"""The negative corpus (tests/negative/*.json) as something to run: every case judged, and what it
pins compared with what the checks found.

Cases are data, in the manner of the JSON-Schema-Test-Suite: a captured response or stream, the
requirements it breaks, and each finding's JSON path and a fragment of its message, so a check that
still fails the right requirement for the wrong reason, or at the wrong place, is caught. The
documented samples are the corpus's controls: each conforms. ``tests/test_negative.py`` runs every
case as a test; ``tools/knockout.py`` runs them all after knocking a branch out of a check, to find
the branches no case notices.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from vertex_conformance.capture import exchange_from_bytes, exchange_from_text, kind_of
from vertex_conformance.checks import Results, evaluate, failures
from vertex_conformance.checks.tools import compare_tool_calls
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.findings import Finding
from vertex_conformance.paths import ROOT, SAMPLES

CORPUS = ROOT / "tests" / "negative"
CASE_SCHEMA_PATH = CORPUS / "case.schema.json"
SAMPLE_FILES = sorted([*SAMPLES.glob("*.json"), *SAMPLES.glob("*.sse")])
# What a documented sample breaks on purpose: the page's image answer carries a placeholder, not an
# image (fixtures/samples/README.md).
SAMPLE_BREAKS = {"image_output.json": {"image.base64"}}


@dataclasses.dataclass(frozen=True)
class Case:
    """One case of a case file: where it is, and its data."""

    file: str
    number: int
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{Path(self.file).stem}[{self.number}] {self.data['description']}"

    @cached_property
    def exchanges(self) -> tuple[Exchange, ...]:
        """The exchange the case stands for (a pair: the streamed one, then the non-streamed one),
        built once: its parsed views do not depend on the checks, so a knock-out run reuses them."""
        return pair_exchanges(self.data) if self.data["kind"] == "pair" else (exchange_for(self.data),)


def case_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.json") if p != CASE_SCHEMA_PATH)


def cases() -> list[Case]:
    return [
        Case(path.name, number, case)
        for path in case_files()
        for number, case in enumerate(json.loads(path.read_text(encoding="utf-8")))
    ]


def frame(data: str | list[Any]) -> str:
    """SSE text for a stream case: a raw string verbatim, else one ``data:`` event per item."""
    if isinstance(data, str):
        return data
    payloads = (item if isinstance(item, str) else json.dumps(item) for item in data)
    return "".join(f"data: {payload}\n\n" for payload in payloads)


def exchange_for(case: dict[str, Any]) -> Exchange:
    """The exchange a case stands for, built through the capture path the CLI uses."""
    request = None
    if {"request", "url", "headers"} & case.keys():
        body = json.dumps(case["request"]) if "request" in case else ""
        request = WireRequest("POST", case.get("url", ""), case.get("headers", {}), body)
    if case.get("base64"):  # bytes a JSON file cannot hold (not UTF-8): decoded as a client decodes them
        exchange = exchange_from_bytes(base64.b64decode(case["data"], validate=True), request)
    elif case["kind"] == "stream":
        exchange = exchange_from_text(frame(case["data"]), request)
    else:
        exchange = exchange_from_text(case["data"] if case.get("raw") else json.dumps(case["data"]), request)
    status, headers = case.get("status", 0), case.get("response_headers", {})
    exchange = dataclasses.replace(exchange, status=status, headers=headers)
    if "sdk_view" in case:
        exchange = dataclasses.replace(exchange, lane="sdk", sdk_view=case["sdk_view"])
    if "sdk_error" in case:
        exchange = dataclasses.replace(exchange, lane="sdk", notes={"sdk_error": case["sdk_error"]})
    if "lane" in case:  # a client lane: what its client handed its user, beside the wire
        exchange = dataclasses.replace(exchange, lane=case["lane"], sdk_view=case.get("client_result"))
    if "expected_body" in case:
        exchange = dataclasses.replace(exchange, expected_body=case["expected_body"])
    return exchange


def pair_exchanges(case: dict[str, Any]) -> tuple[Exchange, Exchange]:
    """A pair case's streamed and non-streamed answer to one request."""
    sides = []
    for kind, stream in (("stream", True), ("response", False)):
        side = {**case, "kind": kind, "data": case["data"][kind]}
        if "request" in case:
            side["request"] = {**case["request"], "stream": stream}
        sides.append(exchange_for(side))
    return sides[0], sides[1]


@dataclasses.dataclass(frozen=True)
class Judged:
    """What the checks made of one case."""

    findings: list[Finding]
    results: Results  # None: nothing to evaluate (a pair's requirement only when it was on both sides)
    observations: dict[str, Any]
    problems: list[str]  # the case's exchanges classified as another kind than it says


def judge(case: Case) -> Judged:
    """Run the checks on one case. A pair's sides are each checked alone, then their tool calls
    compared, as the suite does for form 8."""
    kinds = ("stream", "response") if case.data["kind"] == "pair" else (case.data["kind"],)
    problems = [
        f"the {kind} is classified as {kind_of(exchange)}"
        for kind, exchange in zip(kinds, case.exchanges, strict=True)
        if kind_of(exchange) != kind
    ]
    merged: Results = {}
    observations: dict[str, Any] = {}
    for exchange in case.exchanges:
        results, observed = evaluate(exchange, case.data.get("profile", "vertex"))
        observations.update(observed)
        for rid, findings in results.items():
            if findings is None:
                merged.setdefault(rid, None)
            else:
                merged[rid] = [*(merged.get(rid) or []), *findings]
    found = failures(merged)
    if case.data["kind"] == "pair":
        found = sorted([*found, *compare_tool_calls(*case.exchanges)])
    return Judged(found, merged, observations, problems)


def _matches(expected: dict[str, str], finding: Finding) -> bool:
    return (
        expected["requirement"] == finding.requirement
        and expected["path"] == finding.path
        and expected["message"] in finding.message
    )


def mismatches(case: Case) -> list[str]:
    """How what the checks found differs from what the case pins (empty: the case holds): the set
    of failed requirements, each finding one to one by requirement, path and message fragment, and
    the requirements that must have had nothing to evaluate, the observations it names."""
    judged = judge(case)
    found, results, problems = judged.findings, judged.results, list(judged.problems)
    data = case.data
    failed = {f.requirement for f in found}
    if failed != set(data["violates"]):
        problems.append(f"fails {sorted(failed)}, not {sorted(data['violates'])}")
    unmatched = list(found)
    for expected in data.get("findings", []):
        hit = next((f for f in unmatched if _matches(expected, f)), None)
        if hit is None:
            problems.append(f"no finding {expected}")
        else:
            unmatched.remove(hit)
    problems += [f"a finding the case does not pin: {f}" for f in unmatched]
    for rid in data.get("not_applicable", []):
        if rid not in results or results[rid] is not None:
            verdict = "not evaluated" if rid not in results else f"{len(results[rid] or [])} finding(s)"
            problems.append(f"{rid} is {verdict}, not 'nothing to evaluate'")
    for key, expected in data.get("observations", {}).items():
        if judged.observations.get(key) != expected:
            problems.append(f"observation {key} is {judged.observations.get(key)!r}, not {expected!r}")
    return problems


def sample_request(exchange: Exchange) -> WireRequest:
    """A request the sample could have answered: same model, streamed iff the sample is."""
    model = exchange.chunks[0][1]["model"] if exchange.streamed else exchange.body["model"]
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": exchange.streamed}
    return WireRequest("POST", "", {}, json.dumps(body))


def sample_mismatches(sample: Path, with_request: bool) -> list[str]:
    """How a documented sample fails to conform (empty: it conforms, apart from its known breaks)."""
    exchange = exchange_from_text(sample.read_text(encoding="utf-8"))
    if with_request:
        exchange = dataclasses.replace(exchange, request=sample_request(exchange))
    results, observations = evaluate(exchange, "vertex")
    failed = {f.requirement for f in failures(results)}
    problems = [] if failed == SAMPLE_BREAKS.get(sample.name, set()) else [f"fails {sorted(failed)}"]
    if ("response.model-echo" in results) is not with_request:
        problems.append("response.model-echo evaluated without a request, or not with one")
    if observations.get("usage_rule") not in ("vertex", "both"):
        problems.append(f"usage rule {observations.get('usage_rule')!r}")
    return problems


def all_mismatches(corpus: list[Case]) -> Iterator[tuple[str, list[str]]]:
    """``(name, problems)`` for every case of ``corpus`` and every documented sample (alone and with
    a request) that does not hold, lazily: a caller may stop at the first."""
    for case in corpus:
        problems = mismatches(case)
        if problems:
            yield case.name, problems
    for sample in SAMPLE_FILES:
        for with_request in (False, True):
            problems = sample_mismatches(sample, with_request)
            if problems:
                yield f"sample {sample.name} ({'with' if with_request else 'without'} a request)", problems
