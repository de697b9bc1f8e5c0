"""The token budget: what it counts, when it is exhausted, and that threads do not lose tokens."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from vertex_conformance.budget import TokenBudget, token_counts

USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 5,
    "total_tokens": 21,
}  # Vertex counts thoughts in the total


def test_spend_adds_the_total_tokens_and_the_budget_runs_out_at_its_ceiling() -> None:
    budget = TokenBudget(50)
    assert budget.spend(USAGE) == 21
    assert not budget.exhausted and budget.spent == 21
    assert budget.spend(USAGE) == 42
    assert not budget.exhausted
    budget.spend(USAGE)
    assert budget.exhausted and budget.spent == 63


def test_without_a_ceiling_it_counts_and_never_runs_out() -> None:
    budget = TokenBudget(None)
    budget.spend({"total_tokens": 10**9})
    assert budget.spent == 10**9
    assert not budget.exhausted


def test_a_zero_budget_is_exhausted_before_the_first_request() -> None:
    assert TokenBudget(0).exhausted


@pytest.mark.parametrize("ceiling", [-1, 1.5, "100", True])
def test_a_bad_ceiling_is_refused(ceiling: Any) -> None:
    with pytest.raises(ValueError, match="non-negative integer or None"):
        TokenBudget(ceiling)


@pytest.mark.parametrize(
    ("usage", "counts"),
    [
        (USAGE, (10, 5, 21)),
        ({"prompt_tokens": 7, "completion_tokens": 3}, (7, 3, 10)),
        ({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": None}, (7, 3, 10)),
        ({"prompt_tokens": "7", "completion_tokens": True, "total_tokens": -4}, (0, 0, 0)),
        (None, (0, 0, 0)),
        ("usage", (0, 0, 0)),
        ({}, (0, 0, 0)),
    ],
)
def test_usage_is_untrusted_and_only_whole_counts_are_added(usage: Any, counts: tuple[int, int, int]) -> None:
    assert tuple(token_counts(usage).values()) == counts


def test_concurrent_spending_loses_no_tokens() -> None:
    budget = TokenBudget(None)
    barrier = threading.Barrier(8)

    def worker(form: str) -> None:
        barrier.wait()
        for _ in range(4000):
            budget.spend({"total_tokens": 1})

    threads = [threading.Thread(target=worker, args=(f"form-{n % 2}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert budget.spent == 8 * 4000
