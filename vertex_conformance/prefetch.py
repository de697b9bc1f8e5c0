"""``--concurrency N``: the requests of a live or record run overlap inside one process, while every
test stays an ordinary pytest test that runs, judges and reports in pytest's main loop.

A live run waits on the network, not the CPU, so the waiting is what overlaps. N threads run the
collected conformance tests *ahead* of the main loop (in its order, at most ``2 * N`` tests ahead),
each a *planning run*: the test function called with a stand-in for the ``conformance`` fixture
that builds calls exactly as the fixture does, really sends them (the same lane runner, tokens,
configuration and budget), keeps each result (the exchange or the exception raised) as the test's
n-th send, and judges nothing. One thread runs one test from start to end, so the requests of a
multi-turn case keep their order: the second is built from the first answer. Then the main loop
runs the test as always; ``Conformance.send`` asks for its n-th send (``take``, waiting until it is
ready) and uses it when it is the call the test builds now (lane, URL, body, parse model):
the exchange, or the very exception, raised again in the main thread so it is classified there
exactly as a send of its own (infra, error, a run stopped). Anything else is a *miss*: the test
sends for itself and the miss is counted (the shipped suites have none: tests/test_concurrency.py).

A test is sent ahead only when its function takes ``conformance`` and direct parameters alone; one
that needs any other fixture runs as before. The main loop also sends for itself a test no thread
has started by the time it gets there (it never waits for a free thread). Nothing of a planning run
writes a record, a report, a snapshot or a cassette: that is the main loop's, as before.

The budget (``--max-total-tokens``) admits each send made ahead as it admits the main loop's
(``reserve``, ``spend`` when the answer comes, ``release``), the tests' first sends in the tests'
order; a spent budget sends nothing more, and the main loop marks the tests left as not run, as
before. Credentials refused (a 401, a refresh that failed) also end the sends ahead: the main loop
stops the run at that test. ``stop`` ends the threads with the main loop (its end, ``-x``, the
budget, Ctrl-C, SIGTERM): no new request starts after it, and it waits ``_GRACE`` seconds at most
for the ones in flight, which are daemon threads' and end with the process.

Record mode: vcrpy records by patching the HTTP library for the whole process, so a cassette
active in the main loop would also record what the threads send. With the prefetcher on, no
cassette is active (pytest-recording is turned off, ``conformance_run.start``); instead vcrpy's own
httpx and httpx2 recording patches are installed once for the run, keeping each interaction for the
thread that sent it (a thread that is not sending for a test, such as the client lanes' gateway,
passes straight through), and the main loop writes each test's cassette from the interactions of
its sends, through a vcrpy ``Cassette`` built from the suite's own configuration (``vcr_config``:
the filters that scrub, the serializer, the persister's last gate), as pytest-recording would.

Under pytest-xdist each worker has its own threads and reads what its controller has handed it
(``WorkerInteractor``'s queue: an xdist internal; where it is missing, the worker sends ahead
nothing and works as before).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import httpx
import httpx2
import pytest
from vcr import VCR
from vcr.cassette import Cassette
from vcr.stubs.httpx_stubs import vcr_handle_async_request, vcr_handle_request

from . import lanes, recording, resilience, stash
from .budget import TokenBudget
from .config import ConfigError, RunConfig
from .conformance import Conformance, answer_usage
from .exchange import Exchange
from .vocabulary import Mode, lane

PREFETCHER = pytest.StashKey["Prefetcher"]()
STATS = pytest.StashKey["Stats"]()  # the run's figures (the sum of its workers' under xdist)
STATS_KEY = "vertex_conformance_prefetch"  # the workeroutput entry with a worker's figures
_GRACE = 2.0  # seconds ``stop`` waits for requests in flight before leaving them to the process's end
_POLL = 0.05  # seconds between looks while waiting: Ctrl-C stays prompt, an xdist queue is re-read
_FIXTURE = "conformance"
_DIRECT = "get_direct_param_fixture_func"  # pytest's fixture for a direct parameter (not a fixture)
TARGET_PARAMETER = "vertex_target"  # what conformance_run parametrizes with each --targets entry


class _Halt(BaseException):
    """Ends a planning run: the budget is spent, the run is stopping, or the test ends at this send."""


@dataclass
class Sent:
    """One send made ahead: the call, and what came of it (an exchange or an exception), with the
    interactions the recorder kept for it (record mode)."""

    lane: str
    call: lanes.Call
    exchange: Exchange | None = None
    error: BaseException | None = None
    interactions: list[tuple[Any, Any]] = field(default_factory=list)

    def result(self) -> Exchange:
        """The exchange, or the exception the send raised, raised again here (the main thread)."""
        if self.error is not None:
            raise self.error
        assert self.exchange is not None
        return self.exchange


@dataclass
class _Slot:
    """One test's sends made ahead. ``planned``: a thread runs it (else the main loop sends for it);
    ``done``: its planning run ended; ``halted``: by the budget or the stop, not by the test."""

    planned: bool
    sent: list[Sent] = field(default_factory=list)
    done: bool = False
    halted: bool = False
    turn: int = -1  # the order its first send asks the budget in (tests' order; -1: none to keep)


@dataclass
class Stats:
    """What the report says of the prefetcher: sends made ahead, and the misses among them."""

    concurrency: int
    ahead: int = 0
    used: int = 0
    misses: int = 0

    def figures(self) -> dict[str, int]:
        return {"ahead": self.ahead, "used": self.used, "misses": self.misses}

    def add(self, other: dict[str, int]) -> None:
        self.ahead += other.get("ahead", 0)
        self.used += other.get("used", 0)
        self.misses += other.get("misses", 0)

    def line(self) -> str:
        return (
            f"--concurrency {self.concurrency}: {self.ahead} requests sent ahead, {self.used} used, "
            f"{self.misses} prefetch misses"
        )


@dataclass(frozen=True)
class Plan:
    """How a planning run calls a test: its function, its arguments but ``conformance``, and its
    ``--targets`` target (the ``conformance`` fixture's configuration is then the target's)."""

    function: Callable[..., Any]
    kwargs: dict[str, Any]
    target: Any = None


def plan_of(item: pytest.Item) -> Plan | None:
    """How a planning run can call ``item``, if it can: a conformance test (it has a form) whose
    arguments are the ``conformance`` fixture and direct parameters alone."""
    function = getattr(item, "obj", None)
    if not callable(function) or item.get_closest_marker("form") is None:
        return None
    params = item.callspec.params if hasattr(item, "callspec") else {}
    fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    try:
        arguments = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read: the test runs as before
        return None
    if _FIXTURE not in arguments:
        return None
    kwargs: dict[str, Any] = {}
    for name, argument in arguments.items():
        if name == _FIXTURE or (name not in params and argument.default is not inspect.Parameter.empty):
            continue
        definitions = fixtures.get(name) or ()
        if name not in params or (definitions and definitions[-1].func.__name__ != _DIRECT):
            return None  # another fixture, or a parameter given to one (indirect)
        kwargs[name] = params[name]
    return Plan(function, kwargs, params.get(TARGET_PARAMETER))


@dataclass
class _Planning(Conformance):
    """The ``conformance`` fixture's stand-in in a planning run: it builds calls as the fixture does
    (``gemini``, ``endpoint``: the same code), sends through the prefetcher, and judges nothing.
    It has no pytest request and leaves nothing on the test item: its draft record is its own."""

    owner: Prefetcher | None = None
    slot: _Slot | None = None

    def __post_init__(self) -> None:
        self.draft = stash.Draft({})

    def send(self, lane_id: str, call: lanes.Call) -> Exchange:
        assert self.owner is not None and self.slot is not None
        return self.owner.send_ahead(self.slot, lane_id, call)

    def verify(self, *exchanges: Exchange, **options: Any) -> None:
        return None


class _Recorder:
    """vcrpy's httpx and httpx2 recording patches, installed once for the run, that keep each
    interaction for the thread that sent it (``capturing``); a thread that is not capturing goes
    straight to the real transport. It stands in for a vcrpy cassette in vcrpy's own stubs: it
    plays nothing, protects nothing, and ``append`` keeps the pair as it came (the test's cassette
    applies the filters when the main loop writes it)."""

    write_protected = False

    def __init__(self) -> None:
        self._local = threading.local()
        self._patches = ExitStack()

    def can_play_response_for(self, request: Any) -> bool:
        return False

    def append(self, request: Any, response: Any) -> None:
        self._local.pairs.append((request, response))

    @contextmanager
    def capturing(self) -> Iterator[list[tuple[Any, Any]]]:
        self._local.pairs = pairs = []
        try:
            yield pairs
        finally:
            self._local.pairs = None

    def install(self) -> None:
        for library in (httpx, httpx2):
            for owner, name, stub in (
                (library.HTTPTransport, "handle_request", vcr_handle_request),
                (library.AsyncHTTPTransport, "handle_async_request", vcr_handle_async_request),
            ):
                real = getattr(owner, name)
                patch = mock.patch.object(owner, name, self._dispatch(real, stub(self, real, library)))
                self._patches.enter_context(patch)

    def uninstall(self) -> None:
        self._patches.close()

    def _dispatch(self, real: Callable[..., Any], recorded: Callable[..., Any]) -> Callable[..., Any]:
        local = self._local

        @functools.wraps(real)
        def handle(transport: Any, request: Any) -> Any:  # sync, or the coroutine of the async one
            return (recorded if getattr(local, "pairs", None) is not None else real)(transport, request)

        return handle


def _cassette(request: pytest.FixtureRequest) -> Cassette:
    """The test's cassette, as pytest-recording would open it in record mode: the same directory
    and name, and the suite's ``vcr_config`` (filters, serializer, persister, replacing what it held)."""
    config = request.config
    vcr = VCR(
        path_transformer=VCR.ensure_suffix(f".{recording.SERIALIZER_NAME}"),
        cassette_library_dir=request.getfixturevalue("vcr_cassette_dir"),
        record_mode="all",
    )
    config.hook.pytest_recording_configure(config=config, vcr=vcr)
    options = {**request.getfixturevalue("vcr_config"), "record_mode": "all"}
    merged = vcr.get_merged_config(path=request.getfixturevalue("default_cassette_name"), **options)
    transform = merged.pop("path_transformer")
    for unused in ("func_path_generator", "record_on_exception"):
        merged.pop(unused, None)
    merged["path"] = transform(merged["path"])
    return Cassette.load(**merged)


