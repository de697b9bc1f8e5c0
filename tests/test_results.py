"""results.json: what ``validate`` and ``load`` refuse, with one line naming the problem, and the
typed records' round trip through their JSON form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from result_documents import results, run_settings, unreadable_reports

from vertex_conformance.results import (
    FORMAT,
    FindingRecord,
    Results,
    TestRecord,
    UnreadableResults,
    load,
    validate,
)
from vertex_conformance.vocabulary import REQUIREMENT_VERDICTS, Outcome

PLAIN = "suites/test_plain.py::test_plain_chat[httpx]"
FULL = TestRecord(
    nodeid=PLAIN,
    outcome=Outcome.KNOWN_DEVIATION,
    form="plain",
    lane="httpx",
    target="gemini",
    location="us-central1",
    api_version="v1",
    streamed=False,
    mode="replay",
    profile="vertex",
    requirements={"usage.vertex-total": Outcome.KNOWN_DEVIATION, "response.object": Outcome.PASS},
    findings=(
        FindingRecord(
            "usage.vertex-total", "$.response.usage", "total is off by one", Outcome.KNOWN_DEVIATION
        ),
    ),
    expectations={"usage.vertex-total": {"reason": "made up", "link": "nowhere"}},
    observations={"usage_rule": "vertex"},
    status=200,
    evidence={"response": {"status": 200, "body": "{}", "truncated": False}},
    cassette={"path": "fixtures/cassettes/vertex/test_plain/x.yaml", "source": "documented-sample"},
    tokens={"total_tokens": 30},
    timing=[{"ttfb_s": 0.1}],
    by_design=("http.success",),
    notes={"attempts": 1},
    duration_s=0.25,
)


def document(*tests: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A results.json object holding ``tests`` as given (unchecked), with top-level keys replaced."""
    return {**results().to_dict(), "tests": list(tests), **top}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "baseline: not a results.json document (expected a JSON object)"),
        (
            document(format="vertex-conformance/comparison"),
            "baseline: format is 'vertex-conformance/comparison', expected 'vertex-conformance/results' "
            "(a results.json)",
        ),
        (
            document(version=2),
            "baseline: results.json version 2 is not supported (this vertex-conformance reads version 1)",
        ),
        (
            {k: v for k, v in document().items() if k != "tests"},
            'baseline: $: "tests" is a required property (see results.schema.json)',
        ),
        (
            document({"outcome": "pass"}),
            'baseline: $.tests[0]: "nodeid" is a required property (see results.schema.json)',
        ),
        (
            document({"nodeid": "x", "outcome": "ok"}),
            'baseline: $.tests[0].outcome: "ok" is not one of "pass", "fail" or 6 other candidates '
            "(see results.schema.json)",
        ),
        (
            document({"nodeid": "x", "outcome": "pass", "colour": "red"}),
            "baseline: $.tests[0]: Additional properties are not allowed ('colour' was unexpected) "
            "(see results.schema.json)",
        ),
        (
            document({"nodeid": "x", "outcome": "pass", "requirements": []}),
            'baseline: $.tests[0].requirements: [] is not of type "object" (see results.schema.json)',
        ),
        (
            document({"nodeid": "x", "outcome": "infra", "requirements": {"a": "infra"}}),
            'baseline: $.tests[0].requirements.a: "infra" is not one of "pass", "fail" or 3 other '
            "candidates (see results.schema.json)",
        ),
        (
            document({"nodeid": "x", "outcome": "pass"}, {"nodeid": "x", "outcome": "fail"}),
            "baseline: test 'x' appears twice",
        ),
        (
            document(run=run_settings(max_attempts=0)),
            "baseline: $.run.max_attempts: 0 is less than the minimum of 1 (see results.schema.json)",
        ),
    ],
    ids=[
        "not-an-object",
        "format",
        "version",
        "no-tests",
        "no-nodeid",
        "unknown-outcome",
        "unknown-key",
        "requirements-not-an-object",
        "verdict-outside-the-four",
        "duplicate-nodeid",
        "run-setting-out-of-range",
    ],
)
def test_validate_refuses_what_is_not_a_results_document_of_this_version_in_one_line(given, message):
    with pytest.raises(UnreadableResults) as caught:
        validate(given, "baseline")
    assert str(caught.value) == message


