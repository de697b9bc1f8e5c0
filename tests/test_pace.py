"""The pace of a live run: AIMD per target (halve on a 429, once per window; grow one step per run
of successes), Retry-After pauses, slots that block, the figures for the report (merged from
workers and shards), all of it through the real retrying transports against a loopback server that
answers scripted 429s; and one token budget across two xdist workers (a live run of the suite)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from fault_server import CHAT_PATH, ok, serve_faults, status
from result_documents import VERSIONS, run_settings
from test_end_to_end import run_suite

from tools.sample_server import create_app
from vertex_conformance import matrix, pace
from vertex_conformance.loopback import serve
from vertex_conformance.merge import merge
from vertex_conformance.pace import Limiter, Pace, target_of
from vertex_conformance.paths import SAMPLES
from vertex_conformance.resilience import AsyncRetryTransport, RetryPolicy, RetryTransport
from vertex_conformance.results import Results, validate

BODY = {"model": "google/gemini-test", "messages": [{"role": "user", "content": "hi"}]}
TARGET = "google/gemini-test @ us-central1"


class Clock:
    """A monotonic clock that moves only when told to (and a wall clock that moves with it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter(concurrency: int = 8, clock: Clock | None = None, max_pause: float = 30.0) -> Limiter:
    clock = clock or Clock()
    return Pace(concurrency, clock=clock, wall=clock.wall, max_pause=max_pause).limiter(TARGET)


def limits(lim: Limiter) -> list[int]:
    return [limit for _, limit in lim.stats()["concurrency"]]


@pytest.fixture(autouse=True)
def no_registry_after() -> Iterator[None]:
    yield
    pace.configure(None)


# --- the target -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content", "target"),
    [
        (CHAT_PATH, json.dumps(BODY).encode(), TARGET),
        (CHAT_PATH.replace("us-central1", "global"), b'{"model": "m"}', "m @ global"),
        (CHAT_PATH.replace("openapi", "4242"), b"{}", "endpoints/4242 @ us-central1"),  # self-deployed
        ("/gw/prefix" + CHAT_PATH, b"", "? @ us-central1"),  # behind a gateway's prefix, no body
        ("/chat/completions", b'{"model": ', "? @ ?"),  # no location, a body that is no JSON
        ("", b'["model"]', "? @ ?"),  # JSON, not an object
        ("/locations/x/", b'{"model": 42}', "? @ x"),
        ("/locations/x/", b'{"model": "' + b"m" * 500 + b'"}', "m" * 200 + " @ x"),
        ("/locations/x/", b'\xff\xfe not utf-8 "model"', "? @ x"),
    ],
)
def test_a_target_is_the_model_at_the_location_and_odd_requests_get_a_key_not_an_error(path, content, target):
    assert target_of(path, content) == target


def test_a_request_without_a_readable_body_still_gets_the_unknown_target() -> None:
    class Odd:
        url = None  # no .path, no .content

    registry = Pace()
    assert registry.for_request(Odd()) is registry.limiter("? @ ?")


# --- AIMD -----------------------------------------------------------------------------------------


def test_a_429_halves_the_limit_and_never_below_one() -> None:
    lim = limiter(8)
    for _ in range(5):
        lim.on_rate_limited()
    assert limits(lim) == [8, 4, 2, 1]
    assert lim.limit == 1 and lim.rate_limited == 5


def test_a_burst_of_429s_from_requests_already_in_flight_halves_once() -> None:
    lim = limiter(8)
    burst = [lim.acquire() for _ in range(6)]  # all started in the same window
    for ticket in burst:
        ticket.answered(429, None)
        ticket.release()
    assert lim.limit == 4 and lim.rate_limited == 6
    with lim.slot() as later:  # started after the halving: its 429 is news
        later.answered(429, None)
    assert limits(lim) == [8, 4, 2]


def test_after_a_run_of_limit_successes_the_limit_grows_one_step_up_to_the_maximum() -> None:
    lim = limiter(4)
    lim.on_rate_limited()
    lim.on_rate_limited()
    assert lim.limit == 1
    for _ in range(1 + 2 + 3 + 4 + 20):  # 1 success grows 1 -> 2, 2 grow it to 3, 3 to 4, then the cap
        lim.on_success()
    assert limits(lim) == [4, 2, 1, 2, 3, 4]


def test_a_429_breaks_the_run_of_successes() -> None:
    lim = limiter(4)
    lim.on_rate_limited()  # 2
    lim.on_success()
    with lim.slot() as ticket:
        ticket.answered(429, None)  # 1, and the run starts again
    lim.on_success()
    assert limits(lim) == [4, 2, 1, 2]


