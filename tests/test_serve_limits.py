"""``vertex-conformance serve`` survives a bad client: a huge body is refused without being read, a deep
one gets a 400 instead of a crash, a big one is matched in bounded time, and none of them holds up the
other clients. Over real loopback HTTP, like tests/test_replay_server.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vertex_conformance.json_equality import MISSING, Why, differences
from vertex_conformance.loopback import serve
from vertex_conformance.paths import CASSETTES
from vertex_conformance.replay_server import (
    MAX_DEPTH,
    MAX_SHOWN_DIFFERENCES,
    Recording,
    create_app,
    explain_miss,
    load_recordings,
)

VERTEX = CASSETTES / "vertex"
AUTH = {"Authorization": "Bearer test-token"}
CHAT = "/v1/projects/anything/locations/us-central1/endpoints/openapi/chat/completions"
PLAIN = "test_plain/test_plain_chat[httpx].yaml"
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return load_recordings(VERTEX)


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    document = yaml.safe_load((VERTEX / PLAIN).read_text(encoding="utf-8"))
    return document["interactions"][0]["request"]["body"]["json"]


class BodyCounter:
    """Wraps an ASGI app: counts the body bytes the app received; ``received`` is set by the last."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.bytes, self.received = app, 0, threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            self.bytes += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.received.set()
            return message

        await self.app(scope, counted, send)


def test_a_body_over_the_limit_gets_413_without_the_server_reading_the_rest(
    recordings: list[Recording],
) -> None:
    produced = 0

    def sixty_four_mib() -> Iterator[bytes]:
        nonlocal produced
        for _ in range(1024):
            produced += 64 * 1024
            yield b"x" * (64 * 1024)

    app = BodyCounter(create_app(recordings, max_body_bytes=LIMIT))
    with serve(app) as url:
        reply = httpx.post(url + CHAT, content=sixty_four_mib(), headers=AUTH, timeout=30)
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == 413
    assert f"larger than {LIMIT} bytes" in reply.json()["error"]["message"]
    assert reply.headers["connection"] == "close"
    # The app stopped at the chunk that passed the limit (uvicorn buffers at most 64 KiB ahead), and
    # the server stopped reading: the client could write only what the sockets' buffers hold beyond it.
    assert app.bytes <= LIMIT + 256 * 1024
    assert produced < 16 * 1024 * 1024


def test_a_content_length_over_the_limit_gets_413_before_any_byte_of_the_body(
    recordings: list[Recording],
) -> None:
    with serve(create_app(recordings, max_body_bytes=LIMIT)) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as client:
            # The headers announce 10 GiB and no byte follows: a server waiting for the body times out.
            client.sendall(
                f"POST {CHAT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer t\r\n"
                f"Content-Type: application/json\r\nContent-Length: {10 * 1024**3}\r\n\r\n".encode()
            )
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("depth", "status", "words"),
    [
        (MAX_DEPTH, 404, "No recorded request matches"),
        (MAX_DEPTH + 1, 400, f"nested {MAX_DEPTH + 1} levels deep"),
        (900, 400, "nested 900 levels deep"),
        (100_000, 400, "nested too deep to parse"),
    ],
)
def test_a_body_nested_past_the_depth_limit_gets_400_naming_it(
    recordings: list[Recording], depth: int, status: int, words: str
) -> None:
    with serve(create_app(recordings)) as url:
        reply = httpx.post(url + CHAT, content=b"[" * depth + b"]" * depth, headers=AUTH)
    error = reply.json()["error"]
    assert (reply.status_code, error["code"]) == (status, status)
    assert words in error["message"]
    if status == 400:
        assert f"at most {MAX_DEPTH} levels" in error["message"]


def test_a_million_item_array_is_explained_in_bounded_time_while_a_small_request_is_answered(
    recordings: list[Recording], plain: dict[str, Any]
) -> None:
    # Before the ranking counted the request's leaves once, this miss took over 10 s (once per recording).
    large = json.dumps({**plain, "messages": [0] * 1_000_000}).encode()
    assert len(large) < 8 * 1024 * 1024  # under the default limit: parsed and matched, not refused
    app = BodyCounter(create_app(recordings))
    finished: dict[str, float] = {}
    replies: dict[str, httpx.Response] = {}

    def send_large(url: str) -> None:
        replies["large"] = httpx.post(url + CHAT, content=large, headers=AUTH, timeout=30)
        finished["large"] = time.monotonic()

    with serve(app) as url:
        started = time.monotonic()
        sender = threading.Thread(target=send_large, args=(url,))
        sender.start()
        assert app.received.wait(10)  # the large body is in: the server is parsing and matching it
        replies["small"] = httpx.post(url + CHAT, json=plain, headers=AUTH, timeout=30)
        finished["small"] = time.monotonic()
        sender.join(30)
    assert replies["small"].status_code == 200
    assert replies["large"].status_code == 404
    explanation = replies["large"].json()["error"]["message"]
    assert "$.messages: 1 items recorded, 1000000 in this request" in explanation
    assert finished["small"] < finished["large"] < started + 5


