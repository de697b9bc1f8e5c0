"""Compare a run's ``results.json`` with a baseline's: what regressed, what got fixed, what changed.

The SDK release gate runs the suite with the candidate SDK and blocks when anything that held with
the last release no longer holds. Tests are matched by ``nodeid``, requirements by id. Only a
change for the worse that the run can vouch for is a regression: a test that could not reach the
server (``infra``) in either run proves nothing and is reported as inconclusive instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .results import Results, TestRecord
from .vocabulary import Outcome

COMPARISON_FORMAT = "vertex-conformance/comparison"
COMPARISON_VERSION = 1

PASS, FAIL, ERROR = Outcome.PASS, Outcome.FAIL, Outcome.ERROR
KNOWN, UNEXPECTED = Outcome.KNOWN_DEVIATION, Outcome.UNEXPECTED_PASS
INFRA, UNSUPPORTED, NOT_APPLICABLE = Outcome.INFRA, Outcome.UNSUPPORTED, Outcome.NOT_APPLICABLE
_HELD = (PASS, KNOWN)  # what a test may be in the baseline for its loss to count as a regression
_BROKEN = (FAIL, ERROR)

# (attribute, heading) in the order the text report lists them.
CATEGORIES = (
    ("regressions", "regressions"),
    ("fixes", "fixes"),
    ("new_known_deviations", "new known deviations"),
    ("unexpected_passes", "unexpected passes"),
    ("new_tests", "new tests"),
    ("inconclusive", "inconclusive (infra in either run)"),
    ("unsupported", "unsupported changes"),
    ("other", "other changes"),
    ("not_compared", "not compared (outside the current run's selection, or not run)"),
)
_RUN_KEYS = ("mode", "target", "profile", "location", "api_version", "model")


@dataclass(frozen=True)
class Change:
    """One difference. ``requirement`` is ``None`` for the test as a whole; ``before``/``after`` are
    outcomes, ``None`` meaning absent (a test not in that run, a requirement not evaluated)."""

    nodeid: str
    requirement: str | None
    before: str | None
    after: str | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "requirement": self.requirement,
            "before": self.before,
            "after": self.after,
            "evidence": self.evidence,
        }

    def line(self) -> str:
        absent = "missing" if self.requirement is None else "not evaluated"
        before, after = self.before or absent, self.after or absent
        what = f"[{self.requirement}]" if self.requirement else "(test)"
        return f"{self.nodeid} {what} {before} -> {after}" + (f": {self.evidence}" if self.evidence else "")


@dataclass
class Comparison:
    """The verdict on a current run against a baseline; ``exit_code`` is what the gate returns."""

    baseline: dict[str, Any]
    current: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    new_known_deviations: list[Change] = field(default_factory=list)
    unexpected_passes: list[Change] = field(default_factory=list)
    new_tests: list[Change] = field(default_factory=list)
    inconclusive: list[Change] = field(default_factory=list)
    unsupported: list[Change] = field(default_factory=list)
    other: list[Change] = field(default_factory=list)
    not_compared: list[Change] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name, _ in CATEGORIES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": COMPARISON_FORMAT,
            "version": COMPARISON_VERSION,
            "baseline": self.baseline,
            "current": self.current,
            "notes": self.notes,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            **{name: [c.to_dict() for c in getattr(self, name)] for name, _ in CATEGORIES},
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode()

    def lines(self) -> list[str]:
        """The text report: both runs, notes, each non-empty category with one line per change, a verdict."""
        out = [f"baseline: {_describe(self.baseline)}", f"current:  {_describe(self.current)}"]
        out += [f"note: {note}" for note in self.notes]
        for name, heading in CATEGORIES:
            changes = getattr(self, name)
            if changes:
                out.append(f"{heading} ({len(changes)}):")
                out += [f"  {change.line()}" for change in changes]
        counts = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in self.counts().items() if n)
        verdict = "REGRESSION" if self.regressions else "no regression"
        out.append(f"{verdict} ({counts or 'no changes'})")
        return out

    def to_text(self) -> str:
        return "\n".join(self.lines())


def compare(baseline: Results, current: Results) -> Comparison:
    """Compare two runs, test by test (matched by node id) and requirement by requirement."""
    comparison = Comparison(_run_info(baseline), _run_info(current), notes=_config_notes(baseline, current))
    before = {t.nodeid: t for t in baseline.tests}
    after = {t.nodeid: t for t in current.tests}
    for nodeid in sorted(before.keys() | after.keys()):
        old, new = before.get(nodeid), after.get(nodeid)
        if old is not None and new is None and (why := _out_of_scope(current, nodeid)):
            comparison.not_compared.append(Change(nodeid, None, old.outcome, None, why))
            continue
        for category, change in _test_changes(nodeid, old, new):
            getattr(comparison, category).append(change)
    return comparison


def _out_of_scope(current: Results, nodeid: str) -> str | None:
    """Why a baseline test absent from the current run says nothing about it: the run did not ask
    for it (another path, ``-k``, ``-m``), or stopped before it. ``None``: it should be there."""
    if current.incomplete is not None and nodeid in current.incomplete.not_run:
        return f"not run: {current.incomplete.reason}"
    if current.selection is not None and not current.selection.covers(nodeid):
        return "outside the current run's selection"
    return None


def _test_changes(nodeid: str, old: TestRecord | None, new: TestRecord | None) -> list[tuple[str, Change]]:
    """The (category, change) pairs for one test: requirement by requirement where both runs judged
    it, else one change for the test as a whole."""
    if new is None:
        assert old is not None
        change = Change(nodeid, None, old.outcome, None, "not in the current run")
        if old.outcome is INFRA:
            return [("inconclusive", change)]
        if old.outcome is UNSUPPORTED:
            return [("unsupported", change)]
        return [("regressions" if old.outcome in _HELD else "other", change)]
    if old is None:
        return [("new_tests", Change(nodeid, None, None, new.outcome, _test_evidence(new)))]
    was, now = old.outcome, new.outcome
    if INFRA in (was, now):
        return [("inconclusive", Change(nodeid, None, was, now, _test_evidence(new)))]
    if UNSUPPORTED in (was, now):
        return [] if was == now else [("unsupported", Change(nodeid, None, was, now, _test_evidence(new)))]
    changes = _requirement_changes(nodeid, old, new)
    # An error before the checks ran loses every requirement that held: a regression of the test.
    lost = not new.judged and PASS in (old.requirements or {}).values()
    category = "regressions" if lost and now in _BROKEN else _test_category(was, now)
    if was != now and all(found != category for found, _ in changes):
        changes.append((category, Change(nodeid, None, was, now, _test_evidence(new))))
    return changes


def _requirement_changes(nodeid: str, old: TestRecord, new: TestRecord) -> list[tuple[str, Change]]:
    """Requirement-level changes, when the current test was judged at all (an ``error`` before the
    checks ran has no requirements: that is one change of the test, not one per requirement)."""
    if new.requirements is None:
        return []
    was_all, now_all = old.requirements or {}, new.requirements
    out = []
    for rid in sorted(was_all.keys() | now_all.keys()):
        was, now = was_all.get(rid), now_all.get(rid)
        category = _requirement_category(was, now)
        if category is None:
            continue
        evidence = _finding_evidence(new, rid)
        if not evidence and now == PASS and (earlier := _finding_evidence(old, rid)):
            evidence = f"was: {earlier}"
        if not evidence and now is None:
            evidence = "not evaluated in the current run"
        out.append((category, Change(nodeid, rid, was, now, evidence)))
    return out


# Where a change that is not a regression is listed, by what the item is now.
_CHANGED_TO = {PASS: "fixes", KNOWN: "new_known_deviations", UNEXPECTED: "unexpected_passes"}


def _requirement_category(was: Outcome | None, now: Outcome | None) -> str | None:
    """Which list a requirement's change belongs in; ``None``: not worth a line (unchanged, or a
    newly evaluated requirement that holds)."""
    if was == now or (was is None and now == PASS):
        return None
    if NOT_APPLICABLE in (was, now) and now not in _BROKEN:
        return "other"  # evaluated nothing before or now: neither a fix nor a loss
    if now in _BROKEN or (now is None and was == PASS):
        return "regressions"  # a new failure, or a requirement that held and is no longer evaluated
    return _CHANGED_TO.get(now, "other")


def _test_category(was: Outcome, now: Outcome) -> str:
    if NOT_APPLICABLE in (was, now) and now not in _BROKEN:
        return "other"
    if was in _HELD and now in _BROKEN:
        return "regressions"
    return _CHANGED_TO.get(now, "other")


def _finding_evidence(record: TestRecord, rid: str) -> str:
    return "; ".join(f"{f.path}: {f.message}" for f in record.findings_of(rid))


def _test_evidence(record: TestRecord) -> str:
    """Why the current test has its outcome: its error or reason, else its failing findings."""
    for text in (record.error, record.reason):
        if text:
            return text
    findings = [f for f in record.findings if f.outcome in (FAIL, UNEXPECTED, KNOWN)]
    return "; ".join(f"[{f.requirement}] {f.path}: {f.message}" for f in findings)


def _run_info(results: Results) -> dict[str, Any]:
    return {
        "generated_at": results.generated_at,
        "openai": results.versions.get("openai"),
        "openai_sdk_http_library": results.versions.get("openai_sdk_http_library"),
        "run": {key: results.run.get(key) for key in _RUN_KEYS},
        "summary": results.summary,
    }


def _describe(info: dict[str, Any]) -> str:
    summary = info.get("summary") or {}
    counts = ", ".join(f"{n} {o}" for o, n in summary.items() if o != "total" and n)
    return (
        f"openai {info.get('openai') or '?'} on {info.get('openai_sdk_http_library') or '?'}, "
        f"{summary.get('total', 0)} tests ({counts or 'none'}), written {info.get('generated_at') or '?'}"
    )


def _config_notes(baseline: Results, current: Results) -> list[str]:
    """Run settings that differ: a comparison across profiles or targets is rarely what was meant."""
    old, new = baseline.run, current.run
    return [
        f"the runs differ in {key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in _RUN_KEYS
        if old.get(key) != new.get(key)
    ]
