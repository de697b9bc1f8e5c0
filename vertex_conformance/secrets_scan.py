"""Scan files for credentials before they are committed or published (``make test`` runs it over
``fixtures/`` and ``reports/``).

It uses the recorder's own definition of a secret (``redaction.find_secrets``, and for the live
project id the recorder's ``scrub.Scrubber``, so a JSON-escaped or URL-encoded id is found too),
line by line, so a hit names the file, the line and the kind of secret, and never the value: the
scanner's output is safe to paste into an issue.

    python -m vertex_conformance.secrets_scan [--project-id ID] PATH...

Exit status: 0 clean, 1 secrets found (one ``file:line: kind`` per hit on stdout), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .redaction import find_secrets
from .scrub import Kind, Scrubber

EXIT_CLEAN, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
MIN_LISTED_LENGTH = 6  # Google project ids are 6 to 30 characters; anything shorter matches prose


@dataclass(frozen=True)
class Hit:
    """Where a secret is and what kind it is (``redaction`` names the kinds); never its value."""

    file: Path
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}"


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")


def scan(paths: Iterable[Path], extra_secrets: Iterable[str] = ()) -> list[Hit]:
    """Every secret in the files under ``paths`` (directories are walked, hidden files included),
    in file and line order. ``extra_secrets`` are literal values that must not appear either (the
    live project id), found as whole values in any spelling (``scrub``). Files are read as UTF-8
    with undecodable bytes replaced, so a token inside a binary file is still found."""
    extra = [value for value in extra_secrets if value]
    short = [value for value in extra if len(value) < MIN_LISTED_LENGTH]
    if short:
        raise ValueError(
            f"a listed secret must have at least {MIN_LISTED_LENGTH} characters "
            f"(one has {len(short[0])}): a shorter one would match ordinary text"
        )
    listed = Scrubber((Kind.PROJECT_ID, value) for value in extra)
    hits = []
    for file in _files(Path(p) for p in paths):
        text = file.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(text.split("\n"), start=1):
            hits.extend(Hit(file, number, kind) for kind in find_secrets(line, listed))
    return hits


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m vertex_conformance.secrets_scan",
        description="Find credentials (access tokens, bearer headers, private keys, refresh tokens, "
        "client secrets) and the live project id in files. Prints file:line: kind, never the value.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    parser.add_argument(
        "--project-id",
        action="append",
        default=[],
        metavar="ID",
        help="the live project id, which must appear nowhere (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): argparse has already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        hits = scan(args.paths, extra_secrets=args.project_id)
    except (OSError, ValueError) as exc:
        print(f"secrets_scan: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for hit in hits:
        print(hit)
    if hits:
        print(
            f"secrets_scan: {len(hits)} secret(s) found; remove them and rotate what leaked", file=sys.stderr
        )
        return EXIT_FOUND
    print(f"secrets_scan: no secret in {', '.join(map(str, args.paths))}")
    return EXIT_CLEAN


if __name__ == "__main__":
    raise SystemExit(main())
