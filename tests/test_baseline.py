"""Comparing a run with a baseline: what counts as a regression, and the gate's exit codes.

Hand-made result documents pin down each classification; real runs of the suite (one of them on a
copy of the shipped cassettes with one answer broken) show the gate names exactly the regression.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from result_documents import results

from vertex_conformance import baseline
from vertex_conformance.baseline import Change, compare
from vertex_conformance.cli import main
from vertex_conformance.paths import CASSETTES, ROOT
from vertex_conformance.results import Incomplete, Results, Selection, load, validate
from vertex_conformance.vocabulary import CLIENT_LANES, SUITE_LANES

PLAIN = "suites/test_plain.py::test_plain_chat[httpx]"
# The client lanes replay the raw lane's recording: a broken one shows in each of them too
REPLAYING_PLAIN = (PLAIN, *(PLAIN.replace("[httpx]", f"[{lane}]") for lane in CLIENT_LANES))
STREAM = "suites/test_streaming.py::test_streaming_chat[sdk]"


def record(
    nodeid: str, outcome: str, requirements: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A test record's JSON object; findings are made for every requirement that did not pass."""
    out: dict[str, Any] = {"nodeid": nodeid, "form": "plain", "lane": "httpx", "outcome": outcome}
    if requirements is not None:
        out["requirements"] = requirements
        out["findings"] = [
            {"requirement": rid, "path": f"$.response.{rid}", "message": f"{rid} broke", "outcome": o}
            for rid, o in requirements.items()
            if o != "pass"
        ]
    return {**out, **extra}


def only(comparison: baseline.Comparison, category: str) -> list[Change]:
    """The changes in ``category``, asserting every other category is empty."""
    others = {name: n for name, n in comparison.counts().items() if name != category and n}
    assert not others, others
    return getattr(comparison, category)


# --- classification -----------------------------------------------------------------------------


def test_identical_runs_compare_clean():
    document = results(
        record(PLAIN, "pass", {"usage.vertex-total": "pass"}),
        record(STREAM, "known-deviation", {"sdk.stream-message": "known-deviation"}),
    )
    comparison = compare(document, validate(json.loads(document.to_json()), "copy"))
    assert comparison.exit_code == 0
    assert sum(comparison.counts().values()) == 0
    assert comparison.lines()[-1] == "no regression (no changes)"


def test_a_requirement_that_held_and_now_fails_is_a_regression_with_the_current_evidence():
    before = results(record(PLAIN, "pass", {"usage.vertex-total": "pass", "response.object": "pass"}))
    after = results(record(PLAIN, "fail", {"usage.vertex-total": "fail", "response.object": "pass"}))
    comparison = compare(before, after)
    assert only(comparison, "regressions") == [
        Change(
            PLAIN,
            "usage.vertex-total",
            "pass",
            "fail",
            "$.response.usage.vertex-total: usage.vertex-total broke",
        )
    ]
    assert comparison.exit_code == 1
    line = (
        f"{PLAIN} [usage.vertex-total] pass -> fail: $.response.usage.vertex-total: usage.vertex-total broke"
    )
    assert f"  {line}" in comparison.to_text().splitlines()
    assert comparison.lines()[-1] == "REGRESSION (regressions: 1)"


def test_a_requirement_no_longer_evaluated_is_a_regression():
    before = results(record(PLAIN, "pass", {"usage.vertex-total": "pass", "response.object": "pass"}))
    after = results(record(PLAIN, "pass", {"response.object": "pass"}))
    [change] = only(compare(before, after), "regressions")
    assert (change.requirement, change.before, change.after) == ("usage.vertex-total", "pass", None)
    assert change.evidence == "not evaluated in the current run"
    assert "[usage.vertex-total] pass -> not evaluated" in change.line()


def test_a_known_deviation_that_now_fails_is_a_regression():
    """The expectation was dropped (or no longer matches): the test went from known-deviation to fail."""
    before = results(record(STREAM, "known-deviation", {"sdk.stream-message": "known-deviation"}))
    after = results(record(STREAM, "fail", {"sdk.stream-message": "fail"}))
    [change] = only(compare(before, after), "regressions")
    assert (change.nodeid, change.requirement, change.before, change.after) == (
        STREAM,
        "sdk.stream-message",
        "known-deviation",
        "fail",
    )


