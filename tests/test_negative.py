"""The negative corpus: every requirement's check is shown to fail, to fail alone, where and why.

Cases are data (tests/negative/<topic>.json, validated by case.schema.json), in the manner of the
JSON-Schema-Test-Suite: each is a captured response or stream, the exact set of requirements it
breaks, and each finding's JSON path and a fragment of its message (``tools.negative_corpus`` runs
them, through the same capture and checks as ``vertex-conformance check``). A requirement that no
case breaks fails the build: a check that cannot fail is a defect. ``tools/knockout.py`` shows
the corpus notices every branch of every check being removed.
"""

from __future__ import annotations

import json
import operator
from pathlib import Path

import jsonschema
import pytest

from tools import negative_corpus
from tools.negative_corpus import CASE_SCHEMA_PATH, SAMPLE_FILES, Case, mismatches, sample_mismatches
from vertex_conformance.checks import NOTHING, Check, Context, failures, sdk
from vertex_conformance.exchange import Exchange
from vertex_conformance.findings import Finding
from vertex_conformance.paths import SAMPLES
from vertex_conformance.requirements import Requirement, Source, all_requirements

CASE_SCHEMA = json.loads(CASE_SCHEMA_PATH.read_text(encoding="utf-8"))
CASE_FILES = negative_corpus.case_files()
CASES = [pytest.param(case, id=case.name) for case in negative_corpus.cases()]


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


OBJECT_FINDING = {"requirement": "response.object", "path": "$.response.object", "message": "expected"}
GOOD = {
    "description": "d",
    "kind": "response",
    "data": {},
    "violates": ["response.object"],
    "findings": [OBJECT_FINDING],
}


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
        {k: v for k, v in GOOD.items() if k != "findings"},
        {**GOOD, "findings": []},
        {**GOOD, "violates": [], "findings": [OBJECT_FINDING]},
        {**GOOD, "findings": [{k: v for k, v in OBJECT_FINDING.items() if k != "path"}]},
        {**GOOD, "findings": [{**OBJECT_FINDING, "path": "response.object"}]},
        {**GOOD, "findings": [{**OBJECT_FINDING, "message": ""}]},
        {**GOOD, "not_applicable": ["Tools Called"]},
        {**GOOD, "sdk_error": ""},
        {**GOOD, "base64": True},
        {**GOOD, "base64": True, "raw": True, "data": "e30="},
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
        "violates without findings",
        "violates with no finding",
        "a control with a finding",
        "finding without path",
        "finding path not from the root",
        "empty message fragment",
        "malformed not-applicable id",
        "empty SDK error",
        "base64 data not a string",
        "base64 and raw",
    ],
)
def test_case_schema_rejects_a_malformed_case(case):
    assert not jsonschema.Draft202012Validator(CASE_SCHEMA).is_valid([case])


def test_case_schema_accepts_the_minimal_case():
    assert jsonschema.Draft202012Validator(CASE_SCHEMA).is_valid([GOOD])


@pytest.mark.parametrize("case", CASES)
def test_case_fails_exactly_the_requirements_and_findings_it_pins(case: Case) -> None:
    assert mismatches(case) == []


def _object_case(**changes: object) -> Case:
    """The documented plain answer with a wrong object and an empty text, pinned as ``changes`` say."""
    data = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))
    data["object"] = "chat"
    data["choices"][0]["message"]["content"] = ""
    message = "$.response.choices[0].message"
    return Case(
        "made.json",
        0,
        {
            **GOOD,
            "data": data,
            "violates": ["message.not-empty", "response.object"],
            "findings": [
                {"requirement": "message.not-empty", "path": message, "message": "no content"},
                {"requirement": "response.object", "path": "$.response.object", "message": "got 'chat'"},
            ],
            **changes,
        },
    )


def test_a_case_holds_when_it_pins_every_finding():
    assert mismatches(_object_case()) == []


def test_a_finding_at_another_path_than_pinned_breaks_the_case():
    case = _object_case()
    case.data["findings"][1] = {**case.data["findings"][1], "path": "$.response.id"}
    assert mismatches(case) == [
        "no finding {'requirement': 'response.object', 'path': '$.response.id', 'message': \"got 'chat'\"}",
        "a finding the case does not pin: [response.object] $.response.object: expected 'chat.completion', "
        "got 'chat'",
    ]


