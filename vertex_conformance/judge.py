"""The judge: from what a test sent and got back to its verdict, with no I/O.

``judge(case, exchanges, expectations, ...)`` runs every check on every exchange, adds the verdicts
the harness computed itself (the shape snapshot, the cassette's rules, comparisons between
exchanges), applies the expectations and folds the result into one ``Verdict``. It reads no file,
sends nothing and knows nothing of pytest, so the same judgement serves the suite, ``check`` and
the self-tests, and a verdict can be reproduced from its inputs alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import evaluate, failures
from .error_excerpt import error_excerpt
from .exchange import Exchange
from .expectations import Expectation, excusing, facts_of
from .expectations import judge as apply_expectations
from .findings import Finding
from .requirements import HTTP_SUCCESS
from .results import FindingRecord
from .vocabulary import Outcome, Profile, worst


@dataclass(frozen=True)
class Case:
    """What the judge needs to know of the test: who it is (for the expectations' filters) and the
    contract it is held to. ``probe``: reported behaviour, where a non-2xx answer is the point."""

    nodeid: str
    profile: Profile
    form: str | None = None
    lane: str | None = None
    streamed: bool | None = None
    probe: bool = False
    versions: dict[str, str | None] = field(default_factory=dict)  # package → version (None: unknown)

    def facts(self) -> dict[str, Any]:
        """The fields an expectation entry filters on."""
        return facts_of(self)


@dataclass(frozen=True)
class Verdict:
    """The judgement of one test, ready to become the judged part of its record."""

    outcome: Outcome
    requirements: dict[str, Outcome]
    findings: tuple[FindingRecord, ...]
    applied: dict[str, Expectation]
    observations: dict[str, Any] = field(default_factory=dict)
    by_design: tuple[str, ...] = ()

    def failures(self, expectations_file: str) -> list[str]:
        """One line per finding that fails the test, then one per unexpected pass (what pytest shows)."""
        failing = [
            f"[{f.requirement}] {f.path}: {f.message}" for f in self.findings if f.outcome is Outcome.FAIL
        ]
        unexpected = [
            f"unexpected pass: [{rid}] holds, but {expectations_file} lists it as a known deviation "
            f"({self.applied[rid].reason}); remove the entry"
            for rid, o in self.requirements.items()
            if o is Outcome.UNEXPECTED_PASS
        ]
        return failing + unexpected

    def known_deviations(self) -> str:
        known = [rid for rid, o in self.requirements.items() if o is Outcome.KNOWN_DEVIATION]
        return "; ".join(f"[{rid}] {self.applied[rid].reason}" for rid in known)


def judge(
    case: Case,
    exchanges: Sequence[Exchange],
    expectations: Sequence[Expectation],
    *,
    harness: Mapping[str, list[Finding]] | None = None,
    by_design: tuple[str, ...] = (),
) -> Verdict:
    """Judge ``exchanges`` (one test's, in order) for ``case``. ``harness``: verdicts computed outside
    the checks (snapshot, cassette, comparisons), ``{requirement: findings}``, empty meaning held.
    A probe names in ``by_design`` the requirements it breaks on purpose: they are left unjudged."""
    results: dict[str, list[Finding] | None] = {}  # None: applied, but had nothing to evaluate
    observations: dict[str, Any] = {}
    several = len(exchanges) > 1
    for position, exchange in enumerate(exchanges):
        found, observed = evaluate(exchange, case.profile)
        for rid, findings in found.items():
            if findings is None:  # held or failed on another exchange wins over nothing to evaluate
                results.setdefault(rid, None)
                continue
            if several:
                findings = [
                    Finding(f.requirement, f"exchanges[{position}]{f.path[1:]}", f.message) for f in findings
                ]
            results[rid] = [*(results.get(rid) or []), *findings]
        observations.update(observed)
    if exchanges and not case.probe:  # without an exchange (a request not replayable) there is no status
        results[HTTP_SUCCESS.id] = [
            Finding(
                HTTP_SUCCESS.id,
                f"exchanges[{i}].status" if several else "$.status",
                f"the documented form was answered {e.status}: {error_excerpt(e.body_text or '')}",
            )
            for i, e in enumerate(exchanges)
            if not 200 <= e.status < 300
        ]
    for rid, findings in (harness or {}).items():
        results[rid] = [*(results.get(rid) or []), *findings]
    for rid in by_design:
        results.pop(rid, None)
    judged = {rid: findings for rid, findings in results.items() if findings is not None}
    outcomes, applied = apply_expectations(judged, case.facts(), expectations)
    outcomes.update({rid: Outcome.NOT_APPLICABLE for rid in results.keys() - judged.keys()})
    return Verdict(
        outcome=worst(outcomes.values()),
        requirements=dict(sorted(outcomes.items())),
        findings=tuple(
            FindingRecord(
                f.requirement, f.path, f.message, _label(f, outcomes[f.requirement], case, expectations)
            )
            for f in failures(judged)
        ),
        applied=applied,
        observations=observations,
        by_design=by_design,
    )


def _label(finding: Finding, outcome: Outcome, case: Case, expectations: Sequence[Expectation]) -> Outcome:
    """A finding's own outcome: its requirement's, except that an excused finding of a requirement
    that fails on another finding is a known deviation (only the unexcused one fails the test)."""
    if outcome is not Outcome.FAIL:
        return outcome
    covering = [e for e in expectations if e.covers(finding.requirement, case.facts())]
    return Outcome.KNOWN_DEVIATION if excusing(finding, covering) else outcome
