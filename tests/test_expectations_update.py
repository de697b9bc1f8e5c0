"""`vertex-conformance expectations update`: what a run says to remove, and the file rewritten
around it, every other line kept as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from result_documents import results

from vertex_conformance.cli import main
from vertex_conformance.expectations import load
from vertex_conformance.expectations_update import plan, without
from vertex_conformance.results import FindingRecord, TestRecord
from vertex_conformance.vocabulary import Outcome

# Three entries of one requirement, with a section comment and blank lines between: the first
# excuses the run's refusal finding, the second describes a finding that no longer happens, the
# third covers a test where the requirement now holds.
FILE = """\
# Known deviations (a header the update keeps)

- requirement: schema.response
  profiles: [openai]
  paths: ["$.response.choices[*].message"]
  message: refusal
  reason: no refusal key
  link: docs/spec.md#openai-baseline

# --- image output ---
- requirement: schema.response
  profiles: [openai]
  paths: ["$.response.choices[*].message.audio"]
  reason: >-
    audio without id
    or transcript
  link: docs/spec.md#openai-baseline

- requirement: usage.openai-total
  profiles: [openai]
  forms: [thinking]
  reason: reasoning on top
  link: docs/spec.md#response-facts
"""
PLAIN = "suites/test_plain.py::test_plain_chat[httpx]"
THINKING = "suites/test_thinking.py::test_thinking[httpx]"


def record(nodeid: str, form: str, requirements: dict[str, Outcome], *findings: FindingRecord) -> TestRecord:
    outcome = Outcome.KNOWN_DEVIATION if findings else Outcome.PASS
    return TestRecord(
        nodeid=nodeid,
        outcome=outcome,
        form=form,
        lane="httpx",
        streamed=False,
        profile="openai",
        requirements=requirements,
        findings=findings,
    )


REFUSAL = FindingRecord(
    "schema.response", "$.response.choices[0].message", '"refusal" is required', Outcome.KNOWN_DEVIATION
)
RUN = [
    record(PLAIN, "plain", {"schema.response": Outcome.KNOWN_DEVIATION}, REFUSAL),
    record(
        THINKING,
        "thinking",
        {"schema.response": Outcome.KNOWN_DEVIATION, "usage.openai-total": Outcome.UNEXPECTED_PASS},
        REFUSAL,
    ),
]


@pytest.fixture
def listed(tmp_path: Path) -> Path:
    path = tmp_path / "gemini.yaml"
    path.write_text(FILE, encoding="utf-8")
    return path


def test_the_plan_removes_the_stale_entry_and_the_one_that_only_passed_unexpectedly(listed):
    changes = plan(load(listed), RUN)
    assert [(c.entry.line, c.removed) for c in changes] == [(11, True), (19, True)]
    assert str(changes[0]).startswith("removed line 11 [schema.response]: stale:")
    assert str(changes[1]) == (
        "removed line 19 [usage.openai-total]: passed unexpectedly in all 1 test(s) it covers: fixed"
    )


def test_an_entry_that_still_excuses_a_finding_somewhere_is_kept_and_its_unexpected_pass_reported(listed):
    also_known = record(
        "suites/test_thinking.py::test_thinking[sdk]",
        "thinking",
        {"usage.openai-total": Outcome.KNOWN_DEVIATION},
        FindingRecord("usage.openai-total", "$.response.usage.total_tokens", "no", Outcome.KNOWN_DEVIATION),
    )
    [change] = [c for c in plan(load(listed), [*RUN, also_known]) if c.entry.line == 19]
    assert not change.removed
    assert str(change) == (
        f"kept line 19 [usage.openai-total]: passed unexpectedly in 1 test(s) (first: {THINKING}) and "
        "failed as listed in 1: narrow it by hand"
    )


def test_without_removes_exactly_the_entries_lines_and_keeps_every_other_line():
    first, image, usage = FILE.split("\n\n")[1:]
    assert (
        without(FILE, {11, 19})
        == f"# Known deviations (a header the update keeps)\n\n{first}\n\n# --- image output ---\n"
    )
    assert without(FILE, {3}) == f"# Known deviations (a header the update keeps)\n\n{image}\n\n{usage}"
    assert without(FILE, set()) == FILE


def test_without_handles_flow_entries_and_block_lists():
    text = "- {requirement: a}\n- requirement: b\n  tests:\n    - x\n    - y\n# after b\n- {requirement: c}\n"
    assert without(text, {2}) == "- {requirement: a}\n# after b\n- {requirement: c}\n"
    assert without(text, {1, 7}) == "- requirement: b\n  tests:\n    - x\n    - y\n# after b\n"


def write_run(tmp_path: Path, *tests: TestRecord, **run: object) -> Path:
    path = tmp_path / "results.json"
    path.write_text(results(*tests, **run).to_json(), encoding="utf-8")
    return path


def test_the_command_rewrites_the_file_and_prints_each_change(capsys, tmp_path, listed):
    report = write_run(tmp_path, *RUN)
    assert main(["expectations", "update", str(report), "--file", str(listed)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{listed}: removed line 11 [schema.response]: stale")
    assert out[-1] == f"{listed}: 2 entries removed, 1 kept"
    assert [e.requirement for e in load(listed)] == ["schema.response"]
    assert listed.read_text(encoding="utf-8").startswith("# Known deviations (a header the update keeps)\n")
    assert main(["expectations", "update", str(report), "--file", str(listed)]) == 0
    assert capsys.readouterr().out == f"{listed}: up to date: 1 kept\n"


def test_by_default_the_command_rewrites_the_file_the_run_used(capsys, tmp_path, listed):
    report = write_run(tmp_path, *RUN, expectations=str(listed))
    assert main(["expectations", "update", str(report)]) == 0
    assert len(load(listed)) == 1


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("incomplete", "the run is incomplete (stopped by SIGTERM)"),
        ("missing-file", "gemni.yaml: no such file"),
        ("bad-file", "line 1: unknown requirement"),
        ("not-a-report", "not JSON"),
    ],
)
def test_what_cannot_be_updated_exits_2_with_one_line_and_leaves_the_file(
    capsys, tmp_path, listed, setup, fragment
):
    report = write_run(tmp_path, *RUN)
    target = listed
    if setup == "incomplete":
        document = json.loads(report.read_text())
        document["incomplete"] = {"reason": "stopped by SIGTERM", "not_run": []}
        report.write_text(json.dumps(document))
    elif setup == "missing-file":
        target = tmp_path / "gemni.yaml"
    elif setup == "bad-file":
        listed.write_text("- {requirement: schema.respons, reason: r, link: l}\n")
    else:
        report = tmp_path / "half-written.json"  # not named results.json: the self-tests check those
        report.write_text("{")
    before = listed.read_text()
    assert main(["expectations", "update", str(report), "--file", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert listed.read_text() == before
