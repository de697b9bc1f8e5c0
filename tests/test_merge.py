"""Shards of one run merge into the report of the run; anything else is refused."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from result_documents import results

from vertex_conformance.cli import main
from vertex_conformance.merge import ShardMismatch, merge
from vertex_conformance.paths import ROOT
from vertex_conformance.results import Incomplete, Selection, load
from vertex_conformance.vocabulary import SUITE_LANES

PLAIN = "suites/test_plain.py::test_plain_chat[httpx]"
STREAM = "suites/test_streaming.py::test_streaming_chat[sdk]"


def shard(*nodeids: str, deselected: tuple[str, ...] = (), **run: object):
    records = [{"nodeid": n, "outcome": "pass"} for n in nodeids]
    return dataclasses.replace(results(*records, **run), selection=Selection(("suites",), deselected))


def test_two_shards_merge_into_one_run_deselecting_only_what_neither_ran():
    merged = merge(
        [("a", shard(PLAIN, deselected=(STREAM, "x"))), ("b", shard(STREAM, deselected=(PLAIN, "x")))]
    )
    assert [t.nodeid for t in merged.tests] == [PLAIN, STREAM]
    assert merged.selection == Selection(("suites",), ("x",))
    assert merged.incomplete is None


def test_a_test_one_shard_never_reached_stays_incomplete_unless_another_ran_it():
    stopped = dataclasses.replace(shard(PLAIN), incomplete=Incomplete("stopped by SIGTERM", (STREAM, "y")))
    merged = merge([("a", stopped), ("b", shard(STREAM))])
    assert merged.incomplete == Incomplete("stopped by SIGTERM", ("y",))


@pytest.mark.parametrize(
    ("other", "says"),
    [
        (shard(STREAM, profile="openai"), "b was run with profile 'openai', a with"),
        (dataclasses.replace(shard(STREAM), versions={"openai": "2.8.0"}), "different versions of"),
        (shard(PLAIN), re.escape(f"{PLAIN} is in a and in b: the split overlaps")),
        (dataclasses.replace(shard(STREAM), selection=Selection(("suites/test_plain.py",))), "b was given"),
    ],
)
def test_reports_that_are_not_shards_of_one_run_are_refused_naming_why(other, says):
    with pytest.raises(ShardMismatch, match=says):
        merge([("a", shard(PLAIN)), ("b", other)])


def test_shards_may_differ_where_they_wrote_their_reports():
    merged = merge([("a", shard(PLAIN, report_dir="r1")), ("b", shard(STREAM, report_dir="r2"))])
    assert len(merged.tests) == 2


def run(*args: str) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]


def comparable(path: Path) -> list[tuple[str, str, dict]]:
    return [(t.nodeid, t.outcome, t.requirements) for t in load(path).tests]


@pytest.mark.slow
def test_two_pytest_split_shards_merged_equal_the_unsharded_run(tmp_path):
    run("--report-dir", str(tmp_path / "whole"))
    for group in ("1", "2"):
        run("--splits", "2", "--group", group, "--report-dir", str(tmp_path / f"shard{group}"))
    merged = merge([(name, load(tmp_path / name / "results.json")) for name in ("shard1", "shard2")])
    whole = load(tmp_path / "whole" / "results.json")
    assert sorted((t.nodeid, t.outcome, t.requirements) for t in merged.tests) == comparable(
        tmp_path / "whole" / "results.json"
    )
    assert merged.summary == whole.summary
    assert merged.selection == whole.selection and merged.incomplete is None
    assert json.loads(json.dumps(merged.to_dict()))["summary"]["total"] == len(whole.tests) > 100


@pytest.mark.slow
def test_the_merge_command_writes_one_report_junit_and_page_and_refuses_mismatched_shards(tmp_path):
    for group in ("1", "2"):
        run(
            "--splits",
            "2",
            "--group",
            group,
            "-k",
            "plain_chat or streaming_chat",
            "--report-dir",
            str(tmp_path / group),
        )
    shards = [str(tmp_path / group / "results.json") for group in ("1", "2")]
    assert main(["merge", *shards, "-o", str(tmp_path / "all")]) == 0
    merged = load(tmp_path / "all" / "results.json")
    count = 2 * len(SUITE_LANES)  # two forms in every lane
    assert len(merged.tests) == count and (tmp_path / "all" / "index.html").is_file()
    junit = (tmp_path / "all" / "junit.xml").read_text()
    assert junit.count("<testcase ") == count and f'tests="{count}"' in junit
    assert main(["merge", shards[0], shards[0], "-o", str(tmp_path / "twice")]) == 2
    assert main(["durations", shards[0], "-o", str(tmp_path / "durations.json")]) == 0
    durations = json.loads((tmp_path / "durations.json").read_text())
    assert set(durations) == {t.nodeid for t in load(tmp_path / "1" / "results.json").tests}


def collected(*args: str) -> list[str]:
    """The node ids a shard of the suite would run (``--collect-only``), in order."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-q", "--collect-only", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_shards_are_deterministic_and_balanced_by_an_earlier_reports_durations(tmp_path):
    """The same split twice is the same tests; the shards cover the run once; and with durations where
    a few tests are slow (a live run's thinking forms, say), no shard's sum of durations passes the
    ideal half by more than the longest single test (pytest-split's duration-based chunks)."""
    every = collected()
    slow = {nodeid: 30.0 for nodeid in every if "thinking" in nodeid or "function_call" in nodeid}
    timings = {nodeid: slow.get(nodeid, 1.0) for nodeid in every}
    path = tmp_path / "durations.json"
    path.write_text(json.dumps(timings), encoding="utf-8")
    split = ("--splits", "2", "--durations-path", str(path))
    first, second = (collected(*split, "--group", group) for group in ("1", "2"))
    assert collected(*split, "--group", "1") == first  # deterministic
    assert sorted(first + second) == sorted(every) and not set(first) & set(second)
    sums = [sum(timings[nodeid] for nodeid in shard) for shard in (first, second)]
    assert max(sums) <= sum(sums) / 2 + max(timings.values())
