"""Mutation testing of the checks (tools/mutations.py): the checks notice what breaks the
shipped traffic, every operator is exercised, and every survivor is accounted for."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tools import mutations
from tools.mutations import (
    ALLOWED_SURVIVORS,
    EQUIVALENT_REWRITES,
    OPERATORS,
    Run,
    failing,
    load_subjects,
    render,
)
from vertex_conformance.paths import ROOT

TARGET = 0.98
# Where the score stands with the five gaps in ALLOWED_SURVIVORS open; a drop below it is a regression.


@pytest.fixture(scope="module")
def result() -> Run:
    return mutations.run()


def test_every_shipped_suite_module_gives_subjects(result: Run) -> None:
    suites = {p.name.removeprefix("test_") for p in mutations.SHIPPED.iterdir() if p.is_dir()}
    assert {subject.form for subject in result.subjects} == suites
    assert {subject.kind for subject in result.subjects} == {"plain", "stream", "error"}


def test_a_re_rendered_unmutated_stream_is_not_caught() -> None:
    """The plumbing that rebuilds a stream from its events changes no verdict by itself."""
    for subject in load_subjects():
        if subject.kind == "stream":
            rebuilt = mutations._with(subject, stream_text=render(subject.events))
            assert failing(rebuilt) == failing(subject.exchange), subject.cassette


def test_every_operator_produces_a_mutant_on_the_shipped_cassettes(result: Run) -> None:
    produced = {outcome.mutant.operator for outcome in result.outcomes}
    assert set(OPERATORS) - produced == set()


def test_every_equivalent_rewrite_is_made_and_raises_no_false_alarm(result: Run) -> None:
    assert {outcome.mutant.operator for outcome in result.rewrites} == set(EQUIVALENT_REWRITES)
    assert [(o.mutant.label, sorted(o.new_failures)) for o in result.false_alarms] == []


def test_a_mutant_is_caught_only_by_requirements_its_original_passed(result: Run) -> None:
    before = {id(s): failing(s.exchange) for s in result.subjects}
    assert any(before.values()), "some original fails a known deviation, so the rule is exercised"
    for outcome in result.outcomes:
        assert not outcome.new_failures & before[id(outcome.mutant.subject)]


def test_every_survivor_is_on_the_reasoned_allow_list(result: Run) -> None:
    unexplained = [o.mutant.label for o in result.survivors if o.allowed is None]
    assert unexplained == []


def test_every_allow_list_entry_has_a_reason_and_still_matches_a_survivor(result: Run) -> None:
    for entry in ALLOWED_SURVIVORS:
        assert entry.operator in OPERATORS and len(entry.reason) > 40, entry
        assert any(o.allowed == entry for o in result.survivors), f"stale entry, remove it: {entry}"


def test_the_mutation_score_meets_the_target(result: Run) -> None:
    assert result.score >= TARGET, mutations.format_run(result)


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    """benchmarks/peers.py (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_peers", Path(ROOT, "benchmarks", "peers.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_peer_catches_only_violations_the_original_did_not_have(peers: ModuleType) -> None:
    known = frozenset({("required", "finish_reason")})
    original = [("a", known), ("b", known), ("c", frozenset())]
    assert not peers.adds_violation(original, original)
    assert not peers.adds_violation(original, [*original, ("a", known)]), "a copy adds nothing new"
    assert peers.adds_violation(original, [original[0], original[1], ("c2", known)]), "new on that event"
    assert not peers.adds_violation(original, original[:2]), "a dropped event is no violation"
    assert peers.adds_violation(original, [*original, ("d", frozenset({peers.NOT_JSON}))])


def test_the_peers_judge_a_broken_chunk_and_leave_the_original_alone(peers: ModuleType) -> None:
    stream = next(s for s in load_subjects() if s.form == "streaming" and s.kind == "stream")
    events = mutations._events(stream)
    events[0]["object"] = "chat.completion"
    broken = mutations._stream(stream, events)
    for peer in peers.PEERS:
        assert not peers.adds_violation(peer.units(stream.exchange), peer.units(stream.exchange))
        assert peers.adds_violation(peer.units(stream.exchange), peer.units(broken)), peer.name