@pytest.mark.parametrize("was", ["pass", "known-deviation"])
def test_a_test_missing_from_the_current_run_is_a_regression(was):
    before = results(record(PLAIN, "pass", {"a": "pass"}), record(STREAM, was, {"b": was}))
    after = results(record(PLAIN, "pass", {"a": "pass"}))
    [change] = only(compare(before, after), "regressions")
    assert change == Change(STREAM, None, was, None, "not in the current run")
    assert change.line() == f"{STREAM} (test) {was} -> missing: not in the current run"


def test_a_failing_test_that_is_gone_is_listed_but_not_a_regression():
    comparison = compare(results(record(PLAIN, "fail", {"a": "fail"})), results())
    assert only(comparison, "other") == [Change(PLAIN, None, "fail", None, "not in the current run")]
    assert comparison.exit_code == 0


def test_an_error_before_the_checks_ran_is_one_regression_of_the_test():
    before = results(record(PLAIN, "pass", {"a": "pass", "b": "pass"}))
    after = results(record(PLAIN, "error", error="not in the cassette: no match for the request"))
    [change] = only(compare(before, after), "regressions")
    assert change == Change(PLAIN, None, "pass", "error", "not in the cassette: no match for the request")


def test_a_failing_test_that_now_errors_before_its_checks_loses_what_held_and_regresses():
    before = results(record(PLAIN, "fail", {"a": "pass", "b": "fail"}))
    after = results(record(PLAIN, "error", error="the harness broke"))
    [change] = only(compare(before, after), "regressions")
    assert (change.requirement, change.before, change.after) == (None, "fail", "error")


def test_a_new_failure_in_an_already_failing_test_is_a_regression():
    before = results(record(PLAIN, "fail", {"a": "fail"}))
    after = results(record(PLAIN, "fail", {"a": "fail", "b": "fail"}))
    [change] = only(compare(before, after), "regressions")
    assert (change.requirement, change.before, change.after) == ("b", None, "fail")


def test_fixes_are_listed_with_what_used_to_fail():
    before = results(
        record(PLAIN, "fail", {"usage.vertex-total": "fail", "response.object": "pass"}),
        record(STREAM, "error", error="no cassette"),
    )
    after = results(
        record(PLAIN, "pass", {"usage.vertex-total": "pass", "response.object": "pass"}),
        record(STREAM, "pass", {"a": "pass"}),
    )
    comparison = compare(before, after)
    assert only(comparison, "fixes") == [
        Change(
            PLAIN,
            "usage.vertex-total",
            "fail",
            "pass",
            "was: $.response.usage.vertex-total: usage.vertex-total broke",
        ),
        Change(STREAM, None, "error", "pass", ""),
    ]
    assert comparison.exit_code == 0


def test_a_new_known_deviation_is_listed_but_not_a_regression():
    before = results(record(STREAM, "pass", {"sdk.stream-message": "pass"}))
    after = results(record(STREAM, "known-deviation", {"sdk.stream-message": "known-deviation"}))
    comparison = compare(before, after)
    [change] = only(comparison, "new_known_deviations")
    assert (change.requirement, change.before, change.after) == (
        "sdk.stream-message",
        "pass",
        "known-deviation",
    )
    assert change.evidence == "$.response.sdk.stream-message: sdk.stream-message broke"
    assert comparison.exit_code == 0


def test_an_unexpected_pass_is_listed_but_not_a_regression():
    before = results(record(STREAM, "known-deviation", {"sdk.stream-message": "known-deviation"}))
    after = results(record(STREAM, "unexpected-pass", {"sdk.stream-message": "unexpected-pass"}))
    comparison = compare(before, after)
    [change] = only(comparison, "unexpected_passes")
    assert (change.requirement, change.before, change.after) == (
        "sdk.stream-message",
        "known-deviation",
        "unexpected-pass",
    )
    assert comparison.exit_code == 0


def test_a_new_test_is_listed_even_when_it_fails_and_is_not_a_regression():
    before = results(record(PLAIN, "pass", {"a": "pass"}))
    after = results(record(PLAIN, "pass", {"a": "pass"}), record(STREAM, "fail", {"b": "fail"}))
    comparison = compare(before, after)
    assert only(comparison, "new_tests") == [Change(STREAM, None, None, "fail", "[b] $.response.b: b broke")]
    assert comparison.exit_code == 0


