"""A run always ends with its reports and a clear exit status, however it ends.

Live runs against the sample server on 127.0.0.1 (slowed down where a run must be caught midway):
stopped by SIGTERM, as a cancelled CI job or ``timeout`` stops it, and stopped by the token
budget. Each must leave results.json and the page, marked incomplete with the tests that never
ran, and exit 2 (pytest's "interrupted"), never 3 (an internal error) and never 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tools.sample_server import create_app
from vertex_conformance.loopback import serve
from vertex_conformance.paths import ROOT
from vertex_conformance.vocabulary import SUITE_LANES

pytestmark = pytest.mark.slow  # every test here runs the suite in a pytest subprocess
INTERRUPTED = 2


class Slowed:
    """The sample server, answering each request ``delay`` seconds late and counting what it got."""

    def __init__(self, delay: float) -> None:
        self.app, self.delay, self.requests = create_app(), delay, 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def start_suite(reports: Path, base_url: str, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    environment["VERTEX_ACCESS_TOKEN"] = "run-endings-test-token"
    command = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q"]
    options = [
        "--mode",
        "live",
        "--project",
        "ending-proj",
        "--base-url",
        base_url,
        "--report-dir",
        str(reports),
    ]
    return subprocess.Popen(
        [*command, *options, *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def incomplete_report(reports: Path) -> dict[str, Any]:
    document = json.loads((reports / "results.json").read_text())
    assert (reports / "index.html").is_file()
    assert "incomplete" in document, "the report does not say the run is incomplete"
    return document


def test_sigterm_midway_leaves_an_incomplete_report_naming_the_tests_not_run(tmp_path):
    server = Slowed(delay=0.3)
    with serve(server) as base_url:
        run = start_suite(tmp_path, base_url, "-k", "plain_chat or streaming_chat")
        deadline = time.monotonic() + 60
        while server.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
    assert run.returncode == INTERRUPTED, out[-2000:]
    document = incomplete_report(tmp_path)
    assert document["incomplete"]["reason"] == "stopped by SIGTERM"
    ran = {t["nodeid"] for t in document["tests"]}
    assert document["incomplete"]["not_run"], "some tests must be left"
    assert not ran & set(document["incomplete"]["not_run"])
    assert "RUN INCOMPLETE" in out.splitlines()[-1]
    assert "Traceback" not in out


def test_the_token_budget_ends_the_run_as_interrupted_with_its_reports(tmp_path):
    with serve(create_app()) as base_url:
        run = start_suite(tmp_path, base_url, "-k", "plain_chat", "--max-total-tokens", "1")
        out, _ = run.communicate(timeout=120)
    assert run.returncode == INTERRUPTED, out[-2000:]
    document = incomplete_report(tmp_path)
    assert "token budget" in document["incomplete"]["reason"]
    assert document["incomplete"]["not_run"]
    # a test the budget stopped is not run, not "unsupported" (which says the target lacks the form)
    assert [t["outcome"] for t in document["tests"]] == ["pass"]
    assert len(document["incomplete"]["not_run"]) == len(SUITE_LANES) - 1
    assert "RUN INCOMPLETE" in out.splitlines()[-1]


def test_under_xdist_the_report_names_why_a_worker_stopped_the_run(tmp_path):
    with serve(create_app()) as base_url:
        run = start_suite(
            tmp_path, base_url, "-k", "plain_chat or streaming_chat", "--max-total-tokens", "1", "-n", "2"
        )
        out, _ = run.communicate(timeout=180)
    assert run.returncode == INTERRUPTED, out[-2000:]
    assert "token budget" in incomplete_report(tmp_path)["incomplete"]["reason"]
