"""Joining the reports of a run split over several CI jobs (shards) into the report of one run.

Shards are the same run cut into parts (``pytest-split``'s ``--splits M --group K``), so they must
agree on everything but which tests they ran: the configuration, the versions that shaped the
traffic, the paths they were given. A shard of another configuration is refused with the setting
that differs, never averaged in. A test reported by two shards is refused too: the split is
broken. The merged selection deselects only what no shard ran (each shard deselects the others'
tests), and a test one shard never reached stays in ``incomplete`` unless another shard ran it.
The pace figures (429s, waits, concurrency per target) add up as ``pace.merge`` adds up xdist
workers': counts summed, and each target's concurrency timeline the sum of the shards' on the wall
clock (shards run at once on several machines: the merged line is the target's total load).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from . import pace
from .results import Incomplete, Results, Selection

# Settings that differ between shards of one run by design: where each wrote, what it compared with.
_PER_SHARD = frozenset({"report_dir", "baseline"})


class ShardMismatch(ValueError):
    """The reports are not shards of one run (the message says which setting differs, and where)."""


def merge(shards: Sequence[tuple[str, Results]]) -> Results:
    """One run's results from its shards' ``(name, results)``; ``ShardMismatch`` if they disagree."""
    if not shards:
        raise ShardMismatch("no report to merge")
    (first_name, first), *others = shards
    for name, shard in others:
        _same(first_name, first, name, shard)
    tests, seen = [], {}
    for name, shard in shards:
        for test in shard.tests:
            if test.nodeid in seen:
                raise ShardMismatch(
                    f"{test.nodeid} is in {seen[test.nodeid]} and in {name}: the split overlaps"
                )
            seen[test.nodeid] = name
            tests.append(test)
    ran = set(seen)
    deselected = set.intersection(*(set(s.selection.deselected) if s.selection else set() for _, s in shards))
    not_run = sorted({n for _, s in shards if s.incomplete for n in s.incomplete.not_run} - ran)
    reasons = sorted({s.incomplete.reason for _, s in shards if s.incomplete})
    return Results(
        run=first.run,
        versions=first.versions,
        tests=tuple(tests),
        generated_at=max(s.generated_at for _, s in shards),
        selection=Selection(first.selection.paths, tuple(sorted(deselected - ran)))
        if first.selection
        else None,
        incomplete=Incomplete("; ".join(reasons), tuple(not_run)) if reasons else None,
        pace=pace.merge(s.pace for _, s in shards),
    )


def _same(first_name: str, first: Results, name: str, shard: Results) -> None:
    """Refuse ``shard`` when it is not a part of the run ``first`` is a part of."""
    keys = (first.run.keys() | shard.run.keys()) - _PER_SHARD
    for key in sorted(keys):
        if first.run.get(key) != shard.run.get(key):
            was, now = first.run.get(key), shard.run.get(key)
            raise ShardMismatch(
                f"{name} was run with {key} {now!r}, {first_name} with {was!r}: not shards of one run"
            )
    if first.versions != shard.versions:
        differing = sorted(
            k
            for k in first.versions.keys() | shard.versions.keys()
            if first.versions.get(k) != shard.versions.get(k)
        )
        raise ShardMismatch(f"{name} and {first_name} ran on different versions of {', '.join(differing)}")
    paths = (
        first.selection.paths if first.selection else None,
        shard.selection.paths if shard.selection else None,
    )
    if paths[0] != paths[1]:
        raise ShardMismatch(f"{name} was given {paths[1]}, {first_name} {paths[0]}: not shards of one run")


_COUNTS = ("tests", "errors", "failures", "skipped")


def merge_junit(files: Sequence[Path]) -> str:
    """One JUnit XML document of the shards' ``junit.xml``: every test case in one test suite, its
    counts and time the sums of theirs (pytest writes one suite per run)."""
    merged = ET.Element("testsuite", name="pytest")
    totals = dict.fromkeys(_COUNTS, 0)
    seconds = 0.0
    for file in files:
        try:
            root = ET.parse(file).getroot()
        except (OSError, ET.ParseError) as exc:
            raise ShardMismatch(f"{file}: not a JUnit XML file ({exc})") from None
        for suite in root.iter("testsuite"):
            for key in _COUNTS:
                totals[key] += int(suite.get(key, 0))
            seconds += float(suite.get("time", 0))
            merged.extend(suite.findall("testcase"))
    merged.attrib.update({key: str(n) for key, n in totals.items()}, time=f"{seconds:.3f}")
    document = ET.Element("testsuites", name="pytest tests")
    document.append(merged)
    return ET.tostring(document, encoding="unicode", xml_declaration=True)


def durations(results: Results) -> dict[str, float]:
    """Each test's duration, as pytest-split reads them (``--durations-path``): an earlier report
    balances the next run's shards."""
    return {t.nodeid: t.duration_s for t in results.tests if t.duration_s is not None}
