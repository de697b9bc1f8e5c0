"""The client lanes' gateway and runner over real loopback HTTP, with a stand-in driver (plain httpx,
as a client would call): replay answers from the raw lane's cassette by meaning and names the
closest recording on a miss; live relays the client's exact bytes through the raw lane (its
credentials, retries and fault classification), so the client never holds a token; slots keep
concurrent calls apart; an unavailable client is one line."""

from __future__ import annotations

import json
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fault_server import Fault, reset, serve_faults

from tools.sample_server import serve_samples
from vertex_conformance import client_lanes, gateway, lanes
from vertex_conformance.auth import StaticToken
from vertex_conformance.client_call import (
    ClientCall,
    ClientError,
    ClientResult,
    ClientUnavailable,
    ClientView,
)
from vertex_conformance.paths import CASSETTES, FIXTURES
from vertex_conformance.replay_server import load_cassette
from vertex_conformance.resilience import RetryPolicy, Timeouts
from vertex_conformance.vocabulary import Lane

OPENAPI = "/v1/projects/example-project/locations/us-central1/endpoints/openapi"
PLAIN_CASSETTE = CASSETTES / "vertex" / "test_plain" / "test_plain_chat[httpx].yaml"
BODY = json.loads((FIXTURES / "requests" / "plain.json").read_text(encoding="utf-8"))


def _documented_body() -> dict[str, Any]:
    """The body the plain cassette recorded (the raw lane's), read back from the cassette."""
    recording = load_cassette(PLAIN_CASSETTE, PLAIN_CASSETTE.name)[0]
    return dict(recording.body)


class StandInDriver:
    """A client as the gateway sees one: it posts a (possibly reworded) body to the base URL it is
    given, with the placeholder key, and reports what its user got."""

    def __init__(self, reword: Any = None, unavailable: str | None = None) -> None:
        self.reword = reword or (lambda body: body)
        self.why = unavailable
        self.seen: list[ClientCall] = []

    def unavailable(self) -> str | None:
        return self.why

    def version(self) -> str:
        return "0.0-test"

    def drive(self, call: ClientCall) -> ClientResult:
        self.seen.append(call)
        response = httpx.post(
            call.base_url + "/chat/completions",
            json=self.reword(dict(call.body)),
            headers={"authorization": f"Bearer {call.api_key}"},
            timeout=30,
        )
        if response.status_code >= 400:
            error = ClientError("APIError", response.status_code, response.text[:200])
            return ClientResult("post()", "0.0-test", error=error)
        message = response.json()["choices"][0]["message"] if not call.streamed else {}
        view = ClientView(role=message.get("role"), content=message.get("content"))
        return ClientResult("post()", "0.0-test", view=view)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Lane, StandInDriver]]:
    driver = StandInDriver()
    module = types.ModuleType("stand_in_driver")
    for name in ("unavailable", "version", "drive"):
        setattr(module, name, getattr(driver, name))
    monkeypatch.setitem(sys.modules, "stand_in_driver", module)
    lane = Lane("stand-in", "a test client", "vertex_conformance.client_lanes:run", driver="stand_in_driver")
    yield lane, driver
    gateway.close()


def _call(base: str, body: dict[str, Any], **extra: Any) -> lanes.Call:
    return lanes.Call(
        base + OPENAPI,
        body,
        timeouts=Timeouts(connect=2, read=5, stream=10),
        retry=RetryPolicy(max_attempts=1),
        **extra,
    )


def test_replay_answers_a_reworded_body_from_the_raw_lanes_cassette(stand_in):
    lane, driver = stand_in

    def reword(body: dict[str, Any]) -> dict[str, Any]:  # what LangChain does to the token limit
        body["max_completion_tokens"] = body.pop("max_tokens", 64)
        return body

    driver.reword = reword
    body = _documented_body()
    exchange = lane.send(_call("https://aiplatform.googleapis.com", body, replay_from=PLAIN_CASSETTE), None)
    assert exchange.status == 200
    assert exchange.lane == "stand-in"
    assert exchange.request.body["max_completion_tokens"] == body["max_tokens"]
    assert exchange.expected_body == body
    assert exchange.sdk_view["view"]["content"] == exchange.body["choices"][0]["message"]["content"]
    assert driver.seen[0].base_url.startswith("http://127.0.0.1:")
    assert driver.seen[0].project == "example-project" and driver.seen[0].endpoint_id is None