def test_a_miss_names_at_most_the_cap_of_differences_and_counts_the_rest(
    recordings: list[Recording], plain: dict[str, Any]
) -> None:
    # A near miss differs in a few places; a body differing in thousands must not be echoed back whole.
    extra = {f"field_{index:05}": index for index in range(MAX_SHOWN_DIFFERENCES + 5000)}
    message, metadata = explain_miss(recordings, "POST", CHAT, {**plain, **extra})
    shown = metadata["body_difference"].split("; ")
    assert len(shown) == MAX_SHOWN_DIFFERENCES + 1 and shown[-1] == "and 5000 more"
    assert shown[0] == "$.field_00000: only in this request"
    assert len(message) < 100 * MAX_SHOWN_DIFFERENCES


def test_a_request_still_being_handled_never_delays_another(
    recordings: list[Recording], plain: dict[str, Any]
) -> None:
    # The miss report runs where the matching runs; holding it open keeps the first request in
    # the server. Were matching on the event loop, the second request would wait for it.
    small_answered = threading.Event()
    in_handling = threading.Event()

    def report_miss(message: str) -> None:
        in_handling.set()
        small_answered.wait(10)

    replies: dict[str, httpx.Response] = {}
    with (
        serve(create_app(recordings, report_miss=report_miss)) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=5) as client,
    ):
        assert client.post(CHAT, json=plain).status_code == 200  # connected, before any miss
        sender = threading.Thread(
            target=lambda: replies.update(miss=httpx.post(url + CHAT, json={"model": "x"}, headers=AUTH))
        )
        sender.start()
        assert in_handling.wait(10)
        started = time.monotonic()
        small = client.post(CHAT, json=plain)
        elapsed = time.monotonic() - started
        small_answered.set()
        sender.join(10)
    assert small.status_code == 200 and elapsed < 0.1, elapsed
    assert replies["miss"].status_code == 404


def test_a_client_that_leaves_mid_body_costs_no_500_and_no_traceback(
    recordings: list[Recording], capfd: pytest.CaptureFixture[str]
) -> None:
    statuses: list[int] = []
    inner = create_app(recordings)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)

        await inner(scope, receive, noted)

    with serve(app) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as client:
            client.sendall(
                f"POST {CHAT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer t\r\n"
                "Content-Length: 1000\r\n\r\n[1, 2".encode()
            )
        deadline = time.monotonic() + 5
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.01)
    assert statuses and statuses != [500]
    assert "Traceback" not in capfd.readouterr().err


def _leaves(value: Any) -> int:
    if isinstance(value, dict | list):
        return max(1, sum(_leaves(v) for v in (value.values() if isinstance(value, dict) else value)))
    return 1


def _weight_of_differences(recorded: Any, live: Any) -> int:
    """The ranking's definition, spelled out the slow way: per difference, the leaves involved."""
    total = 0
    for difference in differences(recorded, live):
        first, second = difference.first, difference.second
        if difference.why is Why.LENGTH:
            total += _leaves(first[len(second) :] or second[len(first) :])
        else:
            total += max(_leaves(v) for v in (first, second) if v is not MISSING)
    return total


def _recording(index: int, body: Any) -> Recording:
    return Recording("made.yaml", index, "POST", "/chat", body, 200, (), b"{}")


@pytest.mark.parametrize(
    ("live", "closest"),
    [
        ({"a": [1, 2, 3, 4, 5, 6], "b": 2}, 0),  # 3 surplus items and b, against 5 surplus items
        ({"a": [1], "b": 1, "c": {"x": [1, 2]}}, 1),  # c weighs 2 for both; a's missing 2 against b
        ({"b": 2}, 1),  # a, only in the recordings: its 3 leaves and b against its 1 leaf
        ({"a": [1, 2, 3], "b": 2, "c": list(range(100_000))}, 0),  # c weighs the same for both
        ([0] * 100_000, 0),  # an array against an object: its leaves, the same for both; the first wins
    ],
)
def test_the_closest_recording_is_the_one_whose_differences_weigh_least(live: Any, closest: int) -> None:
    recordings = [_recording(0, {"a": [1, 2, 3], "b": 1}), _recording(1, {"a": [1], "b": 2})]
    weights = [_weight_of_differences(r.body, live) for r in recordings]
    assert weights.index(min(weights)) == closest
    _, metadata = explain_miss(recordings, "POST", "/chat", live)
    assert metadata["closest_cassette"] == f"made.yaml (interaction {closest})"