def test_validate_accepts_every_outcome_and_every_requirement_verdict():
    """The refusals above are of bad values, not of the keys themselves: the four verdicts and seven
    outcomes all pass, so the schema and the vocabulary agree."""
    tests = [{"nodeid": f"t{o.value}", "outcome": o.value} for o in Outcome]
    verdicts = {f"r-{o.value}": o.value for o in REQUIREMENT_VERDICTS}
    tests.append({"nodeid": "judged", "outcome": "fail", "requirements": verdicts})
    checked = validate(document(*tests), "x")
    assert {t.outcome for t in checked.tests} == set(Outcome)
    assert checked.summary["total"] == len(Outcome) + 1


def test_a_full_record_survives_its_json_form():
    assert TestRecord.from_dict(FULL.to_dict()) == FULL
    assert TestRecord.from_dict(json.loads(json.dumps(FULL.to_dict()))) == FULL


def test_a_record_leaves_empty_values_out_but_keeps_an_empty_verdict():
    """Absence keeps one meaning (never judged); an empty ``requirements`` is a judged test that
    evaluated nothing, which is a different fact."""
    bare = TestRecord(PLAIN, Outcome.ERROR, error="no cassette")
    assert bare.to_dict() == {"nodeid": PLAIN, "outcome": "error", "error": "no cassette"}
    assert not TestRecord.from_dict(bare.to_dict()).judged
    empty = TestRecord(PLAIN, Outcome.PASS, requirements={})
    assert empty.to_dict()["requirements"] == {}
    assert TestRecord.from_dict(empty.to_dict()).judged


def test_a_run_survives_its_json_form_through_validate():
    run = Results(run_settings(), results().versions, (FULL,), generated_at="2026-01-01T00:00:00+00:00")
    again = validate(json.loads(run.to_json()), "again")
    assert again == run
    assert again.summary["known-deviation"] == 1
    assert again.tokens == {"total": {"total_tokens": 30}, "by_form": {"plain": {"total_tokens": 30}}}


def test_load_names_the_file_and_why_it_cannot_be_read(tmp_path):
    with pytest.raises(UnreadableResults, match=r"missing\.json: cannot read: No such file or directory"):
        load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UnreadableResults, match=r"bad\.json: not JSON"):
        load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "x"}), encoding="utf-8")
    with pytest.raises(UnreadableResults, match=r"other\.json: format is 'x', expected " + repr(FORMAT)):
        load(tmp_path / "other.json")


def test_every_refused_report_under_a_folder_is_named_and_a_readable_one_is_not(tmp_path_factory):
    """What the self-tests' conftest fails a test with (a folder of its own here: the conftest
    checks ``tmp_path``, and this folder holds a bad report on purpose)."""
    root = tmp_path_factory.mktemp("reports")
    (root / "results.json").write_text(results().to_json(), encoding="utf-8")
    (root / "run" / "nested").mkdir(parents=True)
    (root / "run" / "nested" / "results.json").write_text('{"format": "x"}', encoding="utf-8")
    (root / "run" / "other.json").write_text("not a report, not checked", encoding="utf-8")
    assert unreadable_reports(root) == [
        f"{root / 'run' / 'nested' / 'results.json'}: format is 'x', expected {FORMAT!r} (a results.json)"
    ]


def test_the_schema_check_runs_after_every_test_that_has_a_tmp_path(request, tmp_path):
    assert "reports_follow_the_schema" in request.fixturenames
    (tmp_path / "results.json").write_text(results().to_json(), encoding="utf-8")  # checked, and valid


def test_a_draft_with_a_fact_the_record_has_no_field_for_is_refused_not_dropped():
    with pytest.raises(ValueError, match=r"no TestRecord field for \['latency'\]"):
        TestRecord.from_dict({"nodeid": "suites/test_plain.py::t", "outcome": "pass", "latency": 1})
