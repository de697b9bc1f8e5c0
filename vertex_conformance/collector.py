"""Outcomes and reports: every test's record travels with its pytest report (so xdist workers
hand it to the controller), and the controller writes results.json, index.html and, with
``--baseline``, the comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from . import baseline, lanes, matrix, report, stash
from . import results as results_file
from .config import RunConfig
from .results import Results, TestRecord, UnreadableResults
from .vocabulary import Outcome

_ERROR_CHARS = 500  # of pytest's last line, for a test that broke outside the judge


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Ship the test's record with its report, so the controller gets it under xdist too."""
    rep = yield
    draft = item.stash.get(stash.RESULT, None)
    if draft is not None and (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
        rep.user_properties.append((stash.RECORD_KEY, orjson.dumps(draft.to_dict()).decode()))
    return rep


def record_of(report: pytest.TestReport, draft: dict[str, Any]) -> TestRecord:
    """The typed record of a test from what it left (``draft``: its record, or only its facts when it
    ended outside the judge) and how pytest saw it end. A skip is unsupported; a failure with no
    judged outcome is an error; a test that passed without a verdict verified nothing: an error."""
    outcome, extra = draft.get("outcome"), {}
    if report.skipped and not hasattr(report, "wasxfail"):  # an xfail is a judged known deviation
        outcome = Outcome.UNSUPPORTED
        if not draft.get("reason"):
            extra["reason"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    elif report.failed and outcome in (None, Outcome.PASS):
        outcome = Outcome.ERROR
        lines = report.longreprtext.strip().splitlines() if report.longreprtext else [""]
        extra["error"] = lines[-1][:_ERROR_CHARS]
    elif outcome is None:
        outcome = Outcome.ERROR
        extra["error"] = "the test verified nothing"
    data = {**draft, **extra, "outcome": outcome, "duration_s": round(report.duration, 4)}
    return TestRecord.from_dict(data)


class ResultCollector:
    """Collects every test's record (in the controller process) and writes results.json at the end."""

    def __init__(self, config: pytest.Config, cfg: RunConfig, tokens: Any) -> None:
        self.config, self.cfg, self.tokens = config, cfg, tokens
        self.tests: dict[str, TestRecord] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and not report.failed:
            return
        draft = next((orjson.loads(v) for k, v in report.user_properties if k == stash.RECORD_KEY), None)
        current = self.tests.get(report.nodeid)
        if draft is None:
            if (current is not None or report.when == "setup") and report.passed:
                return
            draft = current.to_dict() if current else {"nodeid": report.nodeid}
        self.tests[report.nodeid] = record_of(report, draft)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller writes the report
        results = Results(
            run=self.cfg.describe(),
            versions=report.versions(lanes.http_library()),
            tests=tuple(self.tests.values()),
        )
        directory, path = Path(self.cfg.report_dir), self.cfg.baseline
        comparison, lines = None, []
        if path:  # read before results.json is written: the baseline may be the last run's, in place
            try:
                comparison = baseline.compare(results_file.load(path), results)
            except UnreadableResults as exc:  # readable at the start, gone or changed since
                lines = [f"vertex-conformance: --baseline: {exc}"]
        report.write(directory / "results.json", results.to_dict())
        matrix.write(directory / "index.html", results)
        if not path:
            return
        if comparison is not None:
            report.write(directory / "comparison.json", comparison.to_dict())
            lines = [*comparison.lines(), f"comparison: {directory / 'comparison.json'}"]
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write("\n")  # the progress line may still be open (-q)
            terminal.write_sep("-", f"comparison with the baseline {path}")
            for line in lines:
                terminal.write_line(line)
        if (comparison is None or comparison.exit_code) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        counts: dict[str, int] = {}
        for record in self.tests.values():
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        line = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"vertex-conformance: {line or 'no conformance tests'}; "
            f"report: {Path(self.cfg.report_dir) / 'results.json'}"
        )