@pytest.mark.parametrize(
    ("was", "now"),
    [("pass", "infra"), ("infra", "fail"), ("infra", "pass"), ("infra", "infra"), ("infra", None)],
)
def test_infra_in_either_run_is_inconclusive_never_a_regression(was, now):
    def judged(outcome: str) -> dict[str, Any]:
        if outcome == "infra":
            return record(PLAIN, "infra", error="HTTP 429 Too Many Requests")
        return record(PLAIN, outcome, {"a": outcome})

    comparison = compare(results(judged(was)), results(*([] if now is None else [judged(now)])))
    [change] = only(comparison, "inconclusive")
    assert (change.nodeid, change.requirement, change.before, change.after) == (PLAIN, None, was, now)
    assert comparison.exit_code == 0
    assert "inconclusive (infra in either run) (1):" in comparison.lines()


@pytest.mark.parametrize(("was", "now"), [("pass", "unsupported"), ("unsupported", "fail")])
def test_a_change_to_or_from_unsupported_is_listed_but_not_a_regression(was, now):
    before = results(record(PLAIN, was, {"a": "pass"} if was == "pass" else None, reason="no endpoint id"))
    after = results(record(PLAIN, now, {"a": "fail"} if now == "fail" else None, reason="no endpoint id"))
    comparison = compare(before, after)
    assert [(c.before, c.after) for c in only(comparison, "unsupported")] == [(was, now)]
    assert comparison.exit_code == 0


def test_runs_with_different_settings_are_compared_with_a_note():
    comparison = compare(results(profile="vertex"), results(profile="openai"))
    assert comparison.notes == ["the runs differ in profile: 'vertex' -> 'openai'"]
    assert "note: the runs differ in profile: 'vertex' -> 'openai'" in comparison.lines()


def test_the_json_rendering_holds_every_category_counts_and_the_exit_code():
    before = results(record(PLAIN, "pass", {"a": "pass"}), record(STREAM, "fail", {"b": "fail"}))
    after = results(record(PLAIN, "fail", {"a": "fail"}), record(STREAM, "pass", {"b": "pass"}))
    document = json.loads(compare(before, after).to_json())
    assert document["format"] == "vertex-conformance/comparison"
    assert document["version"] == 1
    assert document["exit_code"] == 1
    assert document["counts"]["regressions"] == 1
    assert document["counts"]["fixes"] == 1
    assert document["regressions"] == [
        {
            "nodeid": PLAIN,
            "requirement": "a",
            "before": "pass",
            "after": "fail",
            "evidence": "$.response.a: a broke",
        }
    ]
    assert document["baseline"]["openai"] == "3.57.0"
    assert document["current"]["summary"]["fail"] == 1
    assert set(document) >= {name for name, _ in baseline.CATEGORIES}


# --- the diff command ---------------------------------------------------------------------------


def write(path: Path, document: Results) -> str:
    path.write_text(document.to_json(), encoding="utf-8")
    return str(path)