def test_statuses_other_than_2xx_and_429_neither_grow_nor_shrink_the_limit() -> None:
    lim = limiter(2)
    lim.on_rate_limited()
    for code in (500, 503, 400, 301):
        with lim.slot() as ticket:
            ticket.answered(code, "5")
    assert lim.limit == 1 and lim.rate_limited == 1
    assert lim.paused_until == float("-inf")  # a Retry-After only pauses with a 429


# --- Retry-After ----------------------------------------------------------------------------------


def test_retry_after_in_seconds_pauses_the_target_until_then_and_the_wait_is_counted() -> None:
    clock = Clock()
    lim = limiter(8, clock)
    lim.on_rate_limited("2")
    got = threading.Event()

    def take() -> None:
        with lim.slot():
            got.set()

    worker = threading.Thread(target=take)
    worker.start()
    assert not got.wait(0.3), "an attempt started before the Retry-After was over"
    clock.advance(2)
    assert got.wait(2)
    worker.join(2)
    assert lim.stats()["waited_s"] == 2.0


def test_retry_after_as_an_http_date_pauses_until_that_date() -> None:
    clock = Clock()
    lim = limiter(8, clock)
    lim.on_rate_limited(formatdate(clock.wall() + 7, usegmt=True))
    assert lim.paused_until - clock() == pytest.approx(7, abs=1)  # an HTTP date has whole seconds


def test_a_retry_after_longer_than_max_pause_pauses_only_max_pause() -> None:
    clock = Clock()
    lim = limiter(8, clock, max_pause=3)
    lim.on_rate_limited("3600")
    assert lim.paused_until - clock() == 3


@pytest.mark.parametrize("value", [None, "soon", "", "-5", "Wed, 21 Oct 2015 07:28:00"])  # no zone: malformed
def test_a_missing_or_malformed_retry_after_halves_but_does_not_pause(value) -> None:
    clock = Clock()
    lim = limiter(8, clock)
    lim.on_rate_limited(value)
    assert lim.limit == 4
    assert lim.paused_until <= clock()


# --- slots ----------------------------------------------------------------------------------------


def test_a_slot_blocks_while_the_limit_is_in_flight_and_frees_on_release() -> None:
    lim = limiter(2)
    first, second = lim.acquire(), lim.acquire()
    got = threading.Event()
    worker = threading.Thread(target=lambda: (lim.acquire(), got.set()))
    worker.start()
    assert not got.wait(0.3), "a third request ran beside a limit of 2"
    first.release()
    first.release()  # idempotent: a response's close and its finalizer may both release
    assert got.wait(2)
    worker.join(2)
    second.release()
    assert lim.in_flight == 1 and lim.stats()["peak_in_flight"] == 2


def test_a_lowered_limit_holds_new_attempts_until_enough_in_flight_finish() -> None:
    lim = limiter(4)
    held = [lim.acquire() for _ in range(4)]
    lim.on_rate_limited()  # 2, with 4 in flight
    got = threading.Event()
    worker = threading.Thread(target=lambda: (lim.acquire(), got.set()))
    worker.start()
    held[0].release()
    held[1].release()
    assert not got.wait(0.3), "3 attempts would be in flight under a limit of 2"
    held[2].release()
    assert got.wait(2)
    worker.join(2)


def test_the_async_slot_waits_without_blocking_its_event_loop() -> None:
    lim = limiter(1)

    async def main() -> list[str]:
        order: list[str] = []

        async def use(name: str, hold: float) -> None:
            async with lim.aslot():
                order.append(f"{name} in")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        async def ticker() -> None:  # runs while "b" waits: the loop is not blocked
            await asyncio.sleep(0.05)
            order.append("tick")

        await asyncio.gather(use("a", 0.2), use("b", 0), ticker())
        return order

    assert asyncio.run(main()) == ["a in", "tick", "a out", "b in", "b out"]
    assert lim.stats()["peak_in_flight"] == 1 and lim.stats()["waited_s"] == 0.0  # a fake clock: no time


# --- the figures ----------------------------------------------------------------------------------


def test_stats_name_the_429s_the_wait_the_timeline_and_the_peak() -> None:
    clock = Clock()
    lim = limiter(4, clock)
    held = [lim.acquire() for _ in range(3)]
    clock.advance(1.5)
    held[0].answered(429, "1")
    for ticket in held:
        ticket.release()
    clock.advance(0.25)
    assert lim.stats() == {
        "started_at": datetime.fromtimestamp(Clock().wall(), UTC).isoformat(timespec="milliseconds"),
        "rate_limited": 1,
        "waited_s": 0.0,
        "concurrency": [[0.0, 4], [1.5, 2]],
        "peak_in_flight": 3,
    }


