"""The ``vertex-conformance`` command: list the requirements, and check captured traffic with them.

``check`` runs the very checks the suite runs, over response bodies and SSE streams saved to
files, so a response seen in a log can be judged without replaying it. Exit status: 0 when every
file conforms, 1 when any violates a requirement, 2 for input that cannot be checked at all or
bad usage (always one line on stderr, never a traceback). ``diff`` compares two runs' reports
(0: no regression, 1: a regression, 2: unreadable), ``matrix`` renders a report as an HTML page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import schemas
from .capture import UnreadableInput, kind_of, read_capture, read_request
from .checks import evaluate, failures
from .exchange import WireRequest
from .findings import Finding
from .requirements import all_requirements

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
    """The verdict on one checked file."""

    file: str
    kind: str
    results: dict[str, list[Finding]]
    observations: dict[str, Any]

    @property
    def violations(self) -> list[Finding]:
        return failures(self.results)

    @property
    def conforms(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "conforms": self.conforms,
            "requirements_evaluated": sorted(self.results),
            "violations": [f.to_dict() for f in self.violations],
            "observations": self.observations,
        }

    def lines(self) -> list[str]:
        """The text report: one line per violation, per observation, then the summary."""
        out = [f"{self.file}: {finding}" for finding in self.violations]
        for key, value in self.observations.items():
            out.append(f"{self.file}: {_OBSERVATION_LABELS.get(key, key)}: {value}")
        if self.conforms:
            out.append(f"{self.file}: ok ({len(self.results)} requirements held)")
        else:
            out.append(f"{self.file}: {len(self.violations)} violation(s)")
        return out


def check_file(path: Path, profile: str, request: WireRequest | None = None) -> FileReport:
    """Check one captured file; raises ``UnreadableInput`` when there is nothing to check."""
    exchange = read_capture(path, request)
    results, observations = evaluate(exchange, profile)
    return FileReport(str(path), kind_of(exchange), results, observations)


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
    if args.request is not None:
        try:
            request = read_request(Path(args.request))
        except UnreadableInput as exc:
            _error(str(exc))
            return EXIT_UNREADABLE
    reports, unreadable = [], False
    for name in args.files:
        try:
            reports.append(check_file(Path(name), args.profile, request))
        except UnreadableInput as exc:
            _error(str(exc))
            unreadable = True
    if args.json:
        document = {"profile": args.profile, "files": [r.to_dict() for r in reports]}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print("\n".join(report.lines()))
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_OK if all(r.conforms for r in reports) else EXIT_VIOLATION


def _diff(args: argparse.Namespace) -> int:
    from . import baseline, results  # here: `check` and `requirements` read no report

    try:
        comparison = baseline.compare(results.load(Path(args.baseline)), results.load(Path(args.current)))
    except results.UnreadableResults as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    print(comparison.to_json() if args.json else comparison.to_text())
    return comparison.exit_code


def _matrix(args: argparse.Namespace) -> int:
    from . import matrix, results

    try:
        document = results.load(Path(args.results))
        matrix.write(Path(args.output), document)
    except results.UnreadableResults as exc:
        _error(str(exc))
        return EXIT_UNREADABLE
    except OSError as exc:
        _error(f"{args.output}: cannot write: {exc}")
        return EXIT_UNREADABLE
    print(f"{args.output}: {len(document.tests)} tests")
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
        help="the request body that was sent, for request-aware checks (model echo)",
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