def test_a_finding_with_another_message_than_pinned_breaks_the_case():
    case = _object_case()
    case.data["findings"][1] = {**case.data["findings"][1], "message": "got 'chat.completion.chunk'"}
    assert len(mismatches(case)) == 2


def test_a_finding_the_case_does_not_pin_breaks_it():
    case = _object_case()
    del case.data["findings"][0]
    assert mismatches(case) == [
        "a finding the case does not pin: [message.not-empty] $.response.choices[0].message: "
        "no content, tool_calls or media"
    ]


def test_a_requirement_pinned_as_not_applicable_that_held_breaks_the_case():
    assert mismatches(_object_case(not_applicable=["response.content-type"])) == [
        "response.content-type is not evaluated, not 'nothing to evaluate'"
    ]
    assert mismatches(_object_case(not_applicable=["response.object"])) == [
        "response.object is 1 finding(s), not 'nothing to evaluate'"
    ]


# Requirements that judge more than one exchange, or the suite's own evidence, cannot be written as
# one captured answer: each is broken on purpose by the named test instead.
COVERED_BY_TESTS = {
    "lanes.same-wire-body": "test_parity.py::test_an_sdk_that_flattens_extra_body_is_caught_with_the_path",
    "snapshot.shape": "test_end_to_end.py::test_a_changed_shape_fails_the_snapshot_requirement_alone",
    "cassette.all-played": "test_end_to_end.py::test_a_cassette_with_an_unplayed_interaction_fails_the_test",
    "http.success": "test_live_faults.py::test_a_400_is_not_retried_and_fails_the_form",
    "cassette.fresh": "test_end_to_end.py::test_max_cassette_age_turns_older_cassettes_into_failures",
}


def test_requirements_covered_by_tests_name_tests_that_exist():
    for node in COVERED_BY_TESTS.values():
        module, _, function = node.partition("::")
        assert f"def {function}(" in (Path(__file__).parent / module).read_text(), node


def test_every_requirement_has_a_negative_case():
    covered = {rid for param in CASES for rid in param.values[0].data["violates"]} | set(COVERED_BY_TESTS)
    missing = sorted(r.id for r in all_requirements() if r.id not in covered)
    assert missing == [], f"requirements that no negative case breaks: {missing}"


def test_negative_cases_name_only_declared_requirements():
    declared = {r.id for r in all_requirements()}
    cases = [param.values[0].data for param in CASES]
    named = {rid for case in cases for rid in [*case["violates"], *case.get("not_applicable", [])]}
    assert named - declared == set()


@pytest.mark.parametrize("with_request", [False, True], ids=["alone", "with-request"])
@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_documented_sample_conforms_in_the_vertex_profile(sample: Path, with_request: bool) -> None:
    assert sample_mismatches(sample, with_request) == []


# The @check machinery's three verdicts, on a check that is never registered (nor its requirement).
PROBE = Requirement("probe.machinery", "A check of the machinery's own test.", Source.HARNESS, "tests/")


def _verdict(*yielded: object) -> list[Finding] | None:
    return Check(PROBE, lambda ctx: True, lambda ctx: iter(yielded)).verdict(Context(Exchange(None, 200, {})))


def test_a_check_that_yields_nothing_held():
    assert _verdict() == []


def test_a_check_that_yields_only_nothing_to_evaluate_is_not_applicable():
    assert _verdict(NOTHING) is None


def test_a_violation_beside_nothing_to_evaluate_still_fails():
    assert _verdict(NOTHING, ("$.x", "broken")) == [Finding("probe.machinery", "$.x", "broken")]


def test_failures_leave_out_requirements_with_nothing_to_evaluate():
    found = Finding("a.b", "$.x", "broken")
    assert failures({"a.b": [found], "a.c": None, "a.d": []}) == [found]


def test_the_sdk_case_of_true_for_1_fails_a_check_that_compares_with_python_equality(monkeypatch):
    """The case pins checks/sdk.py's rule (json_equality: true is not 1): with Python's ``==``,
    which holds True == 1, the SDK's true for the wire's 1 would go unnoticed."""
    case = next(c for c in negative_corpus.cases() if "true where the wire held 1" in c.data["description"])
    assert mismatches(case) == []
    monkeypatch.setattr(sdk, "same", operator.eq)
    assert "fails [], not ['sdk.keeps-fields']" in mismatches(case)
