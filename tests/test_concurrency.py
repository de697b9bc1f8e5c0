"""``--concurrency N``: requests overlap inside one process while each test keeps its order, its
outcome and its evidence (``vertex_conformance/prefetch.py``).

The runs are real ``pytest suites --mode live`` (or record) processes against the sample server on
127.0.0.1, behind ``benchmarks/concurrency.py``'s ``Timed`` stand-in, which holds each request a
fixed time and keeps, server-side, when it arrived and when its answer was complete. The client
lanes are left out (they need Node.js and their own packages). Nothing here asserts a timing but the
one thing concurrency is for: requests in flight together, and none after a stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from benchmarks.concurrency import Seen, Timed, peak_in_flight
from tools.sample_server import create_app
from vertex_conformance import auth, lanes, loopback, prefetch, stash
from vertex_conformance.budget import TokenBudget
from vertex_conformance.config import ConfigError, RunConfig
from vertex_conformance.conformance import Conformance
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import ROOT
from vertex_conformance.results import load
from vertex_conformance.scrub import Scrubber
from vertex_conformance.vocabulary import LANES

PROJECT, TOKEN = "concurrency-proj-1", "concurrency-test-token"
CLIENT_LANES = [lane.id for lane in LANES.values() if getattr(lane, "client", False)]
SDK_AND_RAW_LANES = [lane for lane in LANES if lane not in CLIENT_LANES]
NOT_CLIENTS = " and ".join(f"not {c}" for c in CLIENT_LANES) or "not nothing-deselected"
RUN_TIMEOUT = 300.0
MISSES_LINE = "prefetch misses"


# --- the option ---------------------------------------------------------------------------------


def config(**options: Any) -> RunConfig:
    return RunConfig.from_sources({"project": PROJECT, **options}, {"VERTEX_ACCESS_TOKEN": TOKEN})


def started(cfg: RunConfig, *, option: str = "", controller: bool = False) -> bool:
    """Whether ``prefetch.start`` starts a prefetcher for a run of ``cfg`` with pytest's ``option``
    set (and stops it again)."""
    options = SimpleNamespace(**{name: name == option for name in ("collectonly", "setuponly", "setupplan")})
    plugins = SimpleNamespace(has_plugin=lambda name: controller and name == "dsession")
    session = SimpleNamespace(
        items=[], config=SimpleNamespace(option=options, pluginmanager=plugins, stash={})
    )
    prefetcher = prefetch.start(session, cfg, None, TokenBudget(None))  # type: ignore[arg-type]
    if prefetcher is not None:
        prefetcher.stop()
    return prefetcher is not None


def test_concurrency_is_eight_and_sends_ahead_only_where_requests_are_sent_and_tests_run():
    """Replay waits on nothing, so it runs as it always has; so do --concurrency 1, a run that calls
    no test, and xdist's controller (its workers send)."""
    assert config(mode="live").concurrency == 8 and config(mode="record", concurrency="3").concurrency == 3
    assert config(mode="live", concurrency="1").describe()["concurrency"] == 1
    assert started(config(mode="live")) and started(config(mode="record"))
    assert not started(config(mode="replay"))
    assert not started(config(mode="live", concurrency="1"))
    for option in ("collectonly", "setuponly", "setupplan"):
        assert not started(config(mode="live"), option=option)
    assert not started(config(mode="live"), controller=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "--concurrency is '0': it must be at least 1"),
        ("-4", "--concurrency is '-4': it must be at least 1"),
        ("2.5", "--concurrency '2.5' is not a whole number"),
        ("many", "--concurrency 'many' is not a whole number"),
    ],
)
def test_a_concurrency_that_is_not_a_positive_whole_number_is_refused_with_one_line(value, message):
    with pytest.raises(ConfigError) as refused:
        config(mode="live", concurrency=value)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


# --- which tests a planning run can call -----------------------------------------------------------


def item(function: Any, params: dict[str, Any], *, form: bool = True, fixtures: dict[str, Any] | None = None):
    """A stand-in for a collected test item, as ``plan_of`` reads one."""
    direct = SimpleNamespace(func=SimpleNamespace(__name__="get_direct_param_fixture_func"))
    defs = {name: [direct] for name in params} | (fixtures or {})
    return SimpleNamespace(
        obj=function,
        callspec=SimpleNamespace(params=params),
        _fixtureinfo=SimpleNamespace(name2fixturedefs=defs),
        get_closest_marker=lambda name: SimpleNamespace(args=("plain",)) if form and name == "form" else None,
    )