def test_merge_adds_the_parts_counts_and_their_timelines_as_steps_on_the_wall_clock() -> None:
    worker_a = {
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "rate_limited": 2,
        "waited_s": 1.5,
        "concurrency": [[0.0, 8], [10.0, 4]],
        "peak_in_flight": 8,
    }
    later = "2026-01-01T00:00:05.000+00:00"
    worker_b = {**worker_a, "started_at": later, "rate_limited": 1, "waited_s": 0.25}
    other = {"m @ global": {**worker_a, "rate_limited": 0}}
    merged = pace.merge([{TARGET: worker_a}, {TARGET: worker_b, **other}])
    assert merged[TARGET] == {
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "rate_limited": 3,
        "waited_s": 1.75,
        "concurrency": [[0.0, 8], [5.0, 16], [10.0, 12], [15.0, 8]],
        "peak_in_flight": 16,
    }
    assert merged["m @ global"] == other["m @ global"]
    assert pace.summary(merged) == "429s: 3, waited 3.2 s"
    assert pace.summary(other) is None  # no 429: nothing to say


def test_merged_shards_add_up_their_pace_and_a_shard_without_any_is_fine() -> None:
    figures = {"started_at": "2026-01-01T00:00:00.000+00:00", "rate_limited": 1, "waited_s": 2.0}
    figures |= {"concurrency": [[0.0, 4], [1.0, 2]], "peak_in_flight": 4}
    shard = Results(run=run_settings(), versions=VERSIONS, tests=(), pace={TARGET: figures})
    quiet = Results(run=run_settings(), versions=VERSIONS, tests=())
    merged = merge([("a.json", shard), ("b.json", shard), ("c.json", quiet)])
    assert merged.pace[TARGET]["rate_limited"] == 2 and merged.pace[TARGET]["concurrency"] == [
        [0.0, 8],
        [1.0, 4],
    ]
    assert Results.from_dict(merged.to_dict()).pace == merged.pace
    assert "pace" not in quiet.to_dict()


def test_the_page_says_nothing_of_rate_limits_when_no_429_came() -> None:
    calm = {"started_at": "2026-01-01T00:00:00.000+00:00", "rate_limited": 0, "waited_s": 0.5}
    calm |= {"concurrency": [[0.0, 8]], "peak_in_flight": 8}
    page = matrix.render(Results(run=run_settings(), versions=VERSIONS, tests=(), pace={TARGET: calm}))
    assert "Rate limits" not in page


# --- through the real retrying transports ---------------------------------------------------------


def chat(client: httpx.Client, url: str) -> int:
    return client.post(url + CHAT_PATH, json=BODY).status_code


def test_without_a_registry_the_transport_only_sends() -> None:
    assert pace.current() is None
    with serve_faults(default=ok()) as server, httpx.Client(transport=RetryTransport()) as client:
        assert chat(client, server.url) == 200


def test_scripted_429s_lower_the_limit_the_successes_raise_it_and_the_report_shows_it() -> None:
    registry = Pace(4)
    pace.configure(registry)
    policy = RetryPolicy(max_attempts=3, max_total_wait=5)
    with (
        serve_faults(status(429, retry_after="0.2"), default=ok()) as server,
        httpx.Client(transport=RetryTransport(policy=policy)) as client,
    ):
        statuses = [chat(client, server.url) for _ in range(6)]
    assert statuses == [200] * 6 and len(server.hits) == 7
    figures = registry.stats()[TARGET]
    # 4 -> 2 on the 429, the retry and the next request make 2 successes -> 3, three more -> 4
    assert [limit for _, limit in figures["concurrency"]] == [4, 2, 3, 4]
    assert figures["rate_limited"] == 1 and figures["peak_in_flight"] == 1
    assert figures["waited_s"] >= 0.2  # the retry waited out the Retry-After
    document = Results(run=run_settings(), versions=VERSIONS, tests=(), pace=registry.stats()).to_dict()
    assert validate(json.loads(json.dumps(document)), "results.json").pace[TARGET]["rate_limited"] == 1
    page = matrix.render(Results.from_dict(document))
    assert "Rate limits: 429s: 1, waited" in page and f"{TARGET}: concurrency down to 2" in page


