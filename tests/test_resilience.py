"""Retries, timeouts and the infra verdict, end to end against a real misbehaving server on 127.0.0.1.

Waits are recorded by an injected sleep (so the tests are fast and the delays exact), except in
one test that really sleeps. HTTPS runs verify the server's trustme certificate.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
import trustme
import vcr
from fault_server import (
    CHAT_PATH,
    Fault,
    chat_completion,
    chunk_events,
    ok,
    reset,
    serve_faults,
    status,
    stream,
)

from vertex_conformance import guard
from vertex_conformance.exchange import Exchange
from vertex_conformance.resilience import (
    INFRA,
    Arrival,
    AsyncRetryTransport,
    Attempt,
    Httpx2AsyncRetryTransport,
    Httpx2RetryTransport,
    RetryPolicy,
    RetryState,
    RetryTransport,
    Timeouts,
    classify,
    describe_attempts,
    evidence,
    parse_retry_after,
    retry_transport,
    transport_fault,
)

FAST = RetryPolicy(max_attempts=3, base_delay=0.01)  # jitter waits of 10-20 ms; Retry-After honoured
SDK_BASE = "/v1/projects/p/locations/us-central1/endpoints/openapi"
MESSAGES = [{"role": "user", "content": "hi"}]


def read_text(response: Any) -> str:
    return "".join(response.iter_text())


def arrival(response: Any, received: str) -> Arrival:
    """What a lane tells the classification had arrived of ``response``."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Arrival(status=response.status_code, headers=headers, received=len(received), tail=received)


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA: (the server's context with a 127.0.0.1 certificate, a client context trusting it)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return request.param


class Setup:
    """Serves a fault script in the chosen scheme and builds clients that trust it."""

    def __init__(self, scheme: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        self.https = scheme == "https"
        self.server_tls, self.client_tls = tls
        self.delays: list[float] = []

    def serve(self, *script: Fault, **options: Any) -> Any:
        return serve_faults(*script, tls=self.server_tls if self.https else None, **options)

    def transport(self, policy: RetryPolicy = FAST) -> RetryTransport:
        inner = httpx.HTTPTransport(verify=self.client_tls)
        return RetryTransport(inner, policy, sleep=self.delays.append)

    def client(self, policy: RetryPolicy = FAST, timeouts: Timeouts | None = None) -> httpx.Client:
        return httpx.Client(transport=self.transport(policy), timeout=(timeouts or Timeouts()).for_client())


@pytest.fixture
def setup(scheme: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Setup:
    return Setup(scheme, tls)


@pytest.fixture
def plain(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Setup:
    return Setup("http", tls)


@pytest.fixture
def free_port() -> Iterator[int]:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


# --- the policy ----------------------------------------------------------------------------------


def test_retry_after_seconds_are_honoured_and_capped_by_max_delay_and_the_wait_left() -> None:
    policy = RetryPolicy(max_delay=8.0, max_total_wait=30.0)
    assert policy.delay(1, "3") == 3.0
    assert policy.delay(1, "120") == 8.0
    assert policy.delay(3, "5", waited=28.0) == 2.0
    assert policy.delay(3, "5", waited=30.0) == 0.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    now = 1_700_000_000.0
    policy = RetryPolicy(clock=lambda: now)
    assert policy.delay(1, email.utils.formatdate(now + 5, usegmt=True)) == pytest.approx(5.0)
    assert policy.delay(1, email.utils.formatdate(now - 60, usegmt=True)) == 0.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), (" 3 ", 3.0), ("1.5", 1.5), ("-2", 0.0), ("soon", None), ("nan", None), ("inf", None)],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_a_date_without_a_zone_is_not_a_retry_after() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00") is None


def test_without_retry_after_the_wait_is_full_jitter_under_a_doubling_cap() -> None:
    bounds: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, rng=rng)
    assert [policy.delay(n, header) for n, header in [(1, None), (2, "later"), (3, None), (4, None)]] == [
        0.5,
        1.0,
        2.0,
        3.0,
    ]
    assert all(low == 0.0 for low, _ in bounds)


def test_jitter_stays_within_its_bounds() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    assert all(0.0 <= policy.delay(3) <= 2.0 for _ in range(200))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"base_delay": -1}, "base_delay must not be negative"),
        ({"max_total_wait": -0.5}, "max_total_wait must not be negative"),
        ({"retry_statuses": frozenset({400, 429})}, "[400] judge the request"),
    ],
)
def test_a_bad_policy_is_refused_with_a_reason(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RetryPolicy(**options)


def test_timeouts_must_be_positive_and_configure_either_library() -> None:
    with pytest.raises(ValueError, match="timeout read must be positive"):
        Timeouts(read=0)
    assert Timeouts(connect=2, read=7).for_client() == httpx.Timeout(7, connect=2)
    assert isinstance(Timeouts().for_client("httpx2"), httpx2.Timeout)


def test_retry_transport_picks_the_library_and_the_flavour_by_name() -> None:
    assert isinstance(retry_transport("httpx2"), Httpx2RetryTransport)
    assert isinstance(retry_transport("httpx"), RetryTransport)
    assert isinstance(retry_transport("httpx", asynchronous=True), AsyncRetryTransport)
    assert isinstance(retry_transport("httpx2", asynchronous=True), Httpx2AsyncRetryTransport)
    assert isinstance(retry_transport("httpx2").inner, httpx2.HTTPTransport)
    with pytest.raises(ValueError, match="no retrying transport for 'requests'"):
        retry_transport("requests")


def test_attempts_describe_themselves_for_the_report() -> None:
    attempts = [Attempt(1, 503, None, 0.0), Attempt(2, None, "ReadError: reset", 0.41)]
    assert describe_attempts(attempts) == "2 attempts: 503; ReadError: reset (after waiting 0.41 s)"


# --- statuses ------------------------------------------------------------------------------------


def test_a_429_then_200_succeeds_after_waiting_what_retry_after_asked(setup: Setup) -> None:
    with setup.serve(status(429, retry_after="2"), ok()) as server, setup.client() as client:
        response = client.post(server.url + CHAT_PATH, json={"messages": MESSAGES})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert setup.delays == [2.0]
    assert len(server.hits) == 2
    assert [a.status for a in client._transport.attempts] == [429, 200]  # type: ignore[attr-defined]


def test_a_real_retry_after_wait_is_really_slept(plain: Setup) -> None:
    transport = RetryTransport(httpx.HTTPTransport(), FAST)  # the real time.sleep
    with (
        plain.serve(status(429, retry_after="1"), ok()) as server,
        httpx.Client(transport=transport) as client,
    ):
        started = time.monotonic()
        response = client.post(server.url + CHAT_PATH, json={})
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 1.0 <= elapsed < 5.0


def test_503_every_time_exhausts_the_retries_and_keeps_the_last_answer(setup: Setup) -> None:
    with setup.serve(default=status(503, "backend overloaded")) as server, setup.client() as client:
        response = client.post(server.url + CHAT_PATH, json={})
    assert len(server.hits) == FAST.max_attempts
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "backend overloaded"
    assert len(setup.delays) == FAST.max_attempts - 1
    assert classify(response) == INFRA
    assert evidence(response).startswith("HTTP 503: ")
    assert "backend overloaded" in evidence(response)


@pytest.mark.parametrize("code", [400, 401, 404])
def test_a_client_error_is_never_retried(plain: Setup, code: int) -> None:
    with plain.serve(default=status(code)) as server, plain.client() as client:
        response = client.post(server.url + CHAT_PATH, json={})
    assert response.status_code == code
    assert len(server.hits) == 1
    assert plain.delays == []
    assert classify(response) is None


def test_a_500_is_not_retried_but_is_infra(plain: Setup) -> None:
    with plain.serve(default=status(500)) as server, plain.client() as client:
        response = client.post(server.url + CHAT_PATH, json={})
    assert len(server.hits) == 1
    assert classify(response) == INFRA


def test_the_total_wait_is_bounded_and_a_retry_after_it_cannot_honour_ends_the_retries(plain: Setup) -> None:
    policy = RetryPolicy(max_attempts=10, max_delay=8.0, max_total_wait=20.0)
    with plain.serve(default=status(429, retry_after="9")) as server, plain.client(policy) as client:
        response = client.post(server.url + CHAT_PATH, json={})
    attempts = client._transport.attempts  # type: ignore[attr-defined]
    assert response.status_code == 429
    assert plain.delays == [8.0, 8.0]
    assert len(server.hits) == 3
    assert attempts[-1].gave_up == "Retry-After asks 9 s, more than the 4 s --max-retry-wait leaves"


def test_a_retry_after_longer_than_the_retry_wait_is_not_retried_and_says_why(plain: Setup) -> None:
    with plain.serve(default=status(429, retry_after="3600")) as server, plain.client() as client:
        response = client.post(server.url + CHAT_PATH, json={})
    assert response.status_code == 429 and len(server.hits) == 1 and plain.delays == []
    assert describe_attempts(client._transport.attempts) == (  # type: ignore[attr-defined]
        "1 attempt: 429 (not retried: Retry-After asks 3600 s, more than the 30 s --max-retry-wait leaves)"
    )
    assert classify(response) == INFRA


def test_a_retry_after_on_the_last_attempt_gives_no_reason_to_stop() -> None:
    """Out of attempts anyway: the attempts say so, not the Retry-After."""
    attempts: list[Attempt] = []
    state = RetryState(RetryPolicy(max_attempts=1), httpx, attempts)
    state.begin()
    assert state.on_response(httpx.Response(429, headers={"retry-after": "3600"})) is None
    assert attempts == [Attempt(1, 429, None, 0.0)]


# --- connections ---------------------------------------------------------------------------------


def test_a_reset_before_any_byte_is_retried(setup: Setup) -> None:
    with setup.serve(reset(), ok()) as server, setup.client() as client:
        response = client.post(server.url + CHAT_PATH, json={})
    attempts = client._transport.attempts  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert len(server.hits) == 2
    assert attempts[0].status is None and attempts[0].error
    assert attempts[1].status == 200


def test_resets_every_time_raise_the_last_error_classified_infra(plain: Setup) -> None:
    with (
        plain.serve(default=reset()) as server,
        plain.client() as client,
        pytest.raises(httpx.TransportError) as raised,
    ):
        client.post(server.url + CHAT_PATH, json={})
    assert len(server.hits) == FAST.max_attempts
    assert classify(raised.value) == INFRA


def test_a_refused_connection_is_retried_then_raised(plain: Setup, free_port: int) -> None:
    transport = plain.transport()
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as raised:
        client.post(f"http://127.0.0.1:{free_port}{CHAT_PATH}", json={})
    assert len(transport.attempts) == FAST.max_attempts
    assert all("ConnectError" in str(a.error) for a in transport.attempts)
    assert classify(raised.value) == INFRA


def test_the_callers_trace_hook_still_sees_every_event_and_is_put_back(plain: Setup) -> None:
    events: list[str] = []

    def hook(name: str, info: dict[str, Any]) -> None:
        events.append(name)

    with plain.serve(reset(), ok()) as server, plain.client() as client:
        request = client.build_request("POST", server.url + CHAT_PATH, json={}, extensions={"trace": hook})
        response = client.send(request)
    assert response.status_code == 200
    assert events.count("http11.receive_response_headers.complete") == 1
    assert events.count("http11.send_request_headers.started") == 2
    assert request.extensions["trace"] is hook


# --- streams -------------------------------------------------------------------------------------


def test_a_stall_mid_stream_is_a_read_timeout_classified_with_what_arrived(setup: Setup) -> None:
    timeouts = Timeouts(read=0.5)
    started, parts = time.monotonic(), []
    with (
        setup.serve(stream(stall_after=2, stall_for=20)) as server,
        setup.client(timeouts=timeouts) as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
        pytest.raises(httpx.ReadTimeout) as raised,
    ):
        parts.extend(response.iter_text())
    assert time.monotonic() - started < 5.0  # the read timeout, not the server's 20 s stall
    received = "".join(parts)
    assert "part 0" in received and "part 1" in received and "part 2" not in received
    assert len(server.hits) == 1
    assert classify(raised.value) == INFRA
    line = transport_fault(raised.value, arrival(response, received), timeouts)
    assert line is not None and line.startswith("no byte for 0.5 s (--read-timeout); HTTP 200, ")
    assert "part 1" in line.split("the last to arrive: ")[1]


UNTERMINATED = "the connection closed before the chunked body's last chunk (never terminated)"


@pytest.mark.parametrize(
    ("with_reset", "says"),
    [(False, (UNTERMINATED,)), (True, ("the connection was reset mid-answer", UNTERMINATED))],
    ids=["closed", "reset"],
)
def test_a_connection_dropped_mid_stream_is_classified_by_how_and_is_not_retried(
    setup: Setup, with_reset: bool, says: tuple[str, ...]
) -> None:
    """A reset says so over plain TCP; under TLS it can reach the client as a bare end of data."""
    parts: list[str] = []
    with (
        setup.serve(stream(drop_after=2, drop_with_reset=with_reset)) as server,
        setup.client() as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
        pytest.raises(httpx.TransportError) as raised,
    ):
        parts.extend(response.iter_text())
    assert "".join(parts).count("data: ") == 2
    assert len(server.hits) == 1
    assert classify(raised.value) == INFRA
    line = str(transport_fault(raised.value, arrival(response, "".join(parts))))
    assert line.startswith(says[0] + ";") or (setup.https and line.startswith(says[-1] + ";"))


def test_a_body_short_of_its_content_length_says_so(plain: Setup) -> None:
    short = Fault(body=chat_completion(), headers=(("Content-Type", "application/json"),), short_by=9)
    with (
        plain.serve(short) as server,
        plain.client() as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
        pytest.raises(httpx.RemoteProtocolError) as raised,
    ):
        response.read()
    declared = len(chat_completion()) + 9
    line = transport_fault(raised.value, arrival(response, ""))
    assert str(line).startswith(f"the body ended short of its content-length ({declared} bytes); ")


def test_a_stream_past_its_deadline_is_cut_off_by_the_guarded_transport(plain: Setup) -> None:
    inner = guard.transport("httpx", guard.Limits(deadline=0.5))
    started = time.monotonic()
    with (
        plain.serve(stream(chunk_events(30), interval=0.1)) as server,
        httpx.Client(
            transport=RetryTransport(inner, FAST), timeout=Timeouts(read=2.0).for_client()
        ) as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
        pytest.raises(guard.DeadlineExceeded) as raised,
    ):
        read_text(response)
    assert time.monotonic() - started < 2.0
    assert 0 < raised.value.received < len(b"".join(chunk_events(30)))
    assert classify(raised.value) == INFRA
    assert str(transport_fault(raised.value)).startswith(
        "the response ran past its 0.5 s deadline (--stream-timeout); no response; "
    )


def test_without_an_exception_that_says_so_nothing_is_a_transport_fault() -> None:
    assert transport_fault(ValueError("bad fixture")) is None
    assert transport_fault(httpx.UnsupportedProtocol("ftp")) is None
    # Older SDKs wrap any error raised while sending (a harness bug too) as a connection error: only
    # one the network caused is a transport fault.
    bare = openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1/"))
    assert transport_fault(bare) is None
    wrapped = openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1/"))
    wrapped.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    assert transport_fault(wrapped).startswith("the SDK lost the connection; no response; ")


def test_a_malformed_event_is_read_whole_and_is_not_infra(plain: Setup) -> None:
    events = (*chunk_events(1)[:1], b"data: {bad json\n\n", b"stray line\n\n", b"data: [DONE]\n\n")
    with (
        plain.serve(stream(events)) as server,
        plain.client() as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
    ):
        lines = read_text(response).splitlines()
    assert "data: {bad json" in lines and "stray line" in lines and lines[-2] == "data: [DONE]"
    assert classify(response) is None


def test_a_slow_first_byte_within_the_read_timeout_is_fine(plain: Setup) -> None:
    slow = Fault(
        body=chat_completion(), headers=(("Content-Type", "application/json"),), first_byte_delay=0.3
    )
    with plain.serve(slow) as server, plain.client(timeouts=Timeouts(read=3.0)) as client:
        response = client.post(server.url + CHAT_PATH, json={})
    assert response.status_code == 200


def test_a_first_byte_slower_than_the_read_timeout_is_infra_and_not_retried(plain: Setup) -> None:
    slow = Fault(body=chat_completion(), first_byte_delay=5.0)
    with (
        plain.serve(default=slow) as server,
        plain.client(timeouts=Timeouts(read=0.3)) as client,
        pytest.raises(httpx.ReadTimeout) as raised,
    ):
        client.post(server.url + CHAT_PATH, json={})
    assert len(server.hits) == 1
    assert classify(raised.value) == INFRA


def test_under_the_vcr_recorder_a_drop_mid_stream_is_still_not_retried(plain: Setup, tmp_path: Any) -> None:
    """vcrpy reads the whole body inside the transport it patches, so the drop surfaces before the
    response is returned; the transport must still see that the response had started."""
    recorder = vcr.VCR(record_mode="all")
    with (
        plain.serve(default=stream(drop_after=2)) as server,
        plain.client() as client,
        recorder.use_cassette(str(tmp_path / "drop.yaml")),
        pytest.raises(httpx.RemoteProtocolError) as raised,
    ):
        client.post(server.url + CHAT_PATH, json={})
    assert len(server.hits) == 1
    assert classify(raised.value) == INFRA


# --- the SDK lane (httpx2) -----------------------------------------------------------------------


def sdk_client(server_url: str, setup: Setup) -> openai.OpenAI:
    inner = httpx2.HTTPTransport(verify=setup.client_tls)
    transport = Httpx2RetryTransport(inner, FAST, sleep=setup.delays.append)
    return openai.OpenAI(
        base_url=server_url + SDK_BASE,
        api_key="fault-server-key",
        http_client=openai.DefaultHttpxClient(transport=transport),
        max_retries=0,
    )


def test_the_sdk_over_the_httpx2_transport_gets_through_a_429(setup: Setup) -> None:
    with setup.serve(status(429, retry_after="1"), ok()) as server:
        client = sdk_client(server.url, setup)
        with client:
            completion = client.chat.completions.create(model="google/gemini", messages=MESSAGES)
    assert completion.choices[0].message.content == "ok"
    assert setup.delays == [1.0]
    assert len(server.hits) == 2


def test_the_sdks_error_after_exhausted_retries_is_infra_with_the_body_as_evidence(plain: Setup) -> None:
    with plain.serve(default=status(503, "try later")) as server:
        client = sdk_client(server.url, plain)
        with client, pytest.raises(openai.InternalServerError) as raised:
            client.chat.completions.create(model="google/gemini", messages=MESSAGES)
    assert len(server.hits) == FAST.max_attempts
    assert classify(raised.value) == INFRA
    assert "HTTP 503" in evidence(raised.value) and "try later" in evidence(raised.value)


# --- the async transports (the sdk-async lane) ----------------------------------------------------


def async_sleep_recorder(delays: list[float]) -> Any:
    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    return sleep


def test_the_async_httpx_transport_retries_a_reset_and_a_503(setup: Setup) -> None:
    async def run(url: str) -> tuple[httpx.Response, list[int | None]]:
        inner = httpx.AsyncHTTPTransport(verify=setup.client_tls)
        transport = AsyncRetryTransport(inner, FAST, sleep=async_sleep_recorder(setup.delays))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(url + CHAT_PATH, json={})
        return response, [a.status for a in transport.attempts]

    with setup.serve(reset(), status(503, retry_after="1"), ok()) as server:
        response, statuses = asyncio.run(run(server.url))
    assert response.status_code == 200
    assert statuses == [None, 503, 200]
    assert setup.delays[1] == 1.0 and len(server.hits) == 3


def test_the_async_transport_passes_trace_events_on_to_the_callers_async_hook(plain: Setup) -> None:
    events: list[str] = []

    async def hook(name: str, info: dict[str, Any]) -> None:
        events.append(name)

    async def run(url: str) -> int:
        transport = AsyncRetryTransport(sleep=async_sleep_recorder(plain.delays))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(url + CHAT_PATH, json={}, extensions={"trace": hook})
        return response.status_code

    with plain.serve(reset(), ok()) as server:
        assert asyncio.run(run(server.url)) == 200
    assert events.count("http11.receive_response_headers.complete") == 1


def test_the_async_sdk_over_the_httpx2_async_transport_gets_through_a_429(setup: Setup) -> None:
    async def run(url: str) -> str | None:
        inner = httpx2.AsyncHTTPTransport(verify=setup.client_tls)
        transport = Httpx2AsyncRetryTransport(inner, FAST, sleep=async_sleep_recorder(setup.delays))
        client = openai.AsyncOpenAI(
            base_url=url + SDK_BASE,
            api_key="fault-server-key",
            http_client=openai.DefaultAsyncHttpxClient(transport=transport),
            max_retries=0,
        )
        async with client:
            completion = await client.chat.completions.create(model="google/gemini", messages=MESSAGES)
        return completion.choices[0].message.content

    with setup.serve(status(429, retry_after="3"), ok()) as server:
        assert asyncio.run(run(server.url)) == "ok"
    assert setup.delays == [3.0]
    assert len(server.hits) == 2


# --- the verdict ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_code", "verdict"),
    [(200, None), (400, None), (408, INFRA), (429, INFRA), (500, INFRA), (504, INFRA)],
)
def test_an_exchange_is_classified_by_its_status(status_code: int, verdict: str | None) -> None:
    exchange = Exchange(request=None, status=status_code, headers={}, body_text='{"error": {}}')
    assert classify(exchange) == verdict
    assert classify(status_code) == verdict