def test_diff_exits_0_when_clean_and_1_on_a_regression_printing_text_or_json(tmp_path, capsys):
    green = write(tmp_path / "green.json", results(record(PLAIN, "pass", {"a": "pass"})))
    red = write(tmp_path / "red.json", results(record(PLAIN, "fail", {"a": "fail"})))
    assert main(["diff", green, green]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no regression (no changes)"
    assert main(["diff", green, red]) == 1
    out = capsys.readouterr().out
    assert f"  {PLAIN} [a] pass -> fail: $.response.a: a broke" in out.splitlines()
    assert main(["diff", "--json", green, red]) == 1
    assert json.loads(capsys.readouterr().out)["regressions"][0]["requirement"] == "a"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["diff", "{green}"], "the following arguments are required: CURRENT.json"),
        (["diff", "{green}", "{tmp}/absent.json"], "absent.json: cannot read"),
        (["diff", "{tmp}/notes.txt", "{green}"], "notes.txt: not JSON"),
        (["diff", "{green}", "{tmp}/comparison.json"], "format is 'vertex-conformance/comparison'"),
    ],
)
def test_diff_exits_2_with_one_line_for_unreadable_input_or_bad_usage(tmp_path, capsys, argv, fragment):
    green = write(tmp_path / "green.json", results())
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "comparison.json").write_text(compare(results(), results()).to_json(), encoding="utf-8")
    argv = [a.format(green=green, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("vertex-conformance")
    assert fragment in err


# --- real runs ----------------------------------------------------------------------------------


def run_suite(*args: str) -> subprocess.Popen[str]:
    """Start pytest on ``args`` (a path under suites/ first) in a child process, offline, as a user would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=300)
    return process.returncode, out


@pytest.fixture(scope="module")
def green_and_broken(tmp_path_factory):
    """Two full runs at once: the shipped cassettes, and a copy with one answer's total_tokens off by one."""
    tmp = tmp_path_factory.mktemp("gate")
    cassettes = tmp / "cassettes"
    shutil.copytree(CASSETTES / "vertex", cassettes)
    broken = cassettes / "test_plain" / "test_plain_chat[httpx].yaml"
    text = broken.read_text(encoding="utf-8")
    assert text.count("total_tokens: 30\n") == 1
    broken.write_text(text.replace("total_tokens: 30\n", "total_tokens: 31\n"), encoding="utf-8")
    green = run_suite("suites", "--report-dir", str(tmp / "green"))
    red = run_suite("suites", "--cassette-dir", str(cassettes), "--report-dir", str(tmp / "broken"))
    (green_code, green_out), (red_code, red_out) = finish(green), finish(red)
    assert green_code == 0, green_out[-3000:]
    assert red_code == 1, red_out[-3000:]
    return tmp / "green" / "results.json", tmp / "broken" / "results.json"


@pytest.mark.slow
def test_a_run_compared_with_itself_is_clean(green_and_broken, capsys):
    green, _ = green_and_broken
    assert main(["diff", str(green), str(green)]) == 0
    assert "no regression (no changes)" in capsys.readouterr().out


@pytest.mark.slow
def test_one_broken_cassette_is_one_named_regression_in_each_lane_that_replays_it(green_and_broken, capsys):
    green, broken = green_and_broken
    assert main(["diff", str(green), str(broken)]) == 1
    out = capsys.readouterr().out
    comparison = compare(load(green), load(broken))
    changes = only(comparison, "regressions")
    assert sorted(change.nodeid for change in changes) == sorted(REPLAYING_PLAIN)
    for change in changes:
        assert (change.requirement, change.before, change.after) == ("usage.vertex-total", "pass", "fail")
        assert change.evidence.startswith("$.response.usage.total_tokens: ")
        assert "total 31" in change.evidence
        assert f"  {change.line()}" in out.splitlines()


@pytest.mark.slow
def test_the_baseline_option_compares_at_the_end_and_fails_a_run_that_lost_a_test(tmp_path):
    """Every test of the run passes, but one that held in the baseline is gone: exit 1. A test the
    run deselected is not compared (the same run with --deselect exits 0)."""
    code, out = finish(run_suite("suites/test_plain.py", "--report-dir", str(tmp_path / "first")))
    assert code == 0, out[-2000:]
    first = tmp_path / "first" / "results.json"
    document = json.loads(first.read_text(encoding="utf-8"))
    gone = {**document["tests"][0], "nodeid": "suites/test_plain.py::test_plain_chat[gone]"}
    document["tests"].append(gone)  # a test the same selection once yielded, and no longer does
    first.write_text(json.dumps(document), encoding="utf-8")
    code, out = finish(
        run_suite("suites/test_plain.py", "--report-dir", str(tmp_path / "second"), "--baseline", str(first))
    )
    assert code == 1, out[-2000:]
    assert "5 passed, 1 xfailed" in out  # LangChain's body is a known deviation
    assert f"  {gone['nodeid']} (test) pass -> missing: not in the current run" in out.splitlines()
    assert "REGRESSION (regressions: 1)" in out
    written = json.loads((tmp_path / "second" / "comparison.json").read_text(encoding="utf-8"))
    assert [(c["nodeid"], c["after"]) for c in written["regressions"]] == [(gone["nodeid"], None)]
    assert written["exit_code"] == 1
    code, out = finish(
        run_suite(
            "suites/test_plain.py",
            "--deselect",
            PLAIN,
            "--report-dir",
            str(tmp_path / "third"),
            "--baseline",
            str(first),
        )
    )
    written = json.loads((tmp_path / "third" / "comparison.json").read_text(encoding="utf-8"))
    assert [c["nodeid"] for c in written["not_compared"]] == [PLAIN]
    assert [c["nodeid"] for c in written["regressions"]] == [gone["nodeid"]]


@pytest.mark.slow
def test_the_baseline_option_accepts_the_last_run_in_place_and_a_same_run_exits_0(tmp_path):
    """``--baseline reports/results.json`` compares with the previous run, read before it is replaced."""
    reports = tmp_path / "reports"
    code, out = finish(run_suite("suites/test_plain.py", "--report-dir", str(reports)))
    assert code == 0, out[-2000:]
    before = (reports / "results.json").read_text(encoding="utf-8")
    code, out = finish(
        run_suite(
            "suites/test_plain.py", "--report-dir", str(reports), "--baseline", str(reports / "results.json")
        )
    )
    assert code == 0, out[-2000:]
    assert "no regression (no changes)" in out
    comparison = json.loads((reports / "comparison.json").read_text(encoding="utf-8"))
    assert comparison["exit_code"] == 0
    assert comparison["baseline"]["generated_at"] == json.loads(before)["generated_at"]
    assert sum(comparison["counts"].values()) == 0


@pytest.mark.slow
def test_an_unreadable_baseline_stops_the_run_before_any_test_with_one_line(tmp_path):
    (tmp_path / "old.json").write_text('{"format": "something-else"}', encoding="utf-8")
    code, out = finish(
        run_suite("suites", "--report-dir", str(tmp_path / "r"), "--baseline", str(tmp_path / "old.json"))
    )
    assert code == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines == [
        f"ERROR: vertex-conformance: --baseline: {tmp_path / 'old.json'}: format is 'something-else', "
        "expected 'vertex-conformance/results' (a results.json)"
    ]
    assert not (tmp_path / "r").exists()


# --- like with like: the current run's selection -------------------------------------------------

PROBE = "suites/test_probes.py::test_probe_n_greater_than_one[httpx]"


def test_a_baseline_test_the_current_selection_deselected_is_not_compared_not_missing():
    current = dataclasses.replace(
        results(record(PLAIN, "pass")), selection=Selection(("suites",), deselected=(PROBE,))
    )
    comparison = compare(results(record(PLAIN, "pass"), record(PROBE, "known-deviation")), current)
    [change] = only(comparison, "not_compared")
    assert (change.nodeid, change.evidence) == (PROBE, "outside the current run's selection")
    assert comparison.exit_code == 0


def test_a_baseline_test_under_another_path_is_not_compared():
    current = dataclasses.replace(
        results(record(PLAIN, "pass")), selection=Selection(("suites/test_plain.py",))
    )
    comparison = compare(results(record(PLAIN, "pass"), record(STREAM, "pass")), current)
    assert [c.nodeid for c in only(comparison, "not_compared")] == [STREAM]


def test_a_test_the_same_selection_no_longer_yields_is_still_a_regression():
    current = dataclasses.replace(results(record(PLAIN, "pass")), selection=Selection(("suites",)))
    comparison = compare(results(record(PLAIN, "pass"), record(STREAM, "pass")), current)
    [change] = only(comparison, "regressions")
    assert (change.nodeid, change.after) == (STREAM, None)
    assert comparison.exit_code == 1


def test_a_test_an_interrupted_run_never_reached_is_not_compared_with_the_reason():
    current = dataclasses.replace(
        results(record(PLAIN, "pass")),
        selection=Selection(("suites",)),
        incomplete=Incomplete("stopped by SIGTERM", (STREAM,)),
    )
    comparison = compare(results(record(PLAIN, "pass"), record(STREAM, "pass")), current)
    [change] = only(comparison, "not_compared")
    assert change.evidence == "not run: stopped by SIGTERM"


def test_selection_covers_paths_by_whole_segments():
    selection = Selection(("suites/test_plain.py", "suites/probes"))
    assert selection.covers(PLAIN)
    assert not selection.covers("suites/test_plain_more.py::t")
    assert selection.covers("suites/probes/test_x.py::t")
    assert not selection.covers("suites/probes2/test_x.py::t")


# --- the gate as a release manager meets it -----------------------------------------------------


def gate(tmp_path: Path, baseline_file: Path, *args: str) -> tuple[int, str, Path]:
    """A gate-tier run (``-m gate``, as ``make gate`` runs it) against ``baseline_file``."""
    reports = tmp_path / "gate"
    code, out = finish(
        run_suite(
            "suites", "-m", "gate", "--baseline", str(baseline_file), "--report-dir", str(reports), *args
        )
    )
    return code, out, reports


def last_line(out: str) -> str:
    return [line for line in out.splitlines() if line.strip()][-1]


@pytest.mark.slow
def test_a_failed_gate_says_so_last_on_the_console_and_first_on_the_page(green_and_broken, tmp_path):
    green, _ = green_and_broken
    code, out, reports = gate(tmp_path, green, "--cassette-dir", str(green.parent.parent / "cassettes"))
    assert code == 1, out[-2000:]
    regressions = len(REPLAYING_PLAIN)
    assert last_line(out).startswith(f"vertex-conformance: GATE FAILED: {regressions} regressions; report: ")
    page = (reports / "index.html").read_text()
    body = page[page.index("<body>") :]
    assert body.index(f"GATE FAILED: {regressions} regressions") < body.index("<header>")
    assert PLAIN in body[: body.index("<header>")]
    comparison = json.loads((reports / "comparison.json").read_text())
    assert comparison["counts"]["regressions"] == regressions
    assert comparison["counts"]["not_compared"] == 5 * len(SUITE_LANES)  # the probes: -m gate deselected them


@pytest.mark.slow
def test_a_gate_run_compared_with_a_full_baseline_counts_no_deselected_probe_as_missing(
    green_and_broken, tmp_path
):
    green, _ = green_and_broken
    code, out, reports = gate(tmp_path, green)
    assert code == 0, out[-2000:]
    assert last_line(out).startswith("vertex-conformance: GATE PASSED: no regression; report: ")
    comparison = json.loads((reports / "comparison.json").read_text())
    assert comparison["regressions"] == []
    assert {c["nodeid"].split("::")[0] for c in comparison["not_compared"]} == {"suites/test_probes.py"}


@pytest.mark.slow
def test_the_readme_recipe_make_baseline_then_make_gate_works_as_pasted(tmp_path):
    """``make baseline`` and ``make gate BASELINE=…`` as the README shows them (into a temporary
    folder, so the checkout's baseline/ is left alone)."""
    make = ["make", "--no-print-directory", "-C", str(ROOT)]
    made = subprocess.run(
        [*make, "baseline", f"BASELINE_DIR={tmp_path / 'b'}"], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    gated = subprocess.run(
        [*make, "gate", f"BASELINE={tmp_path / 'b' / 'results.json'}", f"ARGS=--report-dir {tmp_path / 'g'}"],
        capture_output=True,
        text=True,
    )
    assert gated.returncode == 0, gated.stdout[-2000:] + gated.stderr[-2000:]
    assert last_line(gated.stdout).startswith("vertex-conformance: GATE PASSED: no regression")


def test_a_requirement_that_goes_from_held_to_nothing_to_evaluate_or_back_is_neither_loss_nor_fix():
    before = results(record(PLAIN, "pass", {"tools.args-json": "pass"}))
    now = results(record(PLAIN, "pass", {"tools.args-json": "not-applicable"}))
    [change] = only(compare(before, now), "other")
    assert (change.requirement, change.before, change.after) == ("tools.args-json", "pass", "not-applicable")
    [back] = only(compare(now, before), "other")
    assert back.after == "pass"
    broken = results(record(PLAIN, "fail", {"tools.args-json": "fail"}))
    assert [c.requirement for c in only(compare(now, broken), "regressions")] == ["tools.args-json"]


def test_a_selection_by_node_id_covers_that_test_and_its_parametrizations_only():
    selection = Selection(("suites/test_plain.py::test_plain_chat",))
    assert selection.covers(PLAIN)
    assert not selection.covers("suites/test_plain.py::test_plain_chat_more[httpx]")
    assert not selection.covers("suites/test_plain.py::test_other[httpx]")
    assert Selection((PLAIN,)).covers(PLAIN)
