"""The ``vertex-conformance`` command: list the requirements, and check captured traffic with them.

``check`` runs the very checks the suite runs, over response bodies and SSE streams saved to
files, so a response seen in a log can be judged without replaying it: every check the answer
alone allows, the request-aware ones with ``--request``, and the known deviations of an
expectations file excused (shown as known). Exit status: 0 when every file conforms, 1 when any
violates a requirement, 2 for input that cannot be checked at all or bad usage (always one line
on stderr, never a traceback). ``diff`` compares two runs' reports (0: no regression, 1: a
regression, 2: unreadable), ``matrix`` renders a report as an HTML page, ``expectations update``
removes the entries a run no longer needed from an expectations file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import expectations, schemas
from .capture import UnreadableInput, kind_of, read_capture, read_request
from .checks import CHECKS, Context, evaluate, failures
from .config import ConfigError
from .exchange import Exchange, WireRequest
from .expectations import Expectation
from .findings import Finding
from .paths import EXPECTATIONS, ROOT, shown
from .requirements import all_requirements
from .vocabulary import Profile

PROG = "vertex-conformance"
EXIT_OK, EXIT_VIOLATION, EXIT_UNREADABLE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a writer killed by SIGPIPE
_OBSERVATION_LABELS = {"usage_rule": "usage rule held"}
SERVE_HELP = "serve recorded Vertex exchanges on loopback for SDK tests"


class _HelpFormatter(argparse.HelpFormatter):
    """Each command's help on its name's line. argparse (3.11) measures the command names without the
    indent it then prints them with, so a name as long as ``requirements`` got a line of its own."""

    def add_argument(self, action: argparse.Action) -> None:
        self._indent()  # measured one level deeper: the commands' level; printing is unaffected
        super().add_argument(action)
        self._dedent()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (argparse prints the whole usage block).

    ``deferred`` builds the parser a command really parses with, when the command is parsed: a
    command whose code imports a web server or an HTTP stack (``serve``) is then listed by
    ``--help`` without every other command paying for those imports.
    """

    def __init__(
        self, *args: Any, deferred: Callable[[], argparse.ArgumentParser] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._deferred = deferred

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._deferred is not None:
            return self._deferred().parse_known_args(args, namespace)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message} (see --help)\n")


