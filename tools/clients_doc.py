"""Write the client matrix of docs/clients.md from a run's results.json: client x form x streamed,
with what the user of each client gets.

The part of docs/clients.md above ``MARKER`` is prose and stays as written; everything below it is
this script's output, so the matrix always says what a run saw, never what someone remembers:

    make conformance && .venv/bin/python -m tools.clients_doc   # = make clients-doc

Per client lane, a row per form and a column per way of sending it (not streamed, streamed); a cell
gives the worst outcome of its tests and, for every requirement that did not hold, its first few
distinct messages (known deviations marked). Requirements that judge the client itself come
first: what its user reads (``client.*``), what it put on the wire (``lanes.same-wire-body``).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from vertex_conformance.atomic import write_text
from vertex_conformance.paths import ROOT
from vertex_conformance.results import Results, TestRecord, UnreadableResults, load
from vertex_conformance.vocabulary import ALL_FORMS, LANES, Outcome, worst

DOC = ROOT / "docs" / "clients.md"
RESULTS = ROOT / "reports" / "results.json"
MARKER = "<!-- Everything below is written by tools/clients_doc.py from a run's results.json. -->"
_MESSAGE_CHARS = 140
NOT_REPLAYABLE = (
    "(the client changed the request beyond what the recording answers: the request alone is judged)"
)
_PER_REQUIREMENT = 3  # distinct messages shown per requirement and cell
_LABELS = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "**fail**",
    Outcome.KNOWN_DEVIATION: "known deviation",
    Outcome.UNEXPECTED_PASS: "**unexpected pass**",
    Outcome.UNSUPPORTED: "unsupported",
    Outcome.INFRA: "infra",
    Outcome.ERROR: "**error**",
}


def _order(requirement: str) -> tuple[int, str]:
    """The client's own requirements first, then its wire body, then the rest."""
    if requirement.startswith("client."):
        return 0, requirement
    return (1 if requirement == "lanes.same-wire-body" else 2), requirement


def _cell(records: list[TestRecord]) -> str:
    if not records:
        return "—"
    top = worst(r.outcome for r in records)
    lines = [_LABELS.get(top, str(top))]
    if top in (Outcome.UNSUPPORTED, Outcome.INFRA, Outcome.ERROR):
        reasons = [r.reason or r.error for r in records if r.outcome is top]
        reason = next((text for text in reasons if text), "")
        return f"{lines[0]}: {_short(reason)}" if reason else lines[0]
    seen: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for finding in record.findings:
            label = _LABELS.get(finding.outcome, finding.outcome)
            text = f"{_short(finding.message)} ({label})"
            if text not in seen[finding.requirement] and len(seen[finding.requirement]) < _PER_REQUIREMENT:
                seen[finding.requirement].append(text)
    lines += [
        f"`{rid}`: {'; '.join(texts)}" for rid, texts in sorted(seen.items(), key=lambda i: _order(i[0]))
    ]
    if any("not_replayable" in record.notes for record in records):
        lines.append(NOT_REPLAYABLE)
    return "<br>".join(lines)


def _short(text: str) -> str:
    text = " ".join(text.replace("|", "\\|").split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def matrix(document: Results) -> str:
    """The generated part of docs/clients.md for ``document``."""
    by_cell: dict[tuple[str, str, bool | None], list[TestRecord]] = defaultdict(list)
    for record in document.tests:
        if record.lane is not None and record.form is not None:
            by_cell[record.lane, record.form, record.streamed].append(record)
    out = [
        MARKER,
        "",
        f"Run: mode {document.run.get('mode')}, written {document.generated_at}; "
        f"openai (Python) {document.versions.get('openai') or 'not installed'}.",
    ]
    for lane in (lane for lane in LANES.values() if lane.client):
        forms = [form for form in ALL_FORMS if any(key[:2] == (lane.id, form) for key in by_cell)]
        version = document.versions.get(str(lane.package)) or "not installed"
        out += ["", f"## {lane.id} ({lane.package} {version})", "", lane.description + ".", ""]
        if not forms:
            out.append("No test of this lane ran.")
            continue
        out += ["| form | not streamed | streamed |", "|---|---|---|"]
        for form in forms:
            plain, streamed = by_cell[lane.id, form, False], by_cell[lane.id, form, True]
            out.append(f"| {ALL_FORMS[form]} | {_cell(plain)} | {_cell(streamed)} |")
    return "\n".join(out) + "\n"


def write(document: Results, doc: Path = DOC) -> None:
    """Replace what follows ``MARKER`` in ``doc`` with the matrix of ``document``."""
    text = doc.read_text(encoding="utf-8")
    if MARKER not in text:
        raise ValueError(f"{doc} has no line {MARKER!r} to write below")
    write_text(doc, text.split(MARKER)[0] + matrix(document))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.clients_doc", description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    parser.add_argument("--doc", type=Path, default=DOC, help=f"default: {DOC}")
    args = parser.parse_args(argv)
    try:
        write(load(args.results), args.doc)
    except (OSError, UnreadableResults, ValueError) as exc:
        print(f"clients_doc: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