def test_a_burst_of_429s_to_concurrent_requests_halves_once_through_the_transport() -> None:
    registry = Pace(4)
    pace.configure(registry)
    slow_429 = replace(status(429), first_byte_delay=0.3)  # the four are in flight together
    barrier = threading.Barrier(4)
    results: list[int] = []

    def send(url: str) -> None:
        with httpx.Client(transport=RetryTransport(policy=RetryPolicy(base_delay=0.01))) as client:
            barrier.wait()
            results.append(chat(client, url))

    with serve_faults(*[slow_429] * 4, default=ok()) as server:
        threads = [threading.Thread(target=send, args=(server.url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    figures = registry.stats()[TARGET]
    assert results == [200] * 4 and figures["rate_limited"] == 4 and figures["peak_in_flight"] == 4
    assert min(limit for _, limit in figures["concurrency"]) == 2  # once, not 4 -> 2 -> 1


def test_a_streamed_answer_holds_its_slot_until_it_is_closed() -> None:
    registry = Pace(2)
    pace.configure(registry)
    with serve_faults(default=ok()) as server, httpx.Client(transport=RetryTransport()) as client:
        with client.stream("POST", server.url + CHAT_PATH, json=BODY) as response:
            assert registry.limiter(TARGET).in_flight == 1
            response.read()
        assert registry.limiter(TARGET).in_flight == 0


def test_the_async_transport_takes_slots_and_adapts_too() -> None:
    registry = Pace(2)
    pace.configure(registry)

    async def main(url: str) -> list[int]:
        transport = AsyncRetryTransport(policy=RetryPolicy(base_delay=0.01))
        async with httpx.AsyncClient(transport=transport) as client:
            answers = [await client.post(url + CHAT_PATH, json=BODY) for _ in range(2)]
        return [a.status_code for a in answers]

    with serve_faults(status(429, retry_after="0"), default=ok()) as server:
        assert asyncio.run(main(server.url)) == [200, 200]
    figures = registry.stats()[TARGET]
    assert figures["rate_limited"] == 1 and [lim for _, lim in figures["concurrency"]] == [2, 1, 2]
    assert registry.limiter(TARGET).in_flight == 0


def test_a_failed_attempt_gives_its_slot_back() -> None:
    registry = Pace(1)
    pace.configure(registry)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = RetryTransport(
        httpx.MockTransport(refuse), RetryPolicy(max_attempts=2, base_delay=0), sleep=lambda _: None
    )
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.post("http://127.0.0.1:9" + CHAT_PATH, json=BODY)
    assert registry.limiter(TARGET).in_flight == 0 and registry.limiter(TARGET).peak_in_flight == 1


# --- a run ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_live_run_reports_the_429s_in_results_json_on_the_page_and_on_the_console(tmp_path) -> None:
    from test_live_faults import documented_answer, live  # the preflight first, then the test's request

    script = (documented_answer(), status(429, retry_after="1"))
    with serve_faults(*script, default=documented_answer()) as server:
        # one test, one request at a time, but a start limit of 8 for the 429 to halve
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx", "--concurrency", "8")
    assert result.returncode == 0, result.stdout[-2000:]
    assert test["outcome"] == "pass"
    document = json.loads((tmp_path / "reports" / "results.json").read_text())
    [figures] = document["pace"].values()
    assert figures["rate_limited"] == 1 and figures["waited_s"] >= 1
    start, lowered, *_ = [limit for _, limit in figures["concurrency"]]
    assert lowered == max(1, start // 2)
    assert "vertex-conformance: 429s: 1, waited" in result.stdout
    assert "Rate limits: 429s: 1" in (tmp_path / "reports" / "index.html").read_text()


class Counting:
    """The sample server, counting the chat requests it answers."""

    def __init__(self) -> None:
        self.app, self.chats = create_app(), 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/chat/completions"):
            self.chats += 1
        await self.app(scope, receive, send)


@pytest.mark.slow
def test_one_token_budget_holds_across_two_xdist_workers_within_one_request(tmp_path) -> None:
    per_answer = json.loads((SAMPLES / "plain_chat.json").read_text())["usage"]["total_tokens"]
    ceiling = 2 * per_answer  # per-worker budgets would let each worker spend this much: 4 answers
    server = Counting()
    with serve(server) as base_url:
        result = run_suite(
            *("--mode", "live", "--project", "pace-proj", "--base-url", base_url),
            *("--report-dir", str(tmp_path / "reports"), "-n", "2", "--max-total-tokens", str(ceiling)),
            *("-k", "(plain_chat or streaming_chat) and (httpx or sdk)"),  # 6 tests, 3 or so per worker
            env={"VERTEX_ACCESS_TOKEN": "pace-test-token"},
        )
    assert result.returncode == 2, result.stdout[-2000:]  # stopped by the budget, reports written
    document = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert "token budget" in document["incomplete"]["reason"]
    assert {t["tokens"]["total_tokens"] for t in document["tests"] if "tokens" in t} <= {per_answer}
    answers = server.chats - 1  # the preflight is no test's
    assert ceiling <= answers * per_answer <= ceiling + per_answer