@dataclass
class FileReport:
    """The verdict on one checked file: every finding, split into violations and the known
    deviations an expectation excused, and the checks that did not run for want of the request."""

    file: str
    kind: str
    results: dict[str, list[Finding] | None]  # None: the check applied but had nothing to judge
    observations: dict[str, Any]
    known: dict[Finding, Expectation] = field(default_factory=dict)
    needs_request: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in failures(self.results) if f not in self.known]

    @property
    def conforms(self) -> bool:
        return not self.violations

    @property
    def held(self) -> int:
        return sum(1 for findings in self.results.values() if findings == [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "conforms": self.conforms,
            "requirements_evaluated": sorted(self.results),
            "violations": [f.to_dict() for f in self.violations],
            "known_deviations": [{**f.to_dict(), **e.to_dict()} for f, e in sorted(self.known.items())],
            "needs_request": self.needs_request,
            "observations": self.observations,
        }

    def lines(self) -> list[str]:
        """The text report: one line per violation, per known deviation, per observation, then the
        summary, and what was skipped for want of the request."""
        out = [f"{self.file}: {finding}" for finding in self.violations]
        out += [f"{self.file}: known deviation {f}{_entry_line(e)}" for f, e in sorted(self.known.items())]
        for key, value in self.observations.items():
            out.append(f"{self.file}: {_OBSERVATION_LABELS.get(key, key)}: {value}")
        known = f", {len(self.known)} known deviation(s)" if self.known else ""
        if self.conforms:
            out.append(f"{self.file}: ok ({self.held} requirements held{known})")
        else:
            out.append(f"{self.file}: {len(self.violations)} violation(s){known}")
        if self.needs_request:
            areas = Counter(rid.split(".")[0] for rid in self.needs_request)
            skipped = ", ".join(f"{area} {count}" for area, count in sorted(areas.items()))
            out.append(
                f"{self.file}: {len(self.needs_request)} checks need the request: pass --request "
                f"(skipped: {skipped}; --json names them)"
            )
        return out


def _entry_line(entry: Expectation) -> str:
    return f" (expected: line {entry.line})" if entry.line else " (expected)"


class _RequestWatch(Context):
    """A context without a request that notes whether a check's ``applies`` asked for it."""

    asked = False

    @property
    def request(self) -> Any:
        self.asked = True
        return None


def needs_request(exchange: Exchange, profile: Profile) -> list[str]:
    """The checks that did not apply to ``exchange`` and asked for the request to decide: with
    ``--request`` they could run. A check that applies without it (image bytes, tool-call arguments
    being JSON) is not among them: it ran."""
    ctx = _RequestWatch(exchange, profile)
    needed = []
    for registered in CHECKS:
        ctx.asked = False
        if not registered.applies(ctx) and ctx.asked:
            needed.append(registered.requirement.id)
    return sorted(set(needed))


def check_file(
    path: Path,
    profile: str,
    request: WireRequest | None = None,
    listed: list[Expectation] | None = None,
) -> FileReport:
    """Check one captured file; raises ``UnreadableInput`` when there is nothing to check.
    ``listed``: the expectations whose known deviations are excused. A capture has no form, lane or
    test id, so only an entry's profile and streamed filters (and its paths and message) apply."""
    exchange = read_capture(path, request)
    results, observations = evaluate(exchange, Profile(profile))
    facts = {"profile": profile, "streamed": exchange.streamed}
    known = {}
    for rid, findings in results.items():
        covering = [e for e in listed or [] if e.covers(rid, facts)]
        for finding in findings or []:
            entry = expectations.excusing(finding, covering)
            if entry is not None:
                known[finding] = entry
    skipped = needs_request(exchange, Profile(profile)) if request is None else []
    return FileReport(str(path), kind_of(exchange), results, observations, known, skipped)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _requirements(args: argparse.Namespace) -> int:
    rows = [
        {"id": r.id, "source": str(r.source), "statement": r.statement, "where": r.where}
        for r in all_requirements()
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    columns = ("id", "source", "statement", "where")
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns[:-1]}
    for row in [{c: c.upper() for c in columns}, *rows]:
        print("  ".join([*(row[c].ljust(widths[c]) for c in columns[:-1]), row["where"]]))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    request = None
    try:
        if args.request is not None:
            request = read_request(Path(args.request))
        listed = _expectations_file(Path(args.expectations))
    except (UnreadableInput, ConfigError) as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    reports, unreadable = [], False
    for name in args.files:
        try:
            reports.append(check_file(Path(name), args.profile, request, listed))
        except UnreadableInput as exc:
            _error(str(exc))
            unreadable = True
    if args.json:
        document = {
            "profile": args.profile,
            "expectations": shown(Path(args.expectations)),
            "files": [r.to_dict() for r in reports],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print("\n".join(report.lines()))
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_OK if all(r.conforms for r in reports) else EXIT_VIOLATION


def _expectations_file(path: Path) -> list[Expectation]:
    """The entries of an expectations file ``check`` was given; one that is not there is a typo
    (``/dev/null``: none), unlike the suite's default file that a target may lack."""
    if not path.exists():
        raise ConfigError(f"expectations file {path}: no such file")
    return expectations.load(path)


def _diff(args: argparse.Namespace) -> int:
    from . import baseline, results  # here: `check` and `requirements` read no report

    try:
        comparison = baseline.compare(results.load(Path(args.baseline)), results.load(Path(args.current)))
    except results.UnreadableResults as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    print(comparison.to_json() if args.json else comparison.to_text())
    return comparison.exit_code


def _writing(output: str, work: Callable[[], tuple[str, int]]) -> int:
    """Run a command that reads reports and writes ``output``: it prints its line and returns its
    status; unreadable input, mismatched shards or an unwritable output are one line and exit 2."""
    from . import merge, results

    try:
        line, status = work()
    except (results.UnreadableResults, merge.ShardMismatch) as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    except OSError as exc:
        _error(f"{output}: cannot write: {exc}")
        return EXIT_UNREADABLE
    print(line)
    return status


def _matrix(args: argparse.Namespace) -> int:
    from . import matrix, results

    def work() -> tuple[str, int]:
        document = results.load(Path(args.results))
        matrix.write(Path(args.output), document)
        return f"{args.output}: {len(document.tests)} tests", EXIT_OK

    return _writing(args.output, work)


def _merge(args: argparse.Namespace) -> int:
    from . import matrix, merge, results
    from .atomic import write_text

    def work() -> tuple[str, int]:
        merged = merge.merge([(str(path), results.load(Path(path))) for path in args.shards])
        junit = [
            Path(p).parent / "junit.xml" for p in args.shards if (Path(p).parent / "junit.xml").is_file()
        ]
        out = Path(args.output)
        write_text(out / "results.json", merged.to_json())
        matrix.write(out / "index.html", merged)
        if junit:
            write_text(out / "junit.xml", merge.merge_junit(junit))
        failed = merged.summary["fail"] + merged.summary["error"]
        line = f"{out}: {len(merged.tests)} tests from {len(args.shards)} shards ({len(junit)} junit files)"
        return line, EXIT_VIOLATION if failed else EXIT_OK

    return _writing(args.output, work)


def _durations(args: argparse.Namespace) -> int:
    from . import merge, results
    from .atomic import write_text

    def work() -> tuple[str, int]:
        timings = merge.durations(results.load(Path(args.results)))
        write_text(Path(args.output), json.dumps(timings, indent=1, sort_keys=True) + "\n")
        return f"{args.output}: {len(timings)} durations", EXIT_OK

    return _writing(args.output, work)


def _expectations_update(args: argparse.Namespace) -> int:
    from . import atomic, expectations_update, results  # here: `check` reads no report

    try:
        document = results.load(Path(args.results))
    except results.UnreadableResults as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    if document.incomplete is not None:
        _error(
            f"{args.results}: the run is incomplete ({document.incomplete.reason}); the entries of the "
            "tests it never ran would look stale: update from a complete run"
        )
        return EXIT_UNREADABLE
    used = document.run.get("expectations")
    if args.file is None and not used:
        _error(f"{args.results}: the run names no expectations file: pass --file")
        return EXIT_UNREADABLE
    path = Path(args.file) if args.file else ROOT / str(used)  # a report names it relative to the checkout
    try:
        entries = _expectations_file(path)
        changes = expectations_update.plan(entries, document.tests)
        removed = {c.entry.line for c in changes if c.removed and c.entry.line}
        if removed:
            atomic.write_text(path, expectations_update.without(path.read_text(encoding="utf-8"), removed))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    except OSError as exc:
        _error(f"{path}: cannot rewrite: {exc.strerror or exc}")
        return EXIT_UNREADABLE
    for change in changes:
        print(f"{shown(path)}: {change}")
    summary = (
        f"{len(removed)} {'entry' if len(removed) == 1 else 'entries'} removed, "
        if removed
        else "up to date: "
    )
    print(f"{shown(path)}: {summary}{len(entries) - len(removed)} kept")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Check Chat Completions traffic by the suite's requirements; compare reports.",
        formatter_class=_HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("requirements", help="list every requirement with its source")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(run=_requirements)

    checking = commands.add_parser(
        "check",
        help="check captured responses: JSON bodies, SSE streams as text",
        description="Check captured response bodies and SSE streams with the suite's checks. "
        "Exit 0: all conform; 1: a requirement is violated; 2: unreadable input or bad usage.",
    )
    checking.add_argument(
        "--profile",
        choices=schemas.PROFILES,
        default="vertex",
        help="the contract to hold the responses to (default: vertex)",
    )
    checking.add_argument(
        "--request",
        metavar="REQUEST.json",
        help="the request body that was sent, for the checks that need it (model echo, tool schemas, "
        "thinking, structured output); without it they are listed as skipped",
    )
    checking.add_argument(
        "--expectations",
        metavar="FILE",
        default=str(EXPECTATIONS / "gemini.yaml"),
        help="known deviations to show as known, not as violations (default: expectations/gemini.yaml; "
        "/dev/null: none)",
    )
    checking.add_argument("--json", action="store_true", help="print one JSON document")
    checking.add_argument("files", nargs="+", metavar="FILE")
    checking.set_defaults(run=_check)

    diffing = commands.add_parser(
        "diff",
        help="compare two runs' results.json (the SDK release gate)",
        description="Compare two results.json reports test by test and requirement by requirement. "
        "Exit 0: no regression; 1: a regression; 2: unreadable input or bad usage.",
    )
    diffing.add_argument("baseline", metavar="BASELINE.json", help="the report of the reference run")
    diffing.add_argument("current", metavar="CURRENT.json", help="the report of the run under test")
    diffing.add_argument("--json", action="store_true", help="print one JSON document")
    diffing.set_defaults(run=_diff)

    page = commands.add_parser(
        "matrix",
        help="render a results.json as a self-contained HTML matrix page",
        description="Write the matrix page (forms by lane, with the evidence of every test). "
        "Exit 0: written; 2: unreadable input, an unwritable output or bad usage.",
    )
    page.add_argument(
        "results",
        nargs="?",
        default="reports/results.json",
        metavar="RESULTS.json",
        help="the report to render (default: reports/results.json)",
    )
    page.add_argument(
        "-o", "--output", default="reports/index.html", help="the page to write (default: reports/index.html)"
    )
    page.set_defaults(run=_matrix)

    joining = commands.add_parser(
        "merge",
        help="join shard reports into one results.json, junit.xml and page",
        description="Join shard reports (pytest-split's --splits M --group K) into the report of the "
        "whole run. Shards of different configurations, SDK versions or overlapping tests are refused. "
        "Each shard's junit.xml beside its results.json is joined too. "
        "Exit 0: merged, every test held; 1: merged, a test failed; 2: unreadable or mismatched shards.",
    )
    joining.add_argument("shards", nargs="+", metavar="RESULTS.json", help="each shard's report")
    joining.add_argument("-o", "--output", required=True, metavar="DIR", help="where the merged reports go")
    joining.set_defaults(run=_merge)

    timing = commands.add_parser(
        "durations",
        help="write a run's test durations for pytest-split's shards",
        description="Write each test's duration from a results.json as pytest-split's durations file "
        "(pass it with --durations-path). Exit 0: written; 2: unreadable input or output.",
    )
    timing.add_argument("results", metavar="RESULTS.json", help="an earlier run's report")
    timing.add_argument(
        "-o", "--output", default=".test_durations", help="the file (default .test_durations)"
    )
    timing.set_defaults(run=_durations)

    listed = commands.add_parser(
        "expectations",
        help="remove what a run no longer needed from an expectations file",
        description="Maintain an expectations file (known deviations) from a run's results.json.",
    )
    actions = listed.add_subparsers(dest="action", required=True, metavar="ACTION")
    update = actions.add_parser(
        "update",
        help="remove stale entries and those that only passed unexpectedly; report the rest",
        description="Rewrite the expectations file a run used: remove the entries its tests no longer "
        "needed (stale, or passing unexpectedly wherever they apply), keep every other entry as written, "
        "and print each change. Nothing is added. "
        "Exit 0: done (or nothing to do); 2: unreadable input, an incomplete run, an unwritable file.",
    )
    update.add_argument("results", metavar="RESULTS.json", help="the report of a complete run")
    update.add_argument(
        "--file", metavar="FILE", help="the expectations file to rewrite (default: the one the run used)"
    )
    update.set_defaults(run=_expectations_update)

    commands.add_parser("serve", help=SERVE_HELP, deferred=_serve_parser)
    return parser


def _serve_parser() -> argparse.ArgumentParser:
    """``serve``'s own parser, defined beside the server it runs (starlette, uvicorn, vcr: only now)."""
    from . import replay_server

    commands = _Parser(prog=PROG).add_subparsers()
    replay_server.add_command(commands)
    return commands.choices["serve"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): argparse has already printed
        return exc.code if isinstance(exc.code, int) else EXIT_UNREADABLE
    try:
        status = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe (`| head`) shows up here, not at exit
    except BrokenPipeError:
        # The reader went away; silence the interpreter's own flush at exit, which would complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status


if __name__ == "__main__":
    raise SystemExit(main())
