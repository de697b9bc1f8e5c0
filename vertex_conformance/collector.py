"""Outcomes and reports: every test's record travels with its pytest report (so xdist workers
hand it to the controller), and the controller writes results.json, index.html and, with
``--baseline``, the comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import baseline, lanes, matrix, report, stash
from .config import RunConfig
from .outcomes import Outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Ship the test's record with its report, so the controller gets it under xdist too."""
    rep = yield
    record = item.stash.get(stash.RESULT, None)
    if record is not None and (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
        rep.user_properties.append((stash.RECORD_KEY, json.dumps(record)))
    return rep


class ResultCollector:
    """Collects every test's record (in the controller process) and writes results.json at the end."""

    def __init__(self, config: pytest.Config, cfg: RunConfig, tokens: Any) -> None:
        self.config, self.cfg, self.tokens = config, cfg, tokens
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and not report.failed:
            return
        record = next((json.loads(v) for k, v in report.user_properties if k == stash.RECORD_KEY), None)
        current = self.tests.get(report.nodeid)
        if record is None:
            if current is not None and not report.failed:
                return
            record = current or {"nodeid": report.nodeid, "form": None}
        outcome = record.get("outcome")
        if report.skipped and not hasattr(report, "wasxfail"):  # an xfail is a judged known deviation
            outcome = Outcome.UNSUPPORTED.value
            record.setdefault(
                "reason", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
            )
        elif report.failed and outcome in (None, Outcome.PASS.value):
            outcome = Outcome.ERROR.value
            record["error"] = (
                report.longreprtext.strip().splitlines()[-1][:500] if report.longreprtext else ""
            )
        elif report.passed and report.when == "call" and outcome is None:
            outcome = Outcome.ERROR.value
            record["error"] = "the test verified nothing"
        if outcome is not None:
            record["outcome"] = outcome
            record["duration_s"] = round(report.duration, 4)
            self.tests[report.nodeid] = record

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller writes the report
        document = report.build(
            self.cfg.describe(), report.versions(lanes.http_library()), list(self.tests.values())
        )
        directory, path = Path(self.cfg.report_dir), self.config.getoption("baseline")
        comparison, lines = None, []
        if path:  # read before results.json is written: the baseline may be the last run's, in place
            try:
                comparison = baseline.compare(baseline.load(Path(path)), document)
            except baseline.UnreadableResults as exc:  # readable at the start, gone or changed since
                lines = [f"vertex-conformance: --baseline: {exc}"]
        report.write(directory / "results.json", document)
        matrix.write(directory / "index.html", document)
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
            counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
        line = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"vertex-conformance: {line or 'no conformance tests'}; "
            f"report: {Path(self.cfg.report_dir) / 'results.json'}"
        )
