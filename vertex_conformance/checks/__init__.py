"""Checks: pure functions from an exchange to findings, one requirement each.

A check is declared with ``@check(id, statement, source, where, applies=...)``: that declares
the requirement and registers the function that evaluates it. ``evaluate`` runs every check that
applies to an exchange and returns ``{requirement id: [findings] | None}`` for each of them, so the
report can tell a requirement that held (empty list) from one that applied but found nothing to
judge (``None``: a tool-call check on an answer without tool calls) and from one that was never
evaluated (absent). A check says "nothing to judge" by yielding ``NOTHING`` (once, when its subject
is absent); a check that yields nothing at all held. Only a held requirement is a pass: a form whose
feature never showed up must not pass the checks of that feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..assembly import Assembled, as_list, assemble
from ..exchange import Exchange
from ..findings import Finding
from ..requirements import Requirement, Source, requirement
from ..vocabulary import Profile

Violation = tuple[str, str]  # (json path, message)


class _Nothing:
    """The type of ``NOTHING``: what a check yields when the answer holds nothing it could judge."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING = _Nothing()
Yielded = Violation | _Nothing
Results = dict[str, list[Finding] | None]


@dataclass
class Context:
    """What a check sees: the exchange, the profile it is held to, and derived views computed once."""

    exchange: Exchange
    profile: Profile = Profile.VERTEX
    observations: dict[str, Any] = field(default_factory=dict)  # facts for the report, not verdicts

    @property
    def request(self) -> Any:
        """The request body as sent (parsed JSON), or ``None`` when unknown."""
        return self.exchange.request.body if self.exchange.request else None

    @property
    def chunks(self) -> list[tuple[int, Any]]:
        return self.exchange.chunks

    @cached_property
    def assembled(self) -> Assembled:
        return assemble(self.exchange.chunks)

    def answer_messages(self) -> Iterator[tuple[str, Any]]:
        """``(path, message)`` for every choice: the returned one, or the one assembled from the stream."""
        if self.exchange.streamed:
            for index, choice in sorted(self.assembled.choices.items()):
                yield f"$.assembled.choices[{index}].message", choice.to_message()
            return
        body = self.exchange.body if isinstance(self.exchange.body, dict) else {}
        for position, choice in enumerate(as_list(body.get("choices"))):
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                yield f"$.response.choices[{position}].message", choice["message"]

    def media_type_is(self, expected: str) -> Iterator[Violation]:
        """A violation when the answer's Content-Type (parameters aside) is not ``expected``."""
        media_type = self.exchange.content_type.split(";")[0].strip().lower()
        if media_type != expected:
            yield "$.headers.content-type", f"expected {expected}, got {self.exchange.content_type!r}"

    def answer_usage(self) -> tuple[str, Any]:
        """``(path, usage)``: the body's usage, or the stream's (the last chunk that carried one)."""
        if self.exchange.streamed:
            events = self.assembled.usage_events
            return (f"$.events[{events[-1]}].usage" if events else "$.events", self.assembled.usage)
        body = self.exchange.body if isinstance(self.exchange.body, dict) else {}
        return "$.response.usage", body.get("usage")


@dataclass(frozen=True)
class Check:
    requirement: Requirement
    applies: Callable[[Context], bool]
    run: Callable[[Context], Iterable[Yielded]]

    def verdict(self, ctx: Context) -> list[Finding] | None:
        """The findings of this check on ``ctx`` (empty: held), or ``None`` when it yielded only
        ``NOTHING``: a violation found beside a ``NOTHING`` still counts."""
        rid = self.requirement.id
        findings: list[Finding] = []
        nothing = False
        for item in self.run(ctx):
            if isinstance(item, _Nothing):
                nothing = True
            else:
                findings.append(Finding(rid, *item))
        return None if nothing and not findings else findings


CHECKS: list[Check] = []


def always(ctx: Context) -> bool:
    return True


def check(
    id: str,
    statement: str,
    source: Source,
    where: str,
    applies: Callable[[Context], bool] = always,
) -> Callable[[Callable[[Context], Iterable[Yielded]]], Callable[[Context], Iterable[Yielded]]]:
    """Declare requirement ``id`` and register the decorated function as its check."""

    def register(fn: Callable[[Context], Iterable[Yielded]]) -> Callable[[Context], Iterable[Yielded]]:
        CHECKS.append(Check(requirement(id, statement, source, where), applies, fn))
        return fn

    return register


def evaluate(exchange: Exchange, profile: Profile = Profile.VERTEX) -> tuple[Results, dict[str, Any]]:
    """Run every applicable check. Returns, by requirement id, its findings (empty: held) or ``None``
    (applied, nothing to evaluate), and the observations made."""
    ctx = Context(exchange, profile)
    results: Results = {}
    for registered in CHECKS:
        if registered.applies(ctx):
            results[registered.requirement.id] = registered.verdict(ctx)
    return results, ctx.observations


def failures(results: Results) -> list[Finding]:
    """Every finding, sorted; a requirement with nothing to evaluate (``None``) has none."""
    return sorted(f for findings in results.values() if findings for f in findings)


# Importing the check modules declares their requirements.
from . import (  # noqa: E402,F401
    clients,
    encoding,
    errors,
    media,
    parity,
    probes,
    request,
    request_shape,
    response,
    schema,
    sdk,
    stream,
    structured,
    thinking,
    tools,
    usage,
)
