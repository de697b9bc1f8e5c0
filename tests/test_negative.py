"""The negative corpus: every requirement's check is shown to fail, and to fail alone.

Cases are data (tests/negative/<topic>.json, validated by case.schema.json), in the manner of the
JSON-Schema-Test-Suite: each is a captured response or stream and the exact set of requirements
it breaks. They go through the same capture and checks as ``vertex-conformance check``. A
requirement that no case breaks fails the build: a check that cannot fail is a defect.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from vertex_conformance.capture import exchange_from_text, kind_of
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.checks.tools import compare_tool_calls
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.findings import Finding
from vertex_conformance.paths import SAMPLES
from vertex_conformance.requirements import all_requirements

CORPUS = Path(__file__).parent / "negative"
CASE_SCHEMA = json.loads((CORPUS / "case.schema.json").read_text(encoding="utf-8"))
CASE_FILES = sorted(p for p in CORPUS.glob("*.json") if p.name != "case.schema.json")
CASES = [
    pytest.param(case, id=f"{path.stem}[{n}] {case['description']}")
    for path in CASE_FILES
    for n, case in enumerate(json.loads(path.read_text(encoding="utf-8")))
]
SAMPLE_FILES = sorted([*SAMPLES.glob("*.json"), *SAMPLES.glob("*.sse")])


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
    if case["kind"] == "stream":
        text = frame(case["data"])
    else:
        text = case["data"] if case.get("raw") else json.dumps(case["data"])
    exchange = exchange_from_text(text, request)
    status, headers = case.get("status", 0), case.get("response_headers", {})
    exchange = dataclasses.replace(exchange, status=status, headers=headers)
    if "sdk_view" in case:
        exchange = dataclasses.replace(exchange, lane="sdk", sdk_view=case["sdk_view"])
    return exchange


def pair_findings(case: dict[str, Any]) -> list[Finding]:
    """A pair case: the streamed and the non-streamed answer to one request, each checked alone,
    then their tool calls compared, as the suite does for form 8."""
    sides = []
    for kind, stream in (("stream", True), ("response", False)):
        side = {**case, "kind": kind, "data": case["data"][kind]}
        if "request" in case:
            side["request"] = {**case["request"], "stream": stream}
        exchange = exchange_for(side)
        assert kind_of(exchange) == kind, f"the pair's {kind} is classified as {kind_of(exchange)}"
        sides.append(exchange)
    profile = case.get("profile", "vertex")
    found = [f for exchange in sides for f in failures(evaluate(exchange, profile)[0])]
    return sorted([*found, *compare_tool_calls(*sides)])


def test_case_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(CASE_SCHEMA)


def test_the_corpus_has_case_files():
    assert len(CASE_FILES) >= 5


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_case_file_validates_against_the_case_schema(path):
    errors = [
        f"{error.json_path}: {error.message}"
        for error in jsonschema.Draft202012Validator(CASE_SCHEMA).iter_errors(json.loads(path.read_text()))
    ]
    assert errors == []


GOOD = {"description": "d", "kind": "response", "data": {}, "violates": ["response.object"]}


@pytest.mark.parametrize(
    "case",
    [
        {k: v for k, v in GOOD.items() if k != "violates"},
        {**GOOD, "kind": "chunk"},
        {**GOOD, "profile": "gemini"},
        {**GOOD, "violates": ["Response Object"]},
        {**GOOD, "violates": ["response.object", "response.object"]},
        {**GOOD, "expected": []},
        {**GOOD, "raw": True},
        {**GOOD, "kind": "stream", "data": 42},
        {**GOOD, "kind": "stream", "data": [["nested"]]},
        {**GOOD, "kind": "stream", "data": "data: x\n\n", "raw": True},
        {**GOOD, "headers": {"Authorization": "Bearer x"}},
        {**GOOD, "status": "200"},
        {**GOOD, "kind": "pair", "data": {"stream": ["[DONE]"]}},
        {**GOOD, "kind": "pair", "data": {"stream": 42, "response": {}}},
    ],
    ids=[
        "no violates",
        "unknown kind",
        "unknown profile",
        "malformed id",
        "duplicate id",
        "unknown key",
        "raw data not a string",
        "stream data a number",
        "stream event a list",
        "raw stream",
        "header name not lower case",
        "status a string",
        "pair without response",
        "pair stream a number",
    ],
)
def test_case_schema_rejects_a_malformed_case(case):
    assert not jsonschema.Draft202012Validator(CASE_SCHEMA).is_valid([case])


def test_case_schema_accepts_the_minimal_case():
    assert jsonschema.Draft202012Validator(CASE_SCHEMA).is_valid([GOOD])


@pytest.mark.parametrize("case", CASES)
def test_case_fails_exactly_the_requirements_it_lists(case):
    if case["kind"] == "pair":
        found = pair_findings(case)
    else:
        exchange = exchange_for(case)
        assert kind_of(exchange) == case["kind"], "the capture path classifies the case as its kind"
        results, _ = evaluate(exchange, case.get("profile", "vertex"))
        found = failures(results)
    assert {f.requirement for f in found} == set(case["violates"]), "\n".join(map(str, found))
    assert all(f.path.startswith("$") and f.message for f in found)


# Requirements that judge more than one exchange, or the suite's own evidence, cannot be written as
# one captured answer: each is broken on purpose by the named test instead.
COVERED_BY_TESTS = {
    "lanes.same-wire-body": "test_parity.py::test_an_sdk_that_flattens_extra_body_is_caught_with_the_path",
    "snapshot.shape": "test_end_to_end.py::test_a_changed_shape_fails_the_snapshot_requirement_alone",
    "cassette.all-played": "test_end_to_end.py::test_a_cassette_with_an_unplayed_interaction_fails_the_test",
    "http.success": "test_live_faults.py::test_a_401_is_not_retried_and_fails_the_form",
    "cassette.fresh": "test_end_to_end.py::test_max_cassette_age_turns_older_cassettes_into_failures",
}


def test_requirements_covered_by_tests_name_tests_that_exist():
    for node in COVERED_BY_TESTS.values():
        module, _, function = node.partition("::")
        assert f"def {function}(" in (Path(__file__).parent / module).read_text(), node


def test_every_requirement_has_a_negative_case():
    covered = {rid for param in CASES for rid in param.values[0]["violates"]} | set(COVERED_BY_TESTS)
    missing = sorted(r.id for r in all_requirements() if r.id not in covered)
    assert missing == [], f"requirements that no negative case breaks: {missing}"


def test_negative_cases_name_only_declared_requirements():
    declared = {r.id for r in all_requirements()}
    named = {rid for param in CASES for rid in param.values[0]["violates"]}
    assert named - declared == set()


def _sample_request(exchange: Exchange) -> WireRequest:
    """A request the sample could have answered: same model, streamed iff the sample is."""
    model = exchange.chunks[0][1]["model"] if exchange.streamed else exchange.body["model"]
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": exchange.streamed}
    return WireRequest("POST", "", {}, json.dumps(body))


@pytest.mark.parametrize("with_request", [False, True], ids=["alone", "with-request"])
@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_documented_sample_conforms_in_the_vertex_profile(sample, with_request):
    exchange = exchange_from_text(sample.read_text(encoding="utf-8"))
    if with_request:
        exchange = dataclasses.replace(exchange, request=_sample_request(exchange))
    results, observations = evaluate(exchange, "vertex")
    assert failures(results) == []
    assert ("response.model-echo" in results) is with_request
    assert observations["usage_rule"] in ("vertex", "both")
