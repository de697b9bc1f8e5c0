"""Mutation testing of the checks (tools/mutations.py): the checks notice what breaks the shipped
traffic, by the requirements each operator targets, counted once per distinct mutated answer; the
no-op control raises no false alarm; every survivor is accounted for; and the peers of
benchmarks/peers.py judge by their own rules."""

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
    PENDING_FALSE_ALARMS,
    Mutant,
    Rewrite,
    Run,
    Subject,
    Tally,
    distinct,
    failing,
    judge,
    load_subjects,
    render,
)
from tools.open_schemas import opened
from vertex_conformance.paths import ROOT
from vertex_conformance.requirements import all_requirements

TARGET = 0.98  # distinct mutated answers caught by a requirement their operator targets


@pytest.fixture(scope="module")
def result() -> Run:
    return mutations.run()


@pytest.fixture(scope="module")
def subjects() -> list[Subject]:
    return load_subjects()


def _subject(subjects: list[Subject], form: str, kind: str) -> Subject:
    return next(s for s in subjects if s.form == form and s.kind == kind)


def _mutant(subject: Subject, exchange, targets: set[str], name: str = "test") -> Mutant:
    return Mutant(name, "made by the test", subject, exchange, frozenset(targets))


def test_every_shipped_suite_module_gives_subjects(result: Run) -> None:
    suites = {p.name.removeprefix("test_") for p in mutations.SHIPPED.iterdir() if p.is_dir()}
    assert {subject.form for subject in result.subjects} == suites
    assert {subject.kind for subject in result.subjects} == {"plain", "stream", "error"}


def test_a_re_rendered_unmutated_stream_is_not_caught(subjects: list[Subject]) -> None:
    """The plumbing that rebuilds a stream from its events changes no verdict by itself."""
    for subject in subjects:
        if subject.kind == "stream":
            rebuilt = mutations.answer_with(subject, stream_text=render(subject.events))
            assert failing(rebuilt) == failing(subject.exchange), subject.cassette


def test_every_operator_produces_a_mutant_on_the_shipped_cassettes(result: Run) -> None:
    produced = {outcome.mutant.operator for outcome in result.outcomes}
    assert set(OPERATORS) - produced == set()


def test_every_operator_targets_declared_requirements() -> None:
    declared = {r.id for r in all_requirements()}
    for op in OPERATORS.values():
        assert op.targets and op.targets <= declared, (op.name, sorted(op.targets - declared))


def test_a_mutant_caught_only_by_a_requirement_it_does_not_target_is_not_credited(
    subjects: list[Subject],
) -> None:
    subject = _subject(subjects, "plain", "plain")
    body = {**subject.exchange.body, "object": "chat.completion.chunk"}
    exchange = mutations.plain_answer(subject, body)
    aimed, astray = judge(
        subject,
        [_mutant(subject, exchange, {"response.object"}), _mutant(subject, exchange, {"usage.present"})],
    )
    assert aimed.caught and aimed.targeted
    assert astray.caught and not astray.targeted
    assert Run([subject], [astray], []).survivors, "an untargeted catch is a survivor"


def test_a_mutant_is_caught_only_by_requirements_its_original_passed(result: Run) -> None:
    before = {id(s): failing(s.exchange) for s in result.subjects}
    for outcome in result.outcomes:
        assert not outcome.new_failures & before[id(outcome.mutant.subject)]


def test_copies_of_one_answer_count_once_and_only_as_what_every_copy_shows(
    subjects: list[Subject],
) -> None:
    plain, global_ = _subject(subjects, "plain", "plain"), _subject(subjects, "global", "plain")
    assert plain.exchange.body_text == global_.exchange.body_text, "two forms share the documented answer"
    body = {**plain.exchange.body, "object": "chat.completion.chunk"}
    outcomes = [
        *judge(plain, [_mutant(plain, mutations.plain_answer(plain, body), {"response.object"})]),
        *judge(global_, [_mutant(global_, mutations.plain_answer(global_, body), {"usage.present"})]),
    ]
    (mutation,) = distinct(outcomes)
    assert len(mutation.outcomes) == 2 and mutation.caught and not mutation.targeted
    assert Tally.of([mutation]) == Tally(total=1, targeted=0, caught=1, schema_only=0, closure_only=0)


def test_the_report_counts_distinct_answers_not_mutants(result: Run) -> None:
    assert len(result.mutations) < len(result.outcomes)
    assert result.tally.total == len({o.mutant.answer for o in result.outcomes})


def test_opening_the_profile_drops_only_the_closure() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {"a": {"type": "object", "additionalProperties": {"type": "string"}}},
    }
    assert opened(schema) == {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "object", "additionalProperties": {"type": "string"}}},
    }


def test_an_unknown_key_is_caught_only_by_the_closure_and_a_dropped_field_is_not(
    subjects: list[Subject],
) -> None:
    subject = _subject(subjects, "plain", "plain")
    unknown = mutations.plain_answer(subject, {**subject.exchange.body, "candidates": []})
    dropped = mutations.plain_answer(subject, {k: v for k, v in subject.exchange.body.items() if k != "id"})
    by_closure, by_schema = judge(
        subject,
        [_mutant(subject, unknown, {"schema.response"}), _mutant(subject, dropped, {"schema.response"})],
    )
    assert by_closure.schema_only and by_closure.closure_only
    assert by_schema.schema_only and not by_schema.closure_only, "a required key holds without the closure"


def test_every_survivor_is_on_the_reasoned_allow_list(result: Run) -> None:
    unexplained = [m.mutant.label for m in result.survivors if m.allowed is None]
    assert unexplained == []


def test_every_allow_list_entry_has_a_reason_and_still_matches_a_survivor(result: Run) -> None:
    for entry in ALLOWED_SURVIVORS:
        assert entry.operator in OPERATORS and len(entry.reason) > 40, entry
        assert any(m.allowed == entry for m in result.survivors), f"stale entry, remove it: {entry}"


def test_the_mutation_score_meets_the_target(result: Run) -> None:
    assert result.score >= TARGET, mutations.format_run(result)


def test_every_no_op_rewrite_is_made_and_changes_the_bytes(result: Run) -> None:
    assert {outcome.mutant.operator for outcome in result.rewrites} == set(EQUIVALENT_REWRITES)
    for outcome in result.rewrites:
        original, rewritten = outcome.mutant.subject.exchange, outcome.mutant.exchange
        assert (rewritten.body_text, rewritten.stream_text) != (original.body_text, original.stream_text), (
            outcome.mutant.label
        )


def test_the_no_op_control_raises_no_false_alarm_but_the_pending_ones(result: Run) -> None:
    alarms = mutations.unexplained(result)[1]
    assert [(o.mutant.label, sorted(o.new_failures)) for o in alarms] == []
    for name, reason in PENDING_FALSE_ALARMS.items():
        assert name in EQUIVALENT_REWRITES and len(reason) > 40, name
        assert any(o.mutant.operator == name for o in result.false_alarms), f"fixed: remove {name}"


def test_a_rewrite_that_changes_what_a_client_sees_is_reported_as_a_false_alarm(
    subjects: list[Subject], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control would notice a check that fails legal traffic: here a "rewrite" that is not one."""
    broken = Rewrite(
        "not a no-op: [DONE] left out",
        "https://example.org/",
        ("stream",),
        lambda s: mutations.stream_answer(s, [e for e in s.events if e != "[DONE]"]),
    )
    monkeypatch.setattr(mutations, "EQUIVALENT_REWRITES", {"drops-done": broken})
    stream = _subject(subjects, "streaming", "stream")
    outcome = mutations.run([stream])
    assert [o.mutant.operator for o in outcome.false_alarms] == ["drops-done"]
    assert mutations.unexplained(outcome)[1] == outcome.false_alarms


def test_the_command_exits_zero_and_prints_the_three_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert mutations.main([]) == 0
    out = capsys.readouterr().out
    for line in ("caught by a requirement the operator targets", "caught by any requirement", "only by the"):
        assert line in out
    assert "false alarms: 0" in out


# --- the peers (benchmarks/peers.py) ----------------------------------------------------------------


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


def _noticed(peers: ModuleType, subject: Subject, exchange) -> dict[str, bool]:
    return {p.name: p.notices(p.view(subject.exchange), p.view(exchange)) for p in peers.PEERS}


def test_no_peer_notices_the_original(peers: ModuleType, subjects: list[Subject]) -> None:
    for subject in (_subject(subjects, "streaming", "stream"), _subject(subjects, "plain", "plain")):
        assert _noticed(peers, subject, subject.exchange) == {p.name: False for p in peers.PEERS}


def test_the_default_client_notices_an_exception_or_a_lost_field_and_nothing_else(
    peers: ModuleType, subjects: list[Subject]
) -> None:
    stream = _subject(subjects, "streaming", "stream")
    events = mutations.event_copies(stream)
    events[0]["object"] = "chat.completion"  # a wrong value: the client builds its objects unchecked
    assert _noticed(peers, stream, mutations.stream_answer(stream, events)) == {
        "openai-schema": True,
        "openai-client": False,
        "openai-client-strict": True,
    }
    cut = mutations.answer_with(stream, stream_text='data: {"id\n\n' + render(stream.events))
    assert _noticed(peers, stream, cut)["openai-client"], "the client raises on an event that is not JSON"
    plain = _subject(subjects, "plain", "plain")
    body = dict(plain.exchange.body)
    body["choices"] = [{k: v for k, v in body["choices"][0].items() if k != "finish_reason"}]
    assert _noticed(peers, plain, mutations.plain_answer(plain, body))["openai-client"], (
        "a field its user reads"
    )


def test_the_comparison_counts_distinct_mutations_per_group(peers: ModuleType, result: Run) -> None:
    chosen = [o for o in result.outcomes if o.mutant.operator == "wrong-object"]
    table = peers.comparison(chosen)
    assert next(iter(table)) == "catalogue" and "wrong-object" in table
    row = table["catalogue"]
    assert set(row) == {peers.SUITE_TARGETED, peers.SUITE_ANY, *(p.name for p in peers.PEERS)}
    assert {cell["total"] for cell in row.values()} == {len(distinct(chosen))}
    assert "catalogue" in peers.format_comparison(table)
