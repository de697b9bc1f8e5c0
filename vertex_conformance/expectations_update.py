"""Rewriting an expectations file from a run: ``vertex-conformance expectations update``.

It only removes what no longer applies, never adds: an entry is removed when the run could have
used it and did not (``expectations.stale``), or when every test it covered passed where it
expected a failure (the deviation is gone). An entry that still excused a finding somewhere but
passed unexpectedly elsewhere is kept and reported: narrowing it is a person's call. New failures
are never turned into entries: a deviation is listed by someone who read its evidence.

The file is edited as text, entry by entry (yaml's node marks give each entry's lines), so the
comments, the order and the wording of the entries that stay are kept exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import yaml

from .expectations import LOADER, Expectation, excused_in, passed_unexpectedly_in, stale
from .results import TestRecord


@dataclass(frozen=True)
class Change:
    """What the update does to one entry, and why."""

    entry: Expectation
    removed: bool
    why: str

    def __str__(self) -> str:
        verb = "removed" if self.removed else "kept"
        return f"{verb} line {self.entry.line} [{self.entry.requirement}]: {self.why}"


def plan(entries: Sequence[Expectation], records: Iterable[TestRecord]) -> list[Change]:
    """The changes a run calls for, in file order (entries it leaves alone are not listed)."""
    judged = [r for r in records if r.judged]
    unused = {e.line for e in stale(entries, judged)}
    changes = []
    for entry in entries:
        known = sum(excused_in(entry, r) for r in judged)
        unexpected = [r.nodeid for r in judged if passed_unexpectedly_in(entry, r)]
        if entry.line in unused:
            why = "stale: tests it covers ran, and none had the finding it excuses"
            changes.append(Change(entry, True, why))
        elif unexpected and not known:
            changes.append(
                Change(entry, True, f"passed unexpectedly in all {len(unexpected)} test(s) it covers: fixed")
            )
        elif unexpected:
            changes.append(
                Change(
                    entry,
                    False,
                    f"passed unexpectedly in {len(unexpected)} test(s) (first: {unexpected[0]}) "
                    f"and failed as listed in {known}: narrow it by hand",
                )
            )
    return changes


def without(text: str, lines: set[int]) -> str:
    """``text`` (an expectations file) without the entries that start on ``lines`` (1-based). An
    entry's lines run from its first key to the end of its last value (comments after it belong to
    what follows); a blank line the removal would leave doubled goes with it."""
    root = yaml.compose(text, Loader=LOADER)
    kept = text.splitlines(keepends=True)
    drop: set[int] = set()
    for node in root.value if root is not None else []:
        first = node.start_mark.line
        if first + 1 not in lines:
            continue
        end = _end(node)
        after = end.line + 1 if end.column else end.line
        drop.update(range(first, after))
        blank_before = first == 0 or not kept[first - 1].strip()
        if blank_before and after < len(kept) and not kept[after].strip():
            drop.add(after)
        elif blank_before and after >= len(kept) and first:
            drop.add(first - 1)  # the file's last entry: no blank line left at its end
    return "".join(line for number, line in enumerate(kept) if number not in drop)


def _end(node: yaml.Node) -> yaml.Mark:
    """Where a node's text ends. A block collection's own end mark lies at the next token, past any
    comments in between, so it is its last value's end; a flow collection ends at its bracket."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark
