"""Rules every self-test follows.

A self-test that starts a process must be marked ``slow``: ``make test-fast`` leaves those out.

A process costs a fresh interpreter and its imports, from a tenth of a second to many seconds, and
such tests were three quarters of ``make test``. An unmarked one fails here with the fix in its
message, instead of quietly slowing down the quick loop.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from result_documents import secrets_in_reports, unreadable_reports

UNMARKED = "this test starts a process: mark it @pytest.mark.slow (make test-fast leaves those out)"


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError(UNMARKED)


@pytest.fixture(autouse=True)
def processes_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way of starting a process in the standard library (``subprocess.run``, ``Popen``,
    ``asyncio``'s subprocesses) ends in ``Popen._execute_child``; outside slow tests it refuses."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse)


@pytest.fixture(autouse=True)
def reports_follow_the_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every ``results.json`` a test leaves under its ``tmp_path`` (a run it started, a document it
    wrote for a command to read) must be one ``results.load`` accepts: the self-tests then check
    every report they make against ``schemas/results.schema.json``, not only the ones they inspect."""
    yield
    tmp_path = (request.node.funcargs or {}).get("tmp_path")
    problems = unreadable_reports(Path(tmp_path)) if tmp_path is not None else []
    if problems:
        pytest.fail(
            "a report this test wrote does not follow the schema: " + "; ".join(problems), pytrace=False
        )


@pytest.fixture(autouse=True)
def reports_hold_no_secret(request: pytest.FixtureRequest) -> Iterator[None]:
    """The secret scan of ``make test`` covers ``fixtures/`` and ``reports/``; the reports the
    self-tests' runs write (fault servers, echo servers, live and record runs) go to ``tmp_path``,
    so every one of them is scanned here with the same rules."""
    yield
    tmp_path = (request.node.funcargs or {}).get("tmp_path")
    hits = secrets_in_reports(Path(tmp_path)) if tmp_path is not None else []
    if hits:
        pytest.fail("a report this test's run wrote holds a secret: " + "; ".join(hits), pytrace=False)

