"""The judge: from exchanges, expectations and the harness's own verdicts to one verdict, purely.

Exchanges are built from the documented samples, as the negative corpus and the shape tests
build theirs; each test changes one thing and shows the verdict follow it.
"""

from __future__ import annotations

import builtins
import io
import json
import socket
from typing import Any

from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.expectations import Expectation
from vertex_conformance.findings import Finding
from vertex_conformance.judge import Case, judge
from vertex_conformance.paths import SAMPLES
from vertex_conformance.results import FindingRecord
from vertex_conformance.vocabulary import Outcome, Profile

MODEL = "google/gemini-2.0-flash-001"  # what the samples answer with
PLAIN = Case("suites/test_plain.py::test_plain_chat[httpx]", Profile.VERTEX, "plain", "httpx", False)
ERROR_BODY = json.dumps({"error": {"code": 404, "message": "model not found", "status": "NOT_FOUND"}})


def exchange(status: int = 200, model: str = MODEL, body: str | None = None) -> Exchange:
    """A non-streamed exchange: the documented plain answer (or ``body``) to a request for ``model``."""
    request = {"model": model, "messages": [{"role": "user", "content": "Tell me a story."}]}
    wire = WireRequest("POST", "https://example.test/v1/chat/completions", {}, json.dumps(request))
    text = body if body is not None else (SAMPLES / "plain_chat.json").read_text(encoding="utf-8")
    return Exchange(wire, status, {"content-type": "application/json"}, body_text=text)


def expectation(requirement: str, **narrowed: Any) -> Expectation:
    return Expectation(requirement, "made up for the test", "nowhere", **narrowed)


def test_the_documented_answer_passes_every_requirement():
    verdict = judge(PLAIN, [exchange()], [])
    assert verdict.outcome is Outcome.PASS
    assert verdict.findings == ()
    assert set(verdict.requirements.values()) == {Outcome.PASS}
    assert {"http.success", "response.object", "usage.vertex-total"} <= set(verdict.requirements)


def test_the_judge_is_pure_the_same_inputs_give_equal_verdicts_without_files_or_network(monkeypatch):
    """Once its schemas are loaded (once per process), a judgement touches neither a file nor a
    socket, and its result depends on its inputs alone."""
    inputs = (PLAIN, [exchange(model="google/other")], [expectation("usage.vertex-total")])
    first = judge(*inputs, harness={"snapshot.shape": []})

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the judge reached for a file or the network")

    with monkeypatch.context() as patched:
        patched.setattr(socket, "socket", refuse)
        patched.setattr(builtins, "open", refuse)
        patched.setattr(io, "open", refuse)
        second = judge(*inputs, harness={"snapshot.shape": []})
    assert second == first
    assert first.outcome is Outcome.FAIL  # not a vacuous equality: something was judged


def test_the_judge_leaves_its_inputs_as_they_were():
    exchanges, harness = [exchange()], {"snapshot.shape": [Finding("snapshot.shape", "$.shape", "a new key")]}
    judge(PLAIN, exchanges, [], harness=harness)
    assert harness == {"snapshot.shape": [Finding("snapshot.shape", "$.shape", "a new key")]}
    assert len(exchanges) == 1 and exchanges[0].status == 200


def test_a_non_2xx_answer_fails_http_success_quoting_the_body():
    verdict = judge(PLAIN, [exchange(404, body=ERROR_BODY)], [])
    assert verdict.outcome is Outcome.FAIL
    assert verdict.requirements["http.success"] is Outcome.FAIL
    [finding] = [f for f in verdict.findings if f.requirement == "http.success"]
    assert finding == FindingRecord(
        "http.success",
        "$.status",
        "the documented form was answered 404: NOT_FOUND: model not found",
        Outcome.FAIL,
    )


def test_a_probe_is_not_held_to_http_success():
    """A probe sends what users reported; an error answer is what it is there to look at."""
    probe = Case("suites/test_probes.py::test_probe_error_body_shape[httpx]", Profile.VERTEX, probe=True)
    verdict = judge(probe, [exchange(404, body=ERROR_BODY)], [])
    assert "http.success" not in verdict.requirements
    assert verdict.outcome is Outcome.PASS


def test_a_requirement_broken_by_design_is_left_unjudged():
    broken = judge(PLAIN, [exchange(model="google/other")], [])
    assert broken.requirements["response.model-echo"] is Outcome.FAIL
    verdict = judge(PLAIN, [exchange(model="google/other")], [], by_design=("response.model-echo",))
    assert "response.model-echo" not in verdict.requirements
    assert not any(f.requirement == "response.model-echo" for f in verdict.findings)
    assert verdict.by_design == ("response.model-echo",)
    assert verdict.outcome is Outcome.PASS


def test_an_expectation_turns_a_failure_into_a_known_deviation():
    listed = expectation("response.model-echo")
    verdict = judge(PLAIN, [exchange(model="google/other")], [listed])
    assert verdict.outcome is Outcome.KNOWN_DEVIATION
    assert verdict.requirements["response.model-echo"] is Outcome.KNOWN_DEVIATION
    assert {f.outcome for f in verdict.findings} == {Outcome.KNOWN_DEVIATION}
    assert verdict.applied == {"response.model-echo": listed}
    assert verdict.failures("expectations/gemini.yaml") == []
    assert verdict.known_deviations() == "[response.model-echo] made up for the test"


def test_an_expectation_of_a_requirement_that_holds_is_an_unexpected_pass():
    verdict = judge(PLAIN, [exchange()], [expectation("usage.vertex-total")])
    assert verdict.outcome is Outcome.UNEXPECTED_PASS
    assert verdict.requirements["usage.vertex-total"] is Outcome.UNEXPECTED_PASS
    assert verdict.failures("expectations/gemini.yaml") == [
        "unexpected pass: [usage.vertex-total] holds, but expectations/gemini.yaml lists it as a known "
        "deviation (made up for the test); remove the entry"
    ]