def test_a_test_of_the_conformance_fixture_and_parameters_is_planned_with_its_parameters():
    def test_form(conformance, lane, stream):
        pass

    plan = prefetch.plan_of(item(test_form, {"lane": "sdk", "stream": True}))

    assert plan is not None
    assert (plan.function, plan.kwargs, plan.target) == (test_form, {"lane": "sdk", "stream": True}, None)


def test_a_targets_run_plans_the_test_with_its_target():
    target = SimpleNamespace(name="eu", config=config(mode="live"))

    def test_form(conformance, lane):
        pass

    plan = prefetch.plan_of(item(test_form, {"lane": "httpx", prefetch.TARGET_PARAMETER: target}))

    assert plan is not None and plan.target is target and plan.kwargs == {"lane": "httpx"}


def test_a_test_that_needs_another_fixture_or_an_indirect_parameter_is_not_planned():
    def with_fixture(conformance, tmp_path):
        pass

    def with_indirect(conformance, lane):
        pass

    def without_conformance(lane):
        pass

    fixture = [SimpleNamespace(func=SimpleNamespace(__name__="lane_fixture"))]
    assert prefetch.plan_of(item(with_fixture, {})) is None
    assert prefetch.plan_of(item(with_indirect, {"lane": "httpx"}, fixtures={"lane": fixture})) is None
    assert prefetch.plan_of(item(without_conformance, {"lane": "httpx"})) is None
    assert prefetch.plan_of(item(with_indirect, {"lane": "httpx"}, form=False)) is None


# --- the main loop's side: a send made ahead, a miss, the budget -----------------------------------


class Counting:
    """The sample server, counting the requests it answers."""

    def __init__(self) -> None:
        self.stand_in = Timed(create_app())

    @property
    def requests(self) -> int:
        return len(self.stand_in.arrivals)  # counted as they arrive: an answer is sent before it is kept


@pytest.fixture
def server():
    counting = Counting()
    with loopback.serve(counting.stand_in) as base_url:
        counting.base_url = base_url
        yield counting


def fake_request(nodeid: str, budget: TokenBudget) -> Any:
    """What ``Conformance`` reads of pytest's request: the test item and the run's stash."""
    node = SimpleNamespace(nodeid=nodeid, stash={}, get_closest_marker=lambda name: None)
    run_stash = {stash.BUDGET: budget, stash.SCRUBBER: Scrubber()}
    return SimpleNamespace(node=node, config=SimpleNamespace(stash=run_stash), session=SimpleNamespace())


def prefetcher_for(cfg: RunConfig, budget: TokenBudget) -> prefetch.Prefetcher:
    session = SimpleNamespace(items=[], config=SimpleNamespace())
    return prefetch.Prefetcher(session, cfg, tokens=None, budget=budget)  # type: ignore[arg-type]


def conformance_for(request: Any, cfg: RunConfig, prefetcher: prefetch.Prefetcher) -> Conformance:
    return Conformance(request, cfg, None, None, prefetcher=prefetcher)  # type: ignore[arg-type]


def planned(prefetcher: prefetch.Prefetcher, nodeid: str, *sent: prefetch.Sent, halted: bool = False) -> None:
    """As if a thread had run ``nodeid`` ahead and sent ``sent``."""
    prefetcher._slots[nodeid] = prefetch._Slot(planned=True, sent=list(sent), done=True, halted=halted)


def live(base_url: str) -> RunConfig:
    return config(mode="live", base_url=base_url, max_attempts="1")


def test_the_main_loop_takes_the_send_made_ahead_and_sends_nothing_itself(server):
    cfg, budget = live(server.base_url), TokenBudget(None)
    prefetcher = prefetcher_for(cfg, budget)
    tested = conformance_for(fake_request("t::plain", budget), cfg, prefetcher)
    call = tested.gemini("plain", stream=False)
    made = Exchange(request=None, status=200, headers={}, body_text='{"id": "made-ahead"}')
    planned(prefetcher, "t::plain", prefetch.Sent("httpx", call, made))

    assert tested.send("httpx", call) is made
    assert (server.requests, prefetcher.stats.used, prefetcher.stats.misses) == (0, 1, 0)


