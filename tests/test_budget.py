"""The token budget: what it counts, when it is exhausted, that threads do not lose tokens, and one
budget for the whole run: the ledger xdist workers share, and admission within one request's worth."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from vertex_conformance.budget import TokenBudget, create_ledger, remove_ledger, token_counts

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


# --- one budget for the whole run: the ledger and admission ------------------------------------


@pytest.fixture
def ledger() -> Iterator[Path]:
    path = create_ledger()
    yield path
    remove_ledger(path)
    assert not path.parent.exists()


def test_workers_on_one_ledger_share_what_they_spend(ledger: Path) -> None:
    first, second = TokenBudget(50, ledger), TokenBudget(50, ledger)  # as two xdist workers
    first.spend(USAGE)
    assert second.spent == 21 and not second.exhausted
    second.spend(USAGE)
    second.spend(USAGE)
    assert first.spent == 63 and first.exhausted
    assert not first.reserve() and not second.reserve()


def test_without_a_ledger_each_budget_keeps_its_own_count() -> None:
    first, second = TokenBudget(50), TokenBudget(50)
    first.spend(USAGE)
    assert second.spent == 0


def test_a_reservation_is_refused_once_the_budget_is_spent_and_holds_nothing(ledger: Path) -> None:
    budget = TokenBudget(20, ledger)
    budget.spend(USAGE)
    assert not budget.reserve()
    assert orjson.loads(ledger.read_bytes())["held"] == {}


def test_without_a_ceiling_reservations_are_free_and_never_wait() -> None:
    budget = TokenBudget(None)
    assert all(budget.reserve() for _ in range(100))
    budget.release()


def reserve_in_thread(budget: TokenBudget) -> tuple[threading.Thread, list[bool]]:
    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(budget.reserve()))
    thread.start()
    return thread, answer


def test_until_an_answer_with_tokens_is_seen_one_request_goes_alone(ledger: Path) -> None:
    budget = TokenBudget(1000, ledger)
    assert budget.reserve()
    thread, answer = reserve_in_thread(budget)
    thread.join(0.3)
    assert answer == [], "a second request went out before anyone knew what one costs"
    budget.spend(USAGE)
    budget.release()
    thread.join(5)
    assert answer == [True]


def test_admission_waits_while_requests_in_flight_could_spend_the_rest_then_refuses(ledger: Path) -> None:
    budget = TokenBudget(100, ledger)
    budget.spend({"total_tokens": 30})  # the largest answer so far: 30
    assert budget.reserve() and budget.reserve() and budget.reserve()  # 30 + 2 x 30 < 100
    thread, answer = reserve_in_thread(budget)  # 30 + 3 x 30 >= 100: waits
    for _ in range(2):
        budget.spend({"total_tokens": 30})
        budget.release()
        thread.join(0.2)
        assert answer == []  # 60 + 2 x 30, then 90 + 1 x 30: still could reach 100
    budget.spend({"total_tokens": 30})
    budget.release()
    thread.join(5)
    assert answer == [False] and budget.spent == 120  # 100 plus less than one request's worth


def test_a_reservation_of_a_worker_that_died_is_dropped(ledger: Path) -> None:
    ledger.write_bytes(orjson.dumps({"spent": 10, "largest": 10, "held": {str(2**31 - 1): 5}}))
    budget = TokenBudget(30, ledger)
    assert budget.reserve()  # 10 + 5 x 10 would have made it wait for ever
    assert orjson.loads(ledger.read_bytes())["held"] == {str(os.getpid()): 1}


def test_concurrent_senders_stay_within_one_request_of_the_ceiling(ledger: Path) -> None:
    ceiling, largest = 500, 17
    budgets = [TokenBudget(ceiling, ledger) for _ in range(2)]  # two "workers"
    barrier = threading.Barrier(8)

    def sender(budget: TokenBudget, cost: int) -> None:
        barrier.wait()
        while budget.reserve():
            time.sleep(0.001)  # the request in flight
            budget.spend({"total_tokens": cost})
            budget.release()

    threads = [threading.Thread(target=sender, args=(budgets[n % 2], 10 + n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert ceiling <= budgets[0].spent < ceiling + largest
