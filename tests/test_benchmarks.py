"""benchmarks/run.py: its cheap parts run, and its baselines are pytest runs that work.

The figures themselves are not asserted (they are timings on a shared machine); what is checked
is that the script still measures what docs/detection.md says it measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vertex_conformance.paths import ROOT

SCRIPT = ROOT / "benchmarks" / "run.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """The script as a module (it imports peers.py beside it, as it does when run)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import run

    return run


@pytest.mark.slow
def test_throughput_runs_every_stage_on_a_small_stream_and_prints_json():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "throughput", "--chunks", "300", "--repeats", "1", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)["throughput"]
    assert figures["chunks"] == 300
    assert set(figures["ratio_to_json_loads"]) == {
        "json.loads",
        "json.loads, GC paused",
        "SSE framing",
        "schema validation",
        "stream assembly",
        "evaluate()",
    }
    assert all(rate > 0 for rate in figures["objects_per_second"].values())


def test_the_generated_stream_conforms_so_evaluate_runs_every_check(bench):
    payloads, text = bench.generated_stream(50)
    assert len(payloads) == 50 and text.endswith("data: [DONE]\n\n")
    bench.throughput(50, 1)  # raises if the generated stream failed a check


@pytest.mark.slow
@pytest.mark.parametrize("name", ["empty", "sdk_floor", "plugin"])
def test_each_baseline_is_a_pytest_run_of_that_many_passing_tests(bench, tmp_path: Path, name: str):
    directory = bench._empty_tests(tmp_path / name, 3, bench.BASELINES[name])
    args = bench._baseline_args(directory, bench.BASELINES[name], str(tmp_path / "reports"))
    done = bench.run_pytest(args, directory)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "3 passed" in done.stdout


def test_the_report_prints_the_suite_ratio_and_every_baseline(bench):
    baselines = {
        name: {"seconds": 1.0, "ratio_to_empty": 2.0, "suite_ratio": 3.0} for name in bench.BASELINES
    }
    suite = {"tests": 9, "suite_seconds": 3.0, "empty_seconds": 0.5, "ratio": 6.0, "baselines": baselines}
    text = bench.report({"machine": {}, "suite": suite})
    assert "ratio 6.0" in text
    assert all(name in text for name in bench.BASELINES)


def test_the_report_prints_the_detection_counts_and_the_peer_table(bench):
    tally = {"total": 10, "targeted": 9, "caught": 10, "schema_only": 4, "closure_only": 1}
    table = {
        "catalogue": {
            "suite, targeted": {"caught": 9, "total": 10},
            "openai-client": {"caught": 2, "total": 10},
        }
    }
    peers = {
        "catalogue": tally,
        "out_of_catalogue": tally,
        "mutants": 30,
        "faults": 3,
        "rewrites": 5,
        "false_alarms": 0,
        "table": table,
    }
    text = bench.report({"machine": {}, "peers": peers})
    assert "catalogue: 10 distinct; targeted 9 (90.0%), any 10 (100.0%)" in text
    assert "closure only 1 (10.0%)" in text and "0 false alarms in 5 rewrites" in text
    assert "2/10  20.0%" in text