class Prefetcher:
    """The threads that send ahead of the main loop, and what they sent (see the module docstring)."""

    def __init__(self, session: pytest.Session, cfg: RunConfig, tokens: Any, budget: TokenBudget) -> None:
        self._session = session
        self._cfg, self._tokens, self._budget = cfg, tokens, budget
        self._window = 2 * cfg.concurrency
        self._changed = threading.Condition()
        self._slots: dict[str, _Slot] = {}
        self._plans: dict[str, Plan | None] = {}
        self._index = {item.nodeid: i for i, item in enumerate(session.items)}
        self._position = 0
        self._current: str | None = None
        self._handed = _xdist_queue(session.config)
        self._stopped = False
        self._refused = False
        self._turns = 0  # turns handed out to planning runs, in the tests' order
        self._turns_taken: set[int] = set()
        self._next_turn = 0
        self._sends: dict[str, int] = {}  # the main loop's sends so far, per test
        self._cassettes: dict[str, Cassette] = {}
        self._recorder = _Recorder() if cfg.mode is Mode.RECORD else None
        self.stats = Stats(cfg.concurrency)
        self._threads = [
            threading.Thread(target=self._work, name=f"vertex-conformance-prefetch-{n}", daemon=True)
            for n in range(cfg.concurrency)
        ]

    def start(self) -> None:
        if self._recorder is not None:
            self._recorder.install()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """No request starts after this; requests in flight get ``_GRACE`` seconds to end."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        deadline = time.monotonic() + _GRACE
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._recorder is not None:
            self._recorder.uninstall()

    # --- the main loop's side ----------------------------------------------------------------

    def reached(self, item: pytest.Item) -> None:
        """The main loop starts ``item`` (its ``conformance`` fixture is made): what the last test
        kept is let go, and the window moves on. A test no thread can take (a planning run cannot
        call it) is the main loop's to send; any other is the next free thread's (it is first in
        the window), so no more than N requests are in flight at once."""
        with self._changed:
            if self._current is not None and (done := self._slots.get(self._current)) is not None:
                done.sent.clear()
            self._cassettes.pop(self._current or "", None)
            self._current = item.nodeid
            self._position = self._index.get(item.nodeid, self._position)
            self._sends[item.nodeid] = 0
            if item.nodeid not in self._slots and item not in self._candidates():
                self._slots[item.nodeid] = _Slot(planned=False, done=True)
            self._changed.notify_all()

    def take(self, request: pytest.FixtureRequest, lane_id: str, call: lanes.Call) -> Sent | None:
        """The test's next send when it was made ahead as ``call`` in ``lane_id`` (waiting for it);
        None when the test must send for itself (a miss is counted)."""
        nodeid = request.node.nodeid
        index = self._sends.get(nodeid, 0)
        self._sends[nodeid] = index + 1
        with self._changed:
            while (slot := self._slots.get(nodeid)) is None and not self._stopped:
                if request.node not in self._candidates() or not any(t.is_alive() for t in self._threads):
                    slot = self._slots[nodeid] = _Slot(planned=False, done=True)  # no thread will take it
                    break
                self._changed.wait(_POLL)  # a thread takes it next
            if slot is None or not slot.planned:
                return None
            while len(slot.sent) <= index and not slot.done:
                self._changed.wait(_POLL)
            sent = slot.sent[index] if index < len(slot.sent) else None
            halted = slot.halted
        if sent is None or sent.lane != lane_id or sent.call != call:
            if sent is not None or not halted:
                self.stats.misses += 1
            return None
        self.stats.used += 1
        self._record(request, sent.interactions)
        return sent

    def send_here(
        self, request: pytest.FixtureRequest, chosen: Any, call: lanes.Call, tokens: Any
    ) -> Exchange:
        """Send from the main loop (record mode keeps the interactions for the test's cassette)."""
        with self._capturing() as interactions:
            try:
                return chosen.send(call, tokens)  # type: ignore[no-any-return]
            finally:
                self._record(request, interactions)

    def _record(self, request: pytest.FixtureRequest, interactions: list[tuple[Any, Any]]) -> None:
        """Add a send's interactions to the test's cassette, written when the test ends (as
        pytest-recording writes it). Only a test that has a cassette: a client lane records nothing."""
        if self._recorder is None or request.node.get_closest_marker("vcr") is None:
            return
        nodeid = request.node.nodeid
        if (cassette := self._cassettes.get(nodeid)) is None:
            cassette = self._cassettes[nodeid] = _cassette(request)
            request.addfinalizer(cassette._save)  # vcrpy's own save: only when something was recorded
        for interaction in interactions:
            cassette.append(*interaction)

    # --- the threads' side -------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._stopped and (item := self._next()) is None:
                    self._changed.wait(_POLL)
                if self._stopped:
                    return
                slot = self._slots[item.nodeid] = _Slot(planned=True, turn=self._turns)
                self._turns += 1
            self._plan(item, slot)

    def _next(self) -> pytest.Item | None:
        """The first test of the window that no thread has started."""
        return next((item for item in self._candidates() if item.nodeid not in self._slots), None)

    def _candidates(self) -> list[pytest.Item]:
        """The tests the main loop runs from now, in its order, as far as the window reaches, that a
        planning run can call."""
        items = self._session.items
        if self._handed is None:
            upcoming = items[self._position : self._position + self._window]
        else:
            upcoming = [items[i] for i in self._handed()[: self._window]]
        for item in upcoming:
            if item.nodeid not in self._plans:
                self._plans[item.nodeid] = plan_of(item)
        return [item for item in upcoming if self._plans[item.nodeid] is not None]

    def _plan(self, item: pytest.Item, slot: _Slot) -> None:
        plan = self._plans[item.nodeid]
        assert plan is not None
        stand_in = _Planning(  # as the `conformance` fixture builds it, but for the request and snapshot
            request=None,  # type: ignore[arg-type]
            config=plan.target.config if plan.target is not None else self._cfg,
            tokens=self._tokens,
            snapshot=None,
            target=plan.target,
            owner=self,
            slot=slot,
        )
        try:
            plan.function(conformance=stand_in, **plan.kwargs)
        except BaseException:  # whatever ended it, the main loop meets it again, in the test itself
            pass
        finally:
            with self._changed:
                slot.done = True
                self._take_turn(slot)  # a test that ended before its first send passes its turn on
                self._changed.notify_all()

    def send_ahead(self, slot: _Slot, lane_id: str, call: lanes.Call) -> Exchange:
        """A planning run's send: admitted by the budget, kept as the test's next send."""
        if not self._admitted(slot):
            slot.halted = True
            raise _Halt
        sent = Sent(lane_id, call)
        try:
            with self._capturing() as sent.interactions:
                sent.exchange = lane(lane_id).send(call, self._tokens)
        except BaseException as exc:
            sent.error = exc
            self._refused = self._refused or isinstance(exc, ConfigError)  # a credential refresh failed
            raise
        else:
            self._budget.spend(answer_usage(sent.exchange))
        finally:
            self._budget.release()
            with self._changed:
                slot.sent.append(sent)
                self.stats.ahead += 1
                self._changed.notify_all()
        if sent.exchange.status == httpx.codes.UNAUTHORIZED and self._tokens is not None:
            self._refused = True  # the credentials are refused: the main loop ends the run at this test
        if sent.exchange.status == httpx.codes.UNAUTHORIZED or resilience.classify(sent.exchange):
            raise _Halt  # the test ends at this answer: nothing after it is sent
        return sent.exchange

    def _admitted(self, slot: _Slot) -> bool:
        """Whether a send ahead may start: not after the stop, nor once the credentials were refused
        (the run ends at that test), nor past the budget. Under a ceiling (``--max-total-tokens``)
        tests ask the budget for their first send in their order, so the last tokens go to the
        tests the main loop runs first, as in a run without concurrency."""
        if self._budget.max_total_tokens is not None and slot.turn >= 0:
            with self._changed:
                while self._next_turn < slot.turn and not self._stopped:
                    self._changed.wait(_POLL)
        try:
            if self._stopped or self._refused or not self._budget.reserve():
                return False
        finally:
            with self._changed:
                self._take_turn(slot)
                self._changed.notify_all()
        if self._stopped or self._refused:
            self._budget.release()
            return False
        return True

    def _take_turn(self, slot: _Slot) -> None:
        """``slot`` has asked the budget (or will not): the next test's turn comes (under the lock)."""
        if slot.turn >= 0:
            self._turns_taken.add(slot.turn)
            slot.turn = -1
        while self._next_turn in self._turns_taken:
            self._turns_taken.discard(self._next_turn)
            self._next_turn += 1

    def _capturing(self) -> Any:
        return self._recorder.capturing() if self._recorder is not None else nullcontext([])


def _xdist_queue(config: pytest.Config) -> Callable[[], list[int]] | None:
    """In an xdist worker, what reads the indices of the tests its controller has handed it, the
    next first (``WorkerInteractor``'s queue, an xdist internal: where it is missing, none)."""
    if not hasattr(config, "workerinput"):
        return None
    found = [
        plugin
        for plugin in config.pluginmanager.get_plugins()
        if hasattr(plugin, "nextitem_index") and hasattr(getattr(plugin, "torun", None), "lock")
    ]
    if not found:
        return list
    interactor = found[0]

    def handed() -> list[int]:  # the test it runs (``item_index``), the next, then the queue
        with interactor.torun.lock() as queue:
            indices = (getattr(interactor, "item_index", None), interactor.nextitem_index, *queue)
        return [i for i in indices if isinstance(i, int)]

    return handed


def start(session: pytest.Session, cfg: RunConfig, tokens: Any, budget: TokenBudget) -> Prefetcher | None:
    """A started prefetcher for this run's main loop, or None: replay, ``--concurrency 1``, a run
    that calls no test (``--collect-only``, ``--setup-only``, ``--setup-plan``), or xdist's
    controller (its workers run the tests)."""
    config = session.config
    calls_no_test = any(
        getattr(config.option, name, False) for name in ("collectonly", "setuponly", "setupplan")
    )
    if (
        not cfg.mode.sends
        or cfg.concurrency < 2
        or calls_no_test
        or config.pluginmanager.has_plugin("dsession")
    ):
        return None
    prefetcher = Prefetcher(session, cfg, tokens, budget)
    config.stash[PREFETCHER] = prefetcher
    prefetcher.start()
    return prefetcher


def records_itself(cfg: RunConfig) -> bool:
    """Whether the prefetcher writes the cassettes of this run (pytest-recording must then not)."""
    return cfg.mode is Mode.RECORD and cfg.concurrency > 1