def test_replay_miss_names_the_closest_recording_and_every_differing_path(stand_in):
    lane, driver = stand_in

    def move_extra(body: dict[str, Any]) -> dict[str, Any]:
        body["extra_body"] = {"google": {"thinking_config": {"include_thoughts": True}}}
        return body

    driver.reword = move_extra
    call = _call("https://aiplatform.googleapis.com", _documented_body(), replay_from=PLAIN_CASSETTE)
    with pytest.raises(client_lanes.NotReplayable) as raised:
        lane.send(call, None)
    message = str(raised.value)
    assert "test_plain_chat[httpx].yaml" in message
    assert "$.extra_body" in message
    assert raised.value.request.body["extra_body"]  # what the client sent, for the request's own verdict


def test_a_recording_that_does_not_answer_the_documented_body_is_not_blamed_on_the_client(stand_in):
    lane, _ = stand_in
    stale = _documented_body() | {"messages": [{"role": "user", "content": "a question never recorded"}]}
    with pytest.raises(lanes.TransportError, match=r"test_plain_chat\[httpx\]\.yaml"):
        lane.send(_call("https://aiplatform.googleapis.com", stale, replay_from=PLAIN_CASSETTE), None)


def test_live_relays_the_clients_exact_bytes_with_the_runs_credentials(stand_in):
    lane, driver = stand_in
    seen: list[httpx.Headers] = []
    with serve_samples() as base:
        original = lanes.run_httpx

        def spy(call: lanes.Call, tokens: Any) -> Any:
            exchange = original(call, tokens)
            seen.append(call)
            return exchange

        lanes_run = pytest.MonkeyPatch()
        lanes_run.setattr(lanes, "run_httpx", spy)
        try:
            call = _call(base, BODY | {"model": "google/gemini-2.5-flash"})
            exchange = lane.send(call, StaticToken("t0ken"))
        finally:
            lanes_run.undo()
    assert exchange.status == 200
    assert seen[0].content is not None and json.loads(seen[0].content) == exchange.request.body
    assert driver.seen[0].api_key != "t0ken"  # the client never holds the run's credential
    assert "t0ken" not in json.dumps(exchange.request.headers)


def test_a_relay_fault_is_the_raw_lanes_transport_error_not_a_client_finding(stand_in):
    lane, _ = stand_in
    with serve_faults(reset()) as server, pytest.raises(lanes.TransportError, match=r"reset|closed"):
        lane.send(_call(server.url, BODY | {"model": "m"}), StaticToken("t"))


def test_an_error_answer_reaches_the_client_as_the_server_sent_it(stand_in):
    lane, _ = stand_in
    array = Fault(
        status=400,
        body=b'[{"error": {"code": 400, "message": "bad"}}]',
        headers=(("Content-Type", "application/json"),),
    )
    with serve_faults(array) as server:
        exchange = lane.send(_call(server.url, BODY | {"model": "m"}), StaticToken("t"))
    assert exchange.status == 400
    assert exchange.sdk_view["error"]["status"] == 400
    assert '"message": "bad"' in exchange.sdk_view["error"]["message"]


def test_concurrent_slots_never_see_each_others_traffic(stand_in):
    lane, _ = stand_in
    results: dict[str, Any] = {}
    with serve_samples() as base:

        def send(name: str) -> None:
            question = [{"role": "user", "content": name}]
            body = BODY | {"model": "google/gemini-2.5-flash", "messages": question}
            results[name] = lane.send(_call(base, body), StaticToken("t"))

        threads = [threading.Thread(target=send, args=(f"question {n}",)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(results) == [f"question {n}" for n in range(6)]
    for name, exchange in results.items():
        assert exchange.request.body["messages"][0]["content"] == name


def test_an_unavailable_client_is_one_line_and_sends_nothing(stand_in):
    lane, driver = stand_in
    driver.why = "stand-in: not installed: run make clients"
    with pytest.raises(ClientUnavailable, match=r"^stand-in: not installed: run make clients$"):
        client_lanes.run(_call("http://127.0.0.1:9", BODY), None, lane)
    assert driver.seen == []


def test_the_token_endpoint_hands_out_a_placeholder():
    try:
        response = httpx.post(gateway.current().url + "/token", data={"grant_type": "x"})
    finally:
        gateway.close()
    assert response.json()["access_token"] == gateway.PLACEHOLDER_TOKEN
