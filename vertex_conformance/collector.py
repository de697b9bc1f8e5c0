"""Outcomes and reports: every test's record travels with its pytest report (so xdist workers
hand it to the controller), and the controller writes results.json, index.html and, with
``--baseline``, the comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from . import baseline, expectations, lanes, matrix, pace, stash, versions
from . import results as results_file
from .atomic import write_text
from .config import RunConfig
from .grouping import by_requirement
from .paths import shown
from .results import Incomplete, Results, Selection, TestRecord, UnreadableResults
from .scrub import Scrubber
from .vocabulary import Outcome

_ERROR_CHARS = 500  # of pytest's last line, for a test that broke outside the judge
_GROUPS_SHOWN, _CAUSES_SHOWN = 10, 3  # what the console lists; results.json and the page hold every cause


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Ship the test's record with its report, so the controller gets it under xdist too; and pass
    the whole report through the run's scrubber first. Every artefact (results.json, the page, the
    comparison, junit.xml, the console) is made from these reports, so this is the one place a
    secret an answer echoed, or an exception quoted, is taken out."""
    rep = yield
    scrubber = item.config.stash.get(stash.SCRUBBER, None)
    if scrubber is None:  # not a conformance run
        return rep
    draft = item.stash.get(stash.RESULT, None)
    if draft is not None and draft.not_run and rep.when == "call":
        rep.user_properties.append((stash.NOT_RUN_KEY, "1"))
    elif draft is not None and (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
        rep.user_properties.append((stash.RECORD_KEY, scrubber.scrub(orjson.dumps(draft.to_dict()).decode())))
    if draft is not None and draft.record is not None and rep.when == "teardown":
        # junit.xml writes the properties of a test's last report: there, the requirements that had
        # nothing to evaluate, so a CI's test view shows them too
        verdicts = draft.record.requirements or {}
        idle = [rid for rid, verdict in verdicts.items() if verdict is Outcome.NOT_APPLICABLE]
        if idle:
            rep.user_properties.append((Outcome.NOT_APPLICABLE.value, " ".join(idle)))
    _scrub_report(rep, scrubber)
    return rep


def _scrub_report(rep: pytest.TestReport, scrubber: Scrubber) -> None:
    """The failure text (a traceback may quote a request, headers and all) and captured output."""
    if isinstance(rep.longrepr, tuple):  # a skip: (path, line, reason)
        path, line, reason = rep.longrepr
        rep.longrepr = (path, line, scrubber.scrub(reason))
    elif rep.longrepr is not None and scrubber.finds(text := str(rep.longrepr)):
        rep.longrepr = scrubber.scrub(text)
    rep.sections = [(title, scrubber.scrub(content)) for title, content in rep.sections]


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


SELECTION_KEY = "vertex_conformance_selection"  # what an xdist worker tells the controller it collected
STOP_KEY = "vertex_conformance_stop"  # and why it stopped the run early
PACE_KEY = "vertex_conformance_pace"  # and its pace figures (pace.Pace.stats)


class ResultCollector:
    """Collects every test's record (in the controller process) and writes the reports at the end:
    results.json, index.html and, with ``--baseline``, comparison.json. It also knows what the run
    selected, so a run that stopped early says which tests it never ran, and a comparison leaves
    tests outside the selection alone. Its last word on the console is the verdict."""

    def __init__(self, config: pytest.Config, cfg: RunConfig, tokens: Any) -> None:
        self.config, self.cfg, self.tokens = config, cfg, tokens
        self.tests: dict[str, TestRecord] = {}
        self.collected: list[str] = []
        self.deselected: set[str] = set()
        self.stopped: str | None = None  # why the run was stopped from outside (a signal)
        self.verdict: tuple[str, bool] | None = None  # (the last line, whether it is good news)
        self.paces: list[dict[str, Any]] = []  # the workers' pace figures
        self.pace: dict[str, Any] = {}  # the run's, once merged

    # what the run selected (each xdist worker collects; the controller hears it from them)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.update(item.nodeid for item in items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = [item.nodeid for item in session.items]
        if hasattr(self.config, "workerinput"):
            self.config.workeroutput[SELECTION_KEY] = {  # type: ignore[attr-defined]
                "collected": self.collected,
                "deselected": sorted(self.deselected),
            }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {})
        if output.get(STOP_KEY) and self.stopped is None:
            self.stopped = output[STOP_KEY]
        if output.get(PACE_KEY):
            self.paces.append(output[PACE_KEY])
        heard = output.get(SELECTION_KEY)
        if heard:
            self.collected = self.collected or list(heard["collected"])
            self.deselected.update(heard["deselected"])

    def stop(self, reason: str) -> None:
        """Called by the signal handler: the run ends as interrupted, its reports written."""
        self.stopped = reason

    # every test's record

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and not report.failed:
            return
        if any(k == stash.NOT_RUN_KEY for k, _ in report.user_properties):
            return  # no record: the report lists the test under incomplete.not_run
        draft = next((orjson.loads(v) for k, v in report.user_properties if k == stash.RECORD_KEY), None)
        current = self.tests.get(report.nodeid)
        if draft is None:
            if (current is not None or report.when == "setup") and report.passed:
                return
            draft = current.to_dict() if current else {"nodeid": report.nodeid}
        self.tests[report.nodeid] = record_of(report, draft)

    # the reports

    def _selection(self) -> Selection:
        start = Path(self.config.invocation_params.dir)  # pytest reads its arguments from there
        paths = sorted({_argument(start, arg) for arg in self.config.args})
        return Selection(tuple(paths), tuple(sorted(self.deselected)))

    def _incomplete(self, session: pytest.Session) -> Incomplete | None:
        not_run = tuple(nodeid for nodeid in self.collected if nodeid not in self.tests)
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        reason = self.stopped or (str(session.shouldstop) if session.shouldstop else None)
        if reason is None and session.shouldfail:
            reason = f"stopped early: {session.shouldfail}"
        if reason is None and interrupted:
            reason = "interrupted (SIGINT)"
        if not not_run and not interrupted and reason is None:
            return None
        return Incomplete(reason or "ended before every selected test ran", not_run)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:  # a run that only lists its tests leaves the reports alone
            return
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller writes the report,
            if session.shouldstop:  # and must know why a worker stopped the run (the budget, a 401)
                self.config.workeroutput[STOP_KEY] = str(session.shouldstop)  # type: ignore[attr-defined]
            if (registry := pace.current()) is not None:
                self.config.workeroutput[PACE_KEY] = registry.stats()  # type: ignore[attr-defined]
            return
        incomplete = self._incomplete(session)
        records = tuple(self.tests.values())
        listed = self.config.stash.get(stash.EXPECTATIONS, [])
        own = registry.stats() if (registry := pace.current()) is not None else {}
        scrub = self.config.stash[stash.SCRUBBER].scrub  # a target names a self-deployed endpoint's id
        self.pace = orjson.loads(scrub(orjson.dumps(pace.merge([*self.paces, own])).decode()))
        results = Results(
            # the settings pass the scrubber too: a gateway's --base-url may carry a project id
            run=orjson.loads(
                self.config.stash[stash.SCRUBBER].scrub(orjson.dumps(self.cfg.describe()).decode())
            ),
            versions=versions.of(lanes.http_library()),
            tests=records,
            selection=self._selection(),
            incomplete=incomplete,
            stale=tuple(
                {"requirement": e.requirement, **e.to_dict(), "file": shown(self.cfg.expectations)}
                for e in expectations.stale(listed, records)
            ),
            pace=self.pace,
        )
        directory, path = Path(self.cfg.report_dir), self.cfg.baseline
        comparison, problem = None, None
        if path:  # read before results.json is written: the baseline may be the last run's, in place
            try:
                comparison = baseline.compare(results_file.load(path), results)
            except UnreadableResults as exc:  # readable at the start, gone or changed since
                problem = f"vertex-conformance: --baseline: {exc}"
        write_text(directory / "results.json", results.to_json())
        if comparison is not None:
            write_text(directory / "comparison.json", comparison.to_json() + "\n")
        matrix.write(directory / "index.html", results, comparison)
        if self.stopped or (incomplete and session.shouldstop):
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # a signal or the token budget
        gate_failed = path is not None and (comparison is None or bool(comparison.exit_code))
        if gate_failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.verdict = _verdict(results, comparison, problem, directory)
        if path:
            self._print_comparison(path, comparison, problem, directory)

    def _print_comparison(
        self, path: Path, comparison: baseline.Comparison | None, problem: str | None, directory: Path
    ) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return
        lines = (
            [problem]
            if comparison is None
            else [*comparison.lines(), f"comparison: {directory / 'comparison.json'}"]
        )
        terminal.write("\n")  # the progress line may still be open (-q)
        terminal.write_sep("-", f"comparison with the baseline {path}")
        for line in lines:
            terminal.write_line(str(line))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or self.config.option.collectonly:
            return
        counts: dict[str, int] = {}
        for record in self.tests.values():
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        line = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"vertex-conformance: {line or 'no conformance tests'}; "
            f"report: {Path(self.cfg.report_dir) / 'results.json'}"
        )
        groups = by_requirement(self.tests.values())
        if groups:
            terminalreporter.write_line("failures by requirement and cause (most tests first):")
        for group in groups[:_GROUPS_SHOWN]:
            name = f"[{group.requirement}]" if group.requirement else "(ended before a verdict)"
            terminalreporter.write_line(f"  {name} {_tests(group.tests)}, {group.findings} findings")
            for cause in group.causes[:_CAUSES_SHOWN]:
                terminalreporter.write_line(
                    f"    {_tests(cause.tests)}: {cause.example[:160]}  e.g. {cause.examples[0]}"
                )
            if len(group.causes) > _CAUSES_SHOWN:
                terminalreporter.write_line(f"    … {len(group.causes) - _CAUSES_SHOWN} more causes")
        if len(groups) > _GROUPS_SHOWN:
            terminalreporter.write_line(
                f"  … {len(groups) - _GROUPS_SHOWN} more requirements: see results.json"
            )
        listed = self.config.stash.get(stash.EXPECTATIONS, [])
        unused = expectations.stale(listed, self.tests.values())
        if unused:
            where = ", ".join(f"line {e.line} [{e.requirement}]" for e in unused)
            terminalreporter.write_line(
                f"stale expectations in {shown(self.cfg.expectations)} (they excused nothing here): {where}; "
                "`vertex-conformance expectations update` removes them"
            )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The verdict, after pytest's own summary line: what a reader of a CI log sees last, and
        before it how often the target said "too many" (``pace``)."""
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        rate_limits = pace.summary(self.pace)
        if rate_limits and terminal is not None:
            terminal.write_line(f"vertex-conformance: {rate_limits} (per target: results.json, pace)")
        if self.verdict is None or terminal is None:
            return
        line, good = self.verdict
        terminal.write_line(line, green=good, red=not good, bold=True)


def _verdict(
    results: Results, comparison: baseline.Comparison | None, problem: str | None, directory: Path
) -> tuple[str, bool] | None:
    """The run's last line, when there is more to say than pytest's count: the gate's verdict with a
    baseline, and a run that did not run every selected test."""
    where = f"report: {directory / 'index.html'}"
    parts: list[str] = []
    good = True
    if problem is not None:
        parts.append("GATE FAILED: the baseline could not be read")
        good = False
    elif comparison is not None:
        regressions = len(comparison.regressions)
        if regressions:
            parts.append(f"GATE FAILED: {regressions} regression{'s' if regressions != 1 else ''}")
            good = False
        else:
            parts.append("GATE PASSED: no regression")
    if results.incomplete is not None:
        count = len(results.incomplete.not_run)
        parts.append(
            f"RUN INCOMPLETE: {count} test{'s' if count != 1 else ''} not run ({results.incomplete.reason})"
        )
        good = False
    if not parts:
        return None
    return f"vertex-conformance: {'; '.join(parts)}; {where}", good


def _tests(count: int) -> str:
    return f"{count} test{'s' if count != 1 else ''}"


def _argument(start: Path, arg: str) -> str:
    """A command-line selection as a node id prefix: its path relative to the checkout, and the
    ``::test`` part, if any, kept (``pytest suites/test_plain.py::test_plain_chat``)."""
    path, separator, rest = arg.partition("::")
    return shown(start / path) + separator + rest
