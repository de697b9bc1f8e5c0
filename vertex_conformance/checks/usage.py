"""Token usage: present, and adding up by the rule of the profile (the report says which held)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..requirements import Source
from . import NOTHING, Context, Violation, Yielded, check
from ._predicates import answered, openai, vertex


def _counts(usage: Any) -> tuple[int, int, int, int] | None:
    """(prompt, completion, reasoning, total), or None when the numbers are not all integers."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens", 0) if isinstance(details, dict) else 0
    values = (
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        reasoning or 0,
        usage.get("total_tokens"),
    )
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return values  # type: ignore[return-value]


def rule_held(usage: Any) -> str:
    """Which arithmetic the numbers follow: 'vertex' (reasoning on top), 'openai' (reasoning inside
    completion), 'both' (no reasoning, so the rules agree), 'neither', or 'unknown'."""
    counts = _counts(usage)
    if counts is None:
        return "unknown"
    prompt, completion, reasoning, total = counts
    held_vertex = total == prompt + completion + reasoning
    held_openai = total == prompt + completion
    return {(True, True): "both", (True, False): "vertex", (False, True): "openai"}.get(
        (held_vertex, held_openai), "neither"
    )


@check(
    "usage.present",
    "The answer reports usage (the last chunk, for streams), even without stream_options.",
    Source.SEED,
    "every Beispielantwort carries usage; docs/spec.md#more-facts",
    applies=answered,
)
def usage_present(ctx: Context) -> Iterator[Violation]:
    path, usage = ctx.answer_usage()
    if not isinstance(usage, dict):
        yield path, "no usage object"


def _arithmetic(ctx: Context, expected_rule: str, formula: str) -> Iterator[Yielded]:
    path, usage = ctx.answer_usage()
    rule = rule_held(usage)
    ctx.observations["usage_rule"] = rule
    counts = _counts(usage)
    if counts is None:
        yield NOTHING  # no usage, or counts that are not integers: usage.present and the schema report it
        return
    if rule not in (expected_rule, "both"):
        prompt, completion, reasoning, total = counts
        yield (
            f"{path}.total_tokens",
            f"{formula} does not hold: prompt {prompt}, completion {completion}, reasoning {reasoning}, "
            f"total {total} (rule held: {rule})",
        )


@check(
    "usage.vertex-total",
    "total_tokens = prompt_tokens + completion_tokens + reasoning_tokens.",
    Source.SEED,
    "all three sample usages (27+45+504=576, 7+1120+251=1378, 1139+16=1155)",
    applies=lambda ctx: answered(ctx) and vertex(ctx),
)
def vertex_total(ctx: Context) -> Iterator[Yielded]:
    yield from _arithmetic(ctx, "vertex", "total = prompt + completion + reasoning")


@check(
    "usage.openai-total",
    "total_tokens = prompt_tokens + completion_tokens (reasoning counted inside completion).",
    Source.OPENAI,
    "CompletionUsage",
    applies=lambda ctx: answered(ctx) and openai(ctx),
)
def openai_total(ctx: Context) -> Iterator[Yielded]:
    yield from _arithmetic(ctx, "openai", "total = prompt + completion")
