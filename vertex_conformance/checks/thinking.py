"""Thinking (docs/spec.md forms 5 and 7): thought tags in the text, and the reasoning tokens in usage.

Each check applies only when the request's ``extra_body.google`` asked for what it judges: a
``thought_tag_marker`` (the tags), ``thinking_config.include_thoughts`` (the reasoning tokens and
tagged thoughts), a ``thinking_config.thinking_budget`` (the budget). Streams are judged on the
assembled text, so a tag split across chunks is one tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..extensions import google
from ..requirements import Source
from . import NOTHING, Context, Yielded, check
from ._predicates import answered

SEED_THINKING = "Beispielanfragen: thinking_config mit extra_body verwenden (curl sample)"
SEED_MARKER = "Beispiele für extra_body: thought_tag_marker hinzufügen"


def _marker(ctx: Context) -> str | None:
    marker = google(ctx.request, "extra_body").get("thought_tag_marker")
    return marker if isinstance(marker, str) and marker else None


def _thinking_config(ctx: Context) -> dict[str, Any]:
    config = google(ctx.request, "extra_body").get("thinking_config")
    return config if isinstance(config, dict) else {}


def _budget(ctx: Context) -> int | None:
    """The thinking budget asked for: a token count (0 turns thinking off). ``-1`` (dynamic) and
    anything that is not a non-negative integer set no limit."""
    budget = _thinking_config(ctx).get("thinking_budget")
    return budget if isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0 else None


def _include_thoughts(ctx: Context) -> bool:
    return _thinking_config(ctx).get("include_thoughts") is True


def _reasoning(ctx: Context) -> tuple[str, Any]:
    """The path and value of usage.completion_tokens_details.reasoning_tokens (``None`` when absent)."""
    path, usage = ctx.answer_usage()
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    value = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return f"{path}.completion_tokens_details.reasoning_tokens", value


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _texts(ctx: Context) -> Iterator[tuple[str, str]]:
    """``(path, text)`` of every answer message that has text (assembled, for streams)."""
    for path, message in ctx.answer_messages():
        if isinstance(message.get("content"), str):
            yield f"{path}.content", message["content"]


@check(
    "thinking.tags-balanced",
    "With thought_tag_marker M, every <M> in the answer's text is closed by </M> before the next "
    "opens, and no </M> comes without one.",
    Source.SEED,
    f"{SEED_MARKER}: thoughts are wrapped in <M>…</M> in the text",
    applies=lambda ctx: answered(ctx) and _marker(ctx) is not None,
)
def tags_balanced(ctx: Context) -> Iterator[Yielded]:
    marker = _marker(ctx)
    tag = re.compile(f"<(/?){re.escape(marker)}>")
    texts = list(_texts(ctx))
    if not texts:
        yield NOTHING  # no text to hold tags (a tool-call or image answer)
    for path, text in texts:
        open_at = None
        for match in tag.finditer(text):
            if match.group(1) and open_at is None:
                yield path, f"</{marker}> at character {match.start()} closes no <{marker}>"
            elif match.group(1):
                open_at = None
            elif open_at is not None:
                yield path, f"<{marker}> at character {match.start()} opens inside the one at {open_at}"
            else:
                open_at = match.start()
        if open_at is not None:
            yield path, f"<{marker}> at character {open_at} is never closed"


@check(
    "thinking.thoughts-tagged",
    "With include_thoughts, a thought_tag_marker M and reasoning_tokens > 0, the answer's text holds "
    "at least one non-empty <M>…</M> block.",
    Source.SEED,
    f"{SEED_THINKING}; {SEED_MARKER}",
    applies=lambda ctx: answered(ctx) and _include_thoughts(ctx) and _marker(ctx) is not None,
)
def thoughts_tagged(ctx: Context) -> Iterator[Yielded]:
    if (_count(_reasoning(ctx)[1]) or 0) <= 0:
        yield NOTHING  # no reasoning reported: no thought to look for (thinking.reasoning-tokens judges that)
        return
    marker = _marker(ctx)
    block = re.compile(f"<{re.escape(marker)}>(.*?)</{re.escape(marker)}>", re.DOTALL)
    texts = list(_texts(ctx))
    if not any(m.group(1).strip() for _, text in texts for m in block.finditer(text)):
        reasoning_path, reasoning = _reasoning(ctx)
        path = texts[0][0] if texts else reasoning_path
        yield path, f"reasoning_tokens is {reasoning}, yet no <{marker}>…</{marker}> block has text"


@check(
    "thinking.reasoning-tokens",
    "With include_thoughts (and a budget other than 0), usage reports "
    "completion_tokens_details.reasoning_tokens > 0.",
    Source.SEED,
    f"{SEED_THINKING}; docs/spec.md#form-7-thinking: "
    "usage reports completion_tokens_details.reasoning_tokens",
    applies=lambda ctx: answered(ctx) and _include_thoughts(ctx) and _budget(ctx) != 0,
)
def reasoning_tokens(ctx: Context) -> Iterator[Yielded]:
    path, value = _reasoning(ctx)
    if not isinstance(ctx.answer_usage()[1], dict):
        yield NOTHING  # no usage at all: usage.present reports it
    elif value is None:
        yield path, "include_thoughts was asked for but usage reports no reasoning_tokens"
    elif (_count(value) or 0) <= 0:
        yield path, f"include_thoughts was asked for but reasoning_tokens is {value!r}"


@check(
    "thinking.budget",
    "reasoning_tokens does not exceed the thinking_budget the request gave.",
    Source.SEED,
    f"{SEED_THINKING}: thinking_budget 10000",
    applies=lambda ctx: answered(ctx) and _budget(ctx) is not None,
)
def budget(ctx: Context) -> Iterator[Yielded]:
    path, value = _reasoning(ctx)
    if _count(value) is None:
        yield NOTHING  # no reasoning count to hold to the budget
    elif value > _budget(ctx):
        yield path, f"reasoning_tokens {value} exceeds thinking_budget {_budget(ctx)}"