def test_a_send_made_ahead_that_raised_raises_again_in_the_main_loop_and_is_classified_there(server):
    cfg, budget = live(server.base_url), TokenBudget(None)
    prefetcher = prefetcher_for(cfg, budget)
    tested = conformance_for(fake_request("t::plain", budget), cfg, prefetcher)
    call = tested.gemini("plain", stream=False)
    planned(prefetcher, "t::plain", prefetch.Sent("httpx", call, error=lanes.TransportError("reset by peer")))

    with pytest.raises(pytest.fail.Exception, match=r"infra .*reset by peer"):
        tested.send("httpx", call)
    assert tested.draft.record is not None and tested.draft.record.outcome == "infra"
    assert server.requests == 0


def test_a_prefetch_miss_is_counted_and_the_test_sends_for_itself(server):
    """The check that a miss is noticed: the call made ahead differs from the one the test builds."""
    cfg, budget = live(server.base_url), TokenBudget(None)
    prefetcher = prefetcher_for(cfg, budget)
    tested = conformance_for(fake_request("t::plain", budget), cfg, prefetcher)
    call = tested.gemini("plain", stream=False)
    other = tested.gemini({"messages": [{"role": "user", "content": "something else"}]}, stream=False)
    planned(prefetcher, "t::plain", prefetch.Sent("httpx", other, Exchange(None, 200, {}, body_text="{}")))

    exchange = tested.send("httpx", call)

    assert exchange.status == 200 and exchange.request is not None
    assert (server.requests, prefetcher.stats.misses, prefetcher.stats.used) == (1, 1, 0)


def test_another_lane_is_a_miss_too(server):
    cfg, budget = live(server.base_url), TokenBudget(None)
    prefetcher = prefetcher_for(cfg, budget)
    tested = conformance_for(fake_request("t::plain", budget), cfg, prefetcher)
    call = tested.gemini("plain", stream=False)
    planned(prefetcher, "t::plain", prefetch.Sent("sdk", call, Exchange(None, 200, {}, body_text="{}")))

    assert tested.send("httpx", call).request is not None
    assert (server.requests, prefetcher.stats.misses) == (1, 1)


def test_a_spent_budget_sends_nothing_ahead_and_is_no_miss(server):
    cfg, budget = live(server.base_url), TokenBudget(0)
    prefetcher = prefetcher_for(cfg, budget)
    slot = prefetch._Slot(planned=True)
    call = conformance_for(fake_request("t::plain", budget), cfg, prefetcher).gemini("plain", stream=False)

    with pytest.raises(prefetch._Halt):
        prefetcher.send_ahead(slot, "httpx", call)
    assert slot.halted and slot.sent == [] and server.requests == 0

    planned(prefetcher, "t::plain", halted=True)
    assert prefetcher.take(fake_request("t::plain", budget), "httpx", call) is None
    assert prefetcher.stats.misses == 0


def test_a_send_made_ahead_is_paid_for_once_when_its_answer_comes(server):
    """The budget admits it, counts its tokens as it arrives, and the main loop does not count them
    again; the next send ahead finds the budget spent."""
    cfg, budget = live(server.base_url), TokenBudget(1)
    prefetcher = prefetcher_for(cfg, budget)
    slot = prefetch._Slot(planned=True)
    request = fake_request("t::plain", budget)
    tested = conformance_for(request, cfg, prefetcher)
    call = tested.gemini("plain", stream=False)

    prefetcher.send_ahead(slot, "httpx", call)
    spent = budget.spent
    prefetcher._slots["t::plain"] = slot
    slot.done = True
    tested.send("httpx", call)

    assert spent > 1 and budget.spent == spent and server.requests == 1
    with pytest.raises(prefetch._Halt):
        prefetcher.send_ahead(prefetch._Slot(planned=True), "httpx", call)
    assert server.requests == 1


