"""A token budget for live runs: stop spending before a run costs more than its owner allowed.
(What each form cost is summed in the report from every test's own count: ``report.token_totals``.)

Usage comes from the responses (``usage`` of a completion or of a stream's last chunk) and is
untrusted: a missing, null or non-integer count adds nothing rather than breaking the run. When
``total_tokens`` is absent it is taken as prompt plus completion.

One budget holds for the whole run, within one request's worth of tokens:

- across pytest-xdist workers through a ledger: a small JSON file the controller creates in a temp
  directory (``create_ledger``; its path goes to every worker), locked with ``fcntl.flock`` for each
  read and change, and removed at the end (``remove_ledger``). Without xdist the budget lives in the
  process, as before;
- by admission: before a send, ``reserve()``. It refuses (False: the budget is spent) when the
  tokens spent reach the ceiling, and waits while the tokens spent plus the requests in flight, each
  counted as the largest answer seen so far, would reach it: in-flight requests may finish and
  leave room, or spend the rest. Until an answer with tokens has been seen nobody knows what one
  costs, so one request goes alone first. Concurrent senders therefore cannot overshoot by more
  than about one request (one larger than any seen before is the "about"). ``release()`` after the
  send, whatever happened; a reservation of a worker that died is dropped by the next look.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")
T = TypeVar("T")


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


LEDGER_KEY = "vertex_conformance_budget_ledger"  # the workerinput entry with the ledger's path
_POLL = 0.02  # seconds between looks at the ledger while a reservation waits


def create_ledger() -> Path:
    """A fresh, empty ledger in a directory of its own (the controller's, before workers start)."""
    path = Path(tempfile.mkdtemp(prefix="vertex-conformance-budget-")) / "ledger.json"
    path.write_bytes(b"{}")
    return path


def remove_ledger(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


@dataclass
class _Account:
    """What the ledger holds: tokens spent, the largest single answer, reservations per process."""

    spent: int = 0
    largest: int = 0
    held: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, data: bytes) -> _Account:
        document = orjson.loads(data or b"{}")
        return cls(document.get("spent", 0), document.get("largest", 0), dict(document.get("held", {})))

    def in_flight(self) -> int:
        return sum(self.held.values())

    def forget_the_dead(self) -> None:
        for pid in [p for p in self.held if int(p) != os.getpid() and not _alive(int(p))]:
            del self.held[pid]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TokenBudget:
    """Tokens spent so far against an optional ceiling (``None``: count, never stop); with a
    ``ledger`` (a path from ``create_ledger``), the run's tokens, whichever process spent them."""

    def __init__(self, max_total_tokens: int | None, ledger: Path | None = None) -> None:
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
        self.ledger = ledger
        self._cond = threading.Condition()
        self._account = _Account()
        self._pid = str(os.getpid())

    def _change(self, change: Callable[[_Account], T]) -> T:
        """Apply ``change`` to the account (the ledger's, under its lock) and wake waiting threads."""
        with self._cond:
            if self.ledger is None:
                result = change(self._account)
            else:
                with self.ledger.open("r+b") as file:
                    fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
                    account = _Account.of(file.read())
                    result = change(account)
                    file.seek(0)
                    file.truncate()
                    file.write(orjson.dumps(asdict(account)))
            self._cond.notify_all()
            return result

    def _read(self) -> _Account:
        if self.ledger is None:
            return self._account
        with self.ledger.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_SH)
            return _Account.of(file.read())

    def spend(self, usage: Any) -> int:
        """Add one response's ``total_tokens``; returns the tokens spent so far."""
        total = token_counts(usage)["total_tokens"]

        def add(account: _Account) -> int:
            account.spent += total
            account.largest = max(account.largest, total)
            return account.spent

        return self._change(add)

    def reserve(self) -> bool:
        """Admit one send, waiting while the requests in flight could spend what is left; False
        when the budget is spent (nothing is reserved then). Without a ceiling, always True."""
        ceiling = self.max_total_tokens
        if ceiling is None:
            return True

        def admit(account: _Account) -> bool | None:
            account.forget_the_dead()
            in_flight = account.in_flight()
            if account.spent >= ceiling:
                return False
            if in_flight and (not account.largest or account.spent + in_flight * account.largest >= ceiling):
                return None  # wait: what is in flight may spend the rest
            account.held[self._pid] = account.held.get(self._pid, 0) + 1
            return True

        while (admitted := self._change(admit)) is None:
            with self._cond:
                self._cond.wait(_POLL)
        return admitted

    def release(self) -> None:
        """End a reservation ``reserve`` granted (after the send, whatever happened to it)."""
        if self.max_total_tokens is None:
            return

        def end(account: _Account) -> None:
            left = account.held.get(self._pid, 0) - 1
            if left > 0:
                account.held[self._pid] = left
            else:
                account.held.pop(self._pid, None)

        self._change(end)

    @property
    def spent(self) -> int:
        with self._cond:
            return self._read().spent

    @property
    def exhausted(self) -> bool:
        """True once the ceiling is reached: further live requests should be skipped, not sent."""
        return self.max_total_tokens is not None and self.spent >= self.max_total_tokens