def test_errors_of_the_harness_or_the_request_are_not_infra() -> None:
    assert classify(ValueError("bad fixture")) is None
    assert classify(httpx.UnsupportedProtocol("ftp")) is None
    assert classify(openai.APITimeoutError(request=httpx2.Request("POST", "http://127.0.0.1/"))) == INFRA


def test_an_error_raised_while_handling_a_timeout_is_not_a_timeout() -> None:
    try:
        try:
            raise httpx.ReadTimeout("slow")
        except httpx.ReadTimeout:
            raise ValueError("a check broke")  # noqa: B904 -- the implicit context is the point
    except ValueError as exc:
        assert classify(exc) is None
    try:
        try:
            raise httpx.ReadTimeout("slow")
        except httpx.ReadTimeout as timeout:
            raise RuntimeError("wrapped") from timeout
    except RuntimeError as exc:
        assert classify(exc) == INFRA
        assert (
            evidence(exc)
            == "no byte for --read-timeout; no response; RuntimeError: wrapped <- ReadTimeout: slow"
        )


def test_evidence_hides_the_project_id_and_withholds_credentials() -> None:
    project = "my-secret-proj-123"
    denied = Exchange(None, 503, {}, body_text=f"Permission denied on projects/{project} " + "x" * 900)
    text = evidence(denied, secrets=[project])
    assert project not in text and "projects/{PROJECT}" in text
    assert len(text) <= len("HTTP 503: ") + 500
    token = "ya29." + "A" * 40
    assert evidence(Exchange(None, 500, {}, body_text=f"echo {token}")) == (
        "(evidence withheld: it held access token)"
    )


# --- the fault server keeps its bounds -----------------------------------------------------------


def test_the_fault_server_stops_by_itself_after_its_lifetime(plain: Setup) -> None:
    with plain.serve(lifetime=0.3) as server:
        time.sleep(0.8)
        with pytest.raises(httpx.ConnectError):
            httpx.post(server.url + CHAT_PATH, json={}, timeout=2.0)


def test_the_fault_server_answers_no_more_than_max_requests(plain: Setup) -> None:
    with plain.serve(max_requests=2) as server:
        answers = []
        for _ in range(3):
            try:
                answers.append(httpx.post(server.url + CHAT_PATH, json={}, timeout=2.0).status_code)
            except httpx.TransportError:
                answers.append(None)
    assert answers == [200, 200, None]
    assert len(server.hits) == 2