def test_an_expectation_narrowed_to_another_lane_changes_nothing():
    verdict = judge(
        PLAIN, [exchange(model="google/other")], [expectation("response.model-echo", lanes=("sdk",))]
    )
    assert verdict.requirements["response.model-echo"] is Outcome.FAIL
    assert verdict.applied == {}


def test_harness_findings_are_judged_like_the_checks_findings():
    drift = Finding("snapshot.shape", "$.shape.usage", "a new key: cached_tokens")
    held = judge(PLAIN, [exchange()], [], harness={"snapshot.shape": []})
    assert held.requirements["snapshot.shape"] is Outcome.PASS
    failed = judge(PLAIN, [exchange()], [], harness={"snapshot.shape": [drift]})
    assert failed.outcome is Outcome.FAIL
    assert failed.findings == (FindingRecord(drift.requirement, drift.path, drift.message, Outcome.FAIL),)
    known = judge(PLAIN, [exchange()], [expectation("snapshot.shape")], harness={"snapshot.shape": [drift]})
    assert known.requirements["snapshot.shape"] is Outcome.KNOWN_DEVIATION


def test_several_exchanges_prefix_every_path_with_the_exchange_it_came_from():
    verdict = judge(PLAIN, [exchange(model="google/other"), exchange(503, body=ERROR_BODY)], [])
    paths = {(f.requirement, f.path) for f in verdict.findings}
    assert ("response.model-echo", "exchanges[0].response.model") in paths
    assert ("http.success", "exchanges[1].status") in paths
    assert all(path.startswith(("exchanges[0]", "exchanges[1]")) for _, path in paths)


def test_one_exchange_keeps_its_paths_as_the_checks_wrote_them():
    verdict = judge(PLAIN, [exchange(model="google/other")], [])
    assert [f.path for f in verdict.findings] == ["$.response.model"]


def test_the_profile_of_the_case_decides_the_contract():
    """The same documented answer holds as Vertex and breaks OpenAI's contract (no ``refusal``)."""
    openai = Case(PLAIN.nodeid, Profile.OPENAI, "plain", "httpx", False)
    assert judge(PLAIN, [exchange()], []).outcome is Outcome.PASS
    verdict = judge(openai, [exchange()], [])
    assert verdict.requirements["schema.response"] is Outcome.FAIL
    assert [f.path for f in verdict.findings] == ["$.response.choices[0].message"]


def evaluating(monkeypatch, *answers: dict[str, list[Finding] | None]) -> None:
    """``checks.evaluate`` answering ``answers`` in turn, one per exchange judged."""
    queue = list(answers)
    monkeypatch.setattr("vertex_conformance.judge.evaluate", lambda exchange, profile: (queue.pop(0), {}))


def test_a_requirement_with_nothing_to_evaluate_is_not_applicable_never_a_pass(monkeypatch):
    evaluating(monkeypatch, {"tools.args-json": None, "response.object": []})
    verdict = judge(Case("t", Profile.VERTEX), [exchange()], [])
    assert verdict.requirements["tools.args-json"] is Outcome.NOT_APPLICABLE
    assert verdict.requirements["response.object"] is Outcome.PASS
    assert verdict.outcome is Outcome.PASS


def test_an_expectation_never_turns_nothing_to_evaluate_into_an_unexpected_pass(monkeypatch):
    evaluating(monkeypatch, {"tools.index-stable": None})
    verdict = judge(Case("t", Profile.VERTEX), [exchange()], [expectation("tools.index-stable")])
    assert verdict.requirements["tools.index-stable"] is Outcome.NOT_APPLICABLE
    assert verdict.failures("expectations/gemini.yaml") == []


def test_a_requirement_evaluated_on_one_exchange_of_several_is_judged_on_that_one(monkeypatch):
    broken = [Finding("tools.args-json", "$.response.x", "not JSON")]
    evaluating(monkeypatch, {"tools.args-json": None}, {"tools.args-json": broken})
    verdict = judge(Case("t", Profile.VERTEX), [exchange(), exchange()], [])
    assert verdict.requirements["tools.args-json"] is Outcome.FAIL
    evaluating(monkeypatch, {"tools.args-json": []}, {"tools.args-json": None})
    assert (
        judge(Case("t", Profile.VERTEX), [exchange(), exchange()], []).requirements["tools.args-json"]
        is Outcome.PASS
    )


def test_a_test_whose_every_requirement_had_nothing_to_evaluate_proved_nothing(monkeypatch):
    evaluating(monkeypatch, {"tools.args-json": None})
    verdict = judge(Case("t", Profile.VERTEX, probe=True), [exchange()], [])
    assert verdict.outcome is Outcome.NOT_APPLICABLE


def test_an_excused_finding_beside_an_unexcused_one_is_labelled_known_and_only_the_other_fails(monkeypatch):
    excused = Finding("schema.response", "$.response.choices[0].message", "refusal is missing")
    other = Finding("schema.response", "$.response.id", "id is not a string")
    evaluating(monkeypatch, {"schema.response": [excused, other]})
    entry = expectation("schema.response", paths=("$.response.choices[*].message",))
    verdict = judge(Case("t", Profile.VERTEX), [exchange()], [entry])
    assert verdict.requirements["schema.response"] is Outcome.FAIL
    labels = {f.path: f.outcome for f in verdict.findings}
    assert labels == {excused.path: Outcome.KNOWN_DEVIATION, other.path: Outcome.FAIL}
    assert verdict.failures("expectations/gemini.yaml") == [
        f"[schema.response] {other.path}: {other.message}"
    ]
