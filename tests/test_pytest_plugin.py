"""The plugin is the installed package's pytest plugin (a ``pytest11`` entry point): its options work
wherever pytest starts, every conformance run names the SDK under test, and other runs stay pytest's.

Each run is a pytest process, as a user starts it: the entry point only shows in a fresh one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from vertex_conformance.lanes import http_library
from vertex_conformance.paths import ROOT, SUITES
from vertex_conformance.vocabulary import SUITE_LANES

pytestmark = pytest.mark.slow  # every test here starts pytest in a subprocess


def pytest_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("VERTEX_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_header_names_the_sdk_its_http_library_and_the_run(tmp_path):
    done = pytest_in(tmp_path, str(SUITES), "-k", "plain_chat", "--co", "--report-dir", str(tmp_path))
    lines = done.stdout.splitlines()
    header = next((line for line in lines if line.startswith("vertex-conformance: openai")), "")
    assert f"openai SDK {openai.__version__} on {http_library()}" in header, done.stdout[-3000:]
    assert "mode replay, target gemini, profile vertex" in header


def test_baseline_works_when_pytest_starts_outside_the_checkout(tmp_path):
    first = pytest_in(tmp_path, str(SUITES), "-k", "plain_chat", "--report-dir", str(tmp_path / "first"))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    second = pytest_in(
        tmp_path,
        str(SUITES),
        "-k",
        "plain_chat",
        "--report-dir",
        str(tmp_path / "second"),
        "--baseline",
        str(tmp_path / "first" / "results.json"),
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert "unrecognized arguments" not in second.stderr
    assert (tmp_path / "second" / "comparison.json").is_file()
    # replayed from the suite's cassettes: its fixtures won
    assert re.search(r"5 passed, \d+ deselected, 1 xfailed", second.stdout)


def test_a_run_elsewhere_is_pytests_own(tmp_path):
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert 1 + 1 == 2\n")
    done = pytest_in(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout
    assert not any(line.startswith("vertex-conformance:") for line in done.stdout.splitlines())
    assert "warnings summary" not in done.stdout
    assert not (tmp_path / "reports").exists()


def test_the_benchmarks_bare_baselines_leave_the_plugin_out(tmp_path, monkeypatch):
    """benchmarks/run.py compares the suite with empty runs of pytest: loaded everywhere by its entry
    point, the plugin would put its imports into them. Its option is unknown there, so they lack it."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import run as bench

    for name in ("empty", "sdk_floor"):
        directory = bench._empty_tests(tmp_path / name, 1, bench.BASELINES[name])
        args = bench._baseline_args(directory, bench.BASELINES[name], str(tmp_path / "reports"))
        done = bench.run_pytest([*args, "--report-dir", str(tmp_path / "reports")], directory)
        assert "unrecognized arguments: --report-dir" in done.stderr, done.stdout[-2000:]


def test_a_run_started_inside_suites_with_a_relative_path_is_a_conformance_run(tmp_path):
    done = pytest_in(SUITES, "test_plain.py", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 passed, 1 xfailed" in done.stdout
    ran = {t["nodeid"] for t in json.loads((tmp_path / "results.json").read_text())["tests"]}
    assert ran == {f"suites/test_plain.py::test_plain_chat[{lane}]" for lane in SUITE_LANES}


def test_another_pytest_run_in_the_same_environment_does_not_import_the_sdk(tmp_path):
    (tmp_path / "test_other.py").write_text(
        "import sys\n\ndef test_no_sdk():\n    assert not {'openai', 'vcr', 'httpx'} & set(sys.modules)\n"
    )
    done = pytest_in(tmp_path, "test_other.py")
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_run_that_only_collects_writes_no_report_and_passes(tmp_path):
    done = pytest_in(SUITES, "--collect-only", "-q", "--report-dir", str(tmp_path / "reports"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "tests collected" in done.stdout
    assert not (tmp_path / "reports").exists()
    assert "RUN INCOMPLETE" not in done.stdout