def test_a_planning_run_sends_for_real_and_leaves_no_record_snapshot_or_verdict(server):
    """The threads run the test function with the stand-in: its sends reach the server (in order),
    its ``verify`` judges nothing, and nothing lands on the test item; the main loop then takes both
    sends without sending anything itself."""
    verdicts: list[Any] = []

    def test_two_turns(conformance, lane):
        first = conformance.send(lane, conformance.gemini("plain", stream=False))
        second = conformance.send(lane, conformance.gemini("function_call_arguments", stream=False))
        verdicts.append(conformance.verify(first, second))

    cfg, budget = live(server.base_url), TokenBudget(None)
    test = item(test_two_turns, {"lane": "httpx"})
    test.nodeid, test.stash = "t::two-turns", {}
    prefetcher = prefetch.Prefetcher(
        SimpleNamespace(items=[test], config=SimpleNamespace()),  # type: ignore[arg-type]
        cfg,
        tokens=None,
        budget=budget,
    )
    prefetcher.start()
    try:
        request = fake_request(test.nodeid, budget)
        request.node = test
        prefetcher.reached(test)  # type: ignore[arg-type]
        tested = conformance_for(request, cfg, prefetcher)
        first = tested.send("httpx", tested.gemini("plain", stream=False))
        second = tested.send("httpx", tested.gemini("function_call_arguments", stream=False))
    finally:
        prefetcher.stop()

    assert verdicts == [None] and set(test.stash) == {stash.RESULT}  # the main loop's draft alone
    assert test.stash[stash.RESULT] is tested.draft and tested.draft.record is None
    assert (prefetcher.stats.ahead, prefetcher.stats.used, prefetcher.stats.misses) == (2, 2, 0)
    assert [json.loads(s.body).get("tools") is not None for s in server.stand_in.seen] == [False, True]
    assert server.requests == 2 and first.request is not None and second.request is not None


async def refusing(scope: Any, receive: Any, send: Any) -> None:
    """Vertex refusing the token: 401 to every request."""
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"application/json")]}
    )
    await send(
        {"type": "http.response.body", "body": b'{"error": {"code": 401, "status": "UNAUTHENTICATED"}}'}
    )


def test_refused_credentials_stop_every_send_ahead():
    """The main loop ends the run at the test the 401 came to; nothing more is sent ahead meanwhile."""
    stand_in = Timed(refusing)
    with loopback.serve(stand_in) as base_url:
        cfg, budget = live(base_url), TokenBudget(None)
        prefetcher = prefetch.Prefetcher(
            SimpleNamespace(items=[], config=SimpleNamespace()),  # type: ignore[arg-type]
            cfg,
            tokens=auth.StaticToken("refused-token"),
            budget=budget,
        )
        call = conformance_for(fake_request("t", budget), cfg, prefetcher).gemini("plain", stream=False)
        first = prefetch._Slot(planned=True)
        with pytest.raises(prefetch._Halt):
            prefetcher.send_ahead(first, "httpx", call)
        later = prefetch._Slot(planned=True)
        with pytest.raises(prefetch._Halt):
            prefetcher.send_ahead(later, "httpx", call)

    assert first.sent[0].exchange is not None and first.sent[0].exchange.status == 401
    assert later.halted and later.sent == [] and len(stand_in.arrivals) == 1


# --- record mode: each thread's interactions are its own --------------------------------------------


