"""A token budget for live runs: stop spending before a run costs more than its owner allowed.
(What each form cost is summed in the report from every test's own count: ``report.token_totals``.)

Usage comes from the responses (``usage`` of a completion or of a stream's last chunk) and is
untrusted: a missing, null or non-integer count adds nothing rather than breaking the run. When
``total_tokens`` is absent it is taken as prompt plus completion.

The budget is shared by the threads of one process; each pytest-xdist worker is a process of its
own and so keeps its own budget.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def token_counts(usage: Any) -> dict[str, int]:
    """Prompt, completion and total tokens of one ``usage`` object (zeros where it says nothing)."""
    if not isinstance(usage, Mapping):
        return dict.fromkeys(COUNTS, 0)
    counts = {key: _count(usage, key) for key in COUNTS}
    if "total_tokens" not in usage or not counts["total_tokens"]:
        counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
    return counts


class TokenBudget:
    """Tokens spent so far against an optional ceiling (``None``: count, never stop)."""

    def __init__(self, max_total_tokens: int | None) -> None:
        valid = (
            isinstance(max_total_tokens, int)
            and not isinstance(max_total_tokens, bool)
            and max_total_tokens >= 0
        )
        if max_total_tokens is not None and not valid:
            raise ValueError(
                f"max_total_tokens must be a non-negative integer or None, not {max_total_tokens!r}"
            )
        self.max_total_tokens = max_total_tokens
        self._lock = threading.Lock()
        self._spent = 0

    def spend(self, usage: Any) -> int:
        """Add one response's ``total_tokens``; returns the tokens spent so far."""
        total = token_counts(usage)["total_tokens"]
        with self._lock:
            self._spent += total
            return self._spent

    @property
    def spent(self) -> int:
        with self._lock:
            return self._spent

    @property
    def exhausted(self) -> bool:
        """True once the ceiling is reached: further live requests should be skipped, not sent."""
        return self.max_total_tokens is not None and self.spent >= self.max_total_tokens
