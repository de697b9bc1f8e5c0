"""A run's failures grouped by requirement and by cause: one cause, one line.

Why: one cause fails many tests, and each of them with several findings (a server that does not
serve the Vertex path failed 117 tests with about 520 findings). Read test by test, the cause
drowns in its repetitions; grouped, it is one line with its counts and a few test ids to look at.

A cause is a requirement and a normalised message: the same message with what varies from test to
test replaced by placeholders, so "total 31" and "total 45" are one cause:

- quoted values (``'…'``, ``"…"``, ```…```) become ``<value>``;
- the indexes of JSON paths (``$.choices[2]``) become ``[*]``;
- ids (a word of 8 or more characters mixing letters and digits: ``chatcmpl-9f3a…``,
  ``gemini-2.5-flash``) become ``<id>``;
- numbers become ``<n>``, also inside a word (``chunk12``, ``/v1/x12``), except an HTTP status
  (``answered 404``, ``HTTP 503``, ``status 429``): a 404 and a 500 are different causes.

What counts as a failure: a finding that failed its test, a requirement that passed although the
expectations list it (unexpected pass), and a failed test without either (infra, error: it ended
before any verdict), grouped under no requirement by its error. Known deviations are not failures.
Pure: records in, groups out; the reports decide how to show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .vocabulary import Outcome

if TYPE_CHECKING:  # results.py writes the causes into results.json: it imports this module
    from .results import TestRecord

EXAMPLES = 3  # test ids kept per cause: enough to open one, few enough for a console line
UNEXPECTED_PASS = "holds, but the expectations list it as a known deviation"
_FAILING = (Outcome.FAIL, Outcome.UNEXPECTED_PASS, Outcome.INFRA, Outcome.ERROR)

_RULES = (
    (re.compile(r"""(?<!\w)'[^'\n]*'(?!\w)|"(?:[^"\\\n]|\\.)*"|`[^`\n]*`"""), "<value>"),
    (re.compile(r"\[\d+\]"), "[*]"),
    (re.compile(r"(?<![\w.-])(?=[\w.-]*\d)(?=[\w.-]*[A-Za-z])[\w.-]{8,}(?<!\.)"), "<id>"),
    (
        re.compile(r"(?<![\d.])(?<!answered )(?<!HTTP )(?<!status )\d+(?:\.\d+)*(?:[eE][+-]?\d+)?(?!\d)"),
        "<n>",
    ),
)


@dataclass(frozen=True)
class Cause:
    """Failures of one requirement (None: tests that ended before a verdict) with one normalised
    message. ``findings`` counts every occurrence, ``tests`` the tests they came from."""

    requirement: str | None
    outcome: Outcome  # fail, unexpected-pass, infra or error
    pattern: str  # the normalised message
    example: str  # the first message as it was written
    findings: int
    tests: int
    examples: tuple[str, ...]  # up to EXAMPLES test ids, in node id order


@dataclass(frozen=True)
class RequirementGroup:
    """Every cause of one requirement's failures, most frequent first."""

    requirement: str | None
    findings: int
    tests: int
    causes: tuple[Cause, ...]


def normalise(message: str) -> str:
    """``message`` with quoted values, path indexes, ids and numbers replaced by placeholders."""
    for pattern, placeholder in _RULES:
        message = pattern.sub(placeholder, message)
    return " ".join(message.split())


def causes(records: Iterable[TestRecord]) -> tuple[Cause, ...]:
    """Every cause of failure in ``records``, most tests first (then most findings, then by name)."""
    found: dict[tuple[str | None, Outcome, str], tuple[str, list[str]]] = {}
    for record in sorted(records, key=lambda r: r.nodeid):
        for requirement, outcome, message in _failures(record):
            key = (requirement, outcome, normalise(message))
            found.setdefault(key, (message, []))[1].append(record.nodeid)
    return tuple(
        sorted(
            (
                Cause(
                    requirement=requirement,
                    outcome=outcome,
                    pattern=pattern,
                    example=example,
                    findings=len(nodeids),
                    tests=len(set(nodeids)),
                    examples=tuple(dict.fromkeys(nodeids))[:EXAMPLES],
                )
                for (requirement, outcome, pattern), (example, nodeids) in found.items()
            ),
            key=lambda c: (-c.tests, -c.findings, c.requirement or "", c.pattern),
        )
    )


def by_requirement(records: Iterable[TestRecord]) -> tuple[RequirementGroup, ...]:
    """The causes gathered per requirement, the requirement failing most tests first."""
    records = tuple(records)
    grouped: dict[str | None, list[Cause]] = {}
    for cause in causes(records):
        grouped.setdefault(cause.requirement, []).append(cause)
    failing: dict[str | None, set[str]] = {}
    for record in records:
        for requirement, _, _ in _failures(record):
            failing.setdefault(requirement, set()).add(record.nodeid)
    return tuple(
        sorted(
            (
                RequirementGroup(
                    requirement=requirement,
                    findings=sum(c.findings for c in group),
                    tests=len(failing[requirement]),
                    causes=tuple(group),
                )
                for requirement, group in grouped.items()
            ),
            key=lambda g: (-g.tests, -g.findings, g.requirement or ""),
        )
    )


def _failures(record: TestRecord) -> list[tuple[str | None, Outcome, str]]:
    """(requirement, outcome, message) of every failure of one test: its failing findings and
    unexpected passes, else (a test that ended without them: infra, error) its error."""
    if record.outcome not in _FAILING:
        return []
    failures: list[tuple[str | None, Outcome, str]] = [
        (f.requirement, Outcome.FAIL, f.message) for f in record.findings if f.outcome is Outcome.FAIL
    ]
    failures += [
        (requirement, Outcome.UNEXPECTED_PASS, UNEXPECTED_PASS)
        for requirement, outcome in (record.requirements or {}).items()
        if outcome is Outcome.UNEXPECTED_PASS
    ]
    return failures or [(None, record.outcome, record.error or record.reason or "(no message)")]