def test_the_recorder_keeps_each_interaction_for_the_thread_that_sent_it_and_goes_away(server):
    recorder = prefetch._Recorder()
    original = httpx.HTTPTransport.handle_request
    url = server.base_url + "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"
    body = {"model": "google/m", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": "Bearer t"}
    kept: dict[str, list[Any]] = {}

    def send_as(name: str, capture: bool) -> None:
        if not capture:
            httpx.post(url, json={**body, "n": 1}, headers=headers)
            return
        with recorder.capturing() as pairs:
            httpx.post(url, json={**body, "user": name}, headers=headers)
        kept[name] = pairs

    recorder.install()
    try:
        threads = [
            threading.Thread(target=send_as, args=(n, n != "bystander")) for n in ("a", "b", "bystander")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        recorder.uninstall()

    assert {name: len(pairs) for name, pairs in kept.items()} == {"a": 1, "b": 1}
    for name, pairs in kept.items():
        request, response = pairs[0]
        assert json.loads(request.body)["user"] == name and response["status"]["code"] == 200
    assert httpx.HTTPTransport.handle_request is original
    assert server.requests == 3


# --- the suite, live, against the stand-in ----------------------------------------------------------


def run_suite(
    base_url: str, reports: Path, *args: str, select: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        suite_command(base_url, reports, *args, select=select),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def suite_command(base_url: str, reports: Path, *args: str, select: str | None = None) -> list[str]:
    """The live suite against ``base_url``: the tests ``select`` names (``-k``), but the client lanes'."""
    chosen = f"({select}) and {NOT_CLIENTS}" if select else NOT_CLIENTS
    return [
        *(sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q"),
        *("--mode", "live", "--project", PROJECT, "--base-url", base_url, "--endpoint-id", "4242"),
        *("--report-dir", str(reports), "-k", chosen, *args),
    ]


def environment() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    return {**clean, "VERTEX_ACCESS_TOKEN": TOKEN}


def outcomes(reports: Path) -> dict[str, str]:
    return {t.nodeid: t.outcome for t in load(reports / "results.json").tests}


def prefetch_line(stdout: str) -> str:
    return next((line for line in stdout.splitlines() if MISSES_LINE in line), "")


@pytest.fixture(scope="module")
def overlapped(tmp_path_factory):
    """The suite (every lane but the client lanes') at --concurrency 4 behind 0.2 s of latency, and
    at --concurrency 1 with none: what the stand-in saw of the first, and both runs' reports."""
    tmp = tmp_path_factory.mktemp("concurrency")
    stand_in = Timed(create_app())
    with loopback.serve(stand_in) as base_url:
        sequential = run_suite(base_url, tmp / "sequential", "--concurrency", "1")
        stand_in.taken()
        stand_in.latency = 0.2
        concurrent = run_suite(base_url, tmp / "concurrent", "--concurrency", "4")
        seen = stand_in.taken()
    return SimpleNamespace(tmp=tmp, sequential=sequential, concurrent=concurrent, seen=seen)


@pytest.mark.slow
def test_four_requests_are_in_flight_at_once_with_concurrency_four(overlapped):
    report = overlapped.tmp / "concurrent" / "results.json"
    assert report.is_file(), overlapped.concurrent.stdout[-3000:]
    assert load(report).run["concurrency"] == 4
    assert peak_in_flight(overlapped.seen) == 4  # never more: the main loop waits for a thread


@pytest.mark.slow
def test_a_concurrent_run_has_the_outcomes_of_a_sequential_one(overlapped):
    assert overlapped.concurrent.returncode == overlapped.sequential.returncode
    concurrent, sequential = outcomes(overlapped.tmp / "concurrent"), outcomes(overlapped.tmp / "sequential")
    assert len(concurrent) > 100
    assert concurrent == sequential


@pytest.mark.slow
def test_the_shipped_suites_have_no_prefetch_miss(overlapped):
    """Every request of the run was sent ahead and used: the planning runs build what the tests build."""
    line = prefetch_line(overlapped.concurrent.stdout)
    requests = len(overlapped.seen) - 1  # less the preflight
    assert line.endswith(f"{requests} requests sent ahead, {requests} used, 0 prefetch misses"), line
    assert prefetch_line(overlapped.sequential.stdout) == ""  # --concurrency 1: no prefetcher at all


def overlaps_within(seen: list[Seen], key: Any) -> list[tuple[Seen, Seen]]:
    """Pairs of requests with the same ``key`` where the later arrived before the earlier was answered."""
    groups: dict[Any, list[Seen]] = defaultdict(list)
    for request in seen:
        groups[key(request)].append(request)
    found = []
    for group in groups.values():
        ordered = sorted(group, key=lambda s: s.arrived)
        found += [(a, b) for a, b in pairwise(ordered) if b.arrived < a.answered]
    return found


def test_overlaps_within_finds_two_requests_of_one_key_in_flight_together():
    first, second = Seen(0.0, 1.0, {}, b"x"), Seen(0.5, 1.5, {}, b"x")
    later, other = Seen(1.0, 2.0, {}, b"x"), Seen(0.2, 0.3, {}, b"y")

    assert overlaps_within([first, second, other], key=lambda s: s.body) == [(first, second)]
    assert overlaps_within([first, later, other], key=lambda s: s.body) == []
    assert peak_in_flight([first, second, Seen(0.6, 0.7, {}, b"z")]) == 3
    assert peak_in_flight([first, later, other]) == 2  # one answered as the next arrives: not together


@pytest.mark.slow
def test_the_requests_of_one_test_go_one_after_the_other_while_tests_overlap(tmp_path):
    """Lane parity sends one body in every Python lane, one after the other (its second request
    could depend on the first answer): with --concurrency 4, tests overlap but a test's own requests,
    which share its body, never do."""
    stand_in = Timed(create_app(), latency=0.2)
    with loopback.serve(stand_in) as base_url:
        done = run_suite(
            base_url, tmp_path, "--concurrency", "4", select="test_sdk_lanes_send_what_the_raw_lane"
        )
        seen = stand_in.taken()[1:]  # less the preflight

    assert (tmp_path / "results.json").is_file(), done.stdout[-3000:]
    tests = len(load(tmp_path / "results.json").tests)
    assert tests > 4 and len(seen) == 3 * tests
    assert overlaps_within(seen, key=lambda s: repr(json.loads(s.body)["messages"])) == []
    assert peak_in_flight(seen) == 4


@pytest.mark.slow
def test_a_spent_budget_stops_the_sends_made_ahead(tmp_path):
    """One request goes alone until an answer says what one costs (the first test's); it spends the
    budget of 1 token, so nothing else is sent and the tests left are not run (exit 2)."""
    stand_in = Timed(create_app())
    with loopback.serve(stand_in) as base_url:
        done = run_suite(
            base_url, tmp_path, "--concurrency", "4", "--max-total-tokens", "1", select="plain_chat"
        )
        seen = stand_in.taken()

    assert done.returncode == 2, done.stdout[-3000:]
    results = load(tmp_path / "results.json")
    assert len(seen) == 2  # the preflight, and the one request the budget admitted
    assert results.incomplete is not None and len(results.incomplete.not_run) == 2
    # the tests ask the budget in their order: the first is the one that ran, as without concurrency
    assert [(t.nodeid, t.outcome) for t in results.tests] == [
        ("suites/test_plain.py::test_plain_chat[httpx]", "pass")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_ends_promptly_and_sends_nothing_after_the_stop(tmp_path, stop):
    stand_in = Timed(create_app(), latency=1.0)  # the stop comes while four requests are in flight
    with loopback.serve(stand_in) as base_url:
        process = subprocess.Popen(
            suite_command(base_url, tmp_path, "--concurrency", "4"),
            cwd=ROOT,
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while len(stand_in.arrivals) < 5 and time.monotonic() < deadline:  # the preflight, then 4
                time.sleep(0.05)
            process.send_signal(stop)
            stopped = time.monotonic()
            returncode = process.wait(timeout=30)  # a hang fails here; the requests in flight need not end
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        late = [a for a in stand_in.arrivals if a > stopped + 0.5]

    assert returncode == 2
    assert late == []
    results = load(tmp_path / "results.json")
    assert results.incomplete is not None and results.incomplete.not_run


# --- record mode ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cassettes_recorded_with_concurrency_replay_with_the_live_outcomes(overlapped, tmp_path):
    cassettes = tmp_path / "cassettes"
    stand_in = Timed(create_app(), latency=0.05)
    with loopback.serve(stand_in) as base_url:
        recorded = run_suite(
            base_url,
            tmp_path / "record",
            "--mode",
            "record",
            "--concurrency",
            "4",
            "--cassette-dir",
            str(cassettes),
        )
    assert "0 prefetch misses" in prefetch_line(recorded.stdout), recorded.stdout[-3000:]
    replayed = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", "-k", NOT_CLIENTS),
            *("--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "replay")),
        ],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )

    live_outcomes = outcomes(overlapped.tmp / "sequential")
    assert len(list(cassettes.rglob("*.yaml"))) == len(live_outcomes)
    assert outcomes(tmp_path / "replay") == live_outcomes, replayed.stdout[-3000:]
    assert replayed.returncode == overlapped.sequential.returncode


# --- the benchmark ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_benchmark_prints_its_figures_for_each_concurrency():
    done = subprocess.run(
        [
            *(sys.executable, str(ROOT / "benchmarks" / "concurrency.py"), "--latency", "0.05"),
            *("--concurrency", "1,2", "--select", "plain_chat", "--json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)
    assert [row["concurrency"] for row in rows] == [1, 2]
    for row in rows:
        assert row["requests"] == 1 + len(SDK_AND_RAW_LANES) and row["exit_status"] == 0
        assert row["ideal_s"] == pytest.approx(
            max(row["total_latency_s"] / row["concurrency"], row["longest_chain_s"]) + row["startup_s"],
            abs=0.02,
        )
        assert {"wall_s", "ratio", "peak_rss_mb", "peak_in_flight"} <= set(row)
    assert [row["peak_in_flight"] for row in rows] == [1, 2]
