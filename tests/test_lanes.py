"""The lanes over real loopback HTTP: sync and async SDK clients see the same wire traffic and hold
the same typed view, the tee keeps the whole answer even where the SDK stops reading, and what the
SDK raises becomes evidence instead of a crash. Runs with whichever openai SDK is installed (1.x/2.x
on httpx, 3.x on httpx2).

The fault matrix runs every lane, the raw one too, against tests/fault_server.py: every answer that
does not arrive whole is the same ``TransportError`` in every lane, the limits hold (also under the
recorder), a 401 is refreshed once, and bytes that are not UTF-8 are evidence, not a crash."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
import pytest
import vcr
from fault_server import (
    Fault,
    big_answer,
    chat_completion,
    chunk_events,
    gzip_bomb,
    gzipped,
    serve_faults,
    status,
)
from fault_server import stream as sse_fault
from lane_params import every_lane
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tools.sample_server import CHAT_PATH, serve_samples
from vertex_conformance import lanes, vocabulary
from vertex_conformance.auth import StaticToken
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.config import ConfigError
from vertex_conformance.loopback import serve
from vertex_conformance.paths import FIXTURES, SAMPLES
from vertex_conformance.resilience import RetryPolicy, Timeouts

OPENAPI = "/v1/projects/p/locations/us-central1/endpoints/openapi"
MODEL = "google/gemini-2.5-flash"
FORMS = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))
RUNNERS = {lane_id: vocabulary.lane(lane_id).send for lane_id in vocabulary.SDK_LANES}
PLAIN = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))


class CalendarEvent(pydantic.BaseModel):
    name: str
    date: str
    participants: list[str]


@pytest.fixture(scope="module")
def samples_url() -> Iterator[str]:
    with serve_samples() as url:
        yield url + OPENAPI


def call_for(base_url: str, form: str, stream: bool, **kwargs: Any) -> lanes.Call:
    body = json.loads((FIXTURES / "requests" / f"{form}.json").read_text(encoding="utf-8"))
    body = {"model": MODEL, **body}
    return lanes.Call(base_url, {**body, "stream": True} if stream else body, **kwargs)


def wire_text(exchange: Any) -> str:
    return exchange.stream_text if exchange.streamed else exchange.body_text


def serve_answer(answer: Response) -> Any:
    """A server whose chat route always gives ``answer``."""

    async def chat(request: Request) -> Response:
        return answer

    return serve(Starlette(routes=[Route(CHAT_PATH, chat, methods=["POST"])]))


def sse(*payloads: str) -> Response:
    """Each event in a write of its own, a moment apart, so a client that stops reading misses the rest."""

    async def events() -> AsyncIterator[bytes]:
        for payload in payloads:
            yield f"data: {payload}\n\n".encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(events(), media_type="text/event-stream")


# --- lane names and the HTTP library --------------------------------------------------------------


def test_the_suites_run_the_raw_lane_both_sdk_clients_and_the_client_lanes():
    assert ("httpx", "sdk", "sdk-async", *vocabulary.CLIENT_LANES) == vocabulary.SUITE_LANES
    assert vocabulary.SDK_LANES == ("sdk", "sdk-async")
    assert {lane_id: vocabulary.lane(lane_id).runner for lane_id in vocabulary.SUITE_LANES} == {
        "httpx": "vertex_conformance.lanes:run_httpx",
        "sdk": "vertex_conformance.lanes:run_sdk",
        "sdk-async": "vertex_conformance.lanes:run_sdk_async",
        **dict.fromkeys(vocabulary.CLIENT_LANES, "vertex_conformance.client_lanes:run"),
    }


def test_http_library_names_the_library_of_the_sdks_default_clients():
    library = importlib.import_module(lanes.http_library())
    with openai.DefaultHttpxClient() as client:
        assert isinstance(client, library.Client)
    assert issubclass(openai.DefaultAsyncHttpxClient, library.AsyncClient)


def test_http_library_is_httpx2_from_openai_3_on_and_httpx_before():
    major = int(openai.__version__.split(".")[0])
    assert lanes.http_library() == ("httpx2" if major >= 3 else "httpx")


def test_sdk_kwargs_omit_the_model_and_nest_unknown_keys_in_extra_body():
    kwargs = lanes.sdk_kwargs({"messages": [], "extra_body": {"google": {}}, "modalities": ["image"]})
    assert kwargs["model"] is getattr(openai, "omit", openai.NOT_GIVEN)
    assert kwargs["messages"] == [] and kwargs["modalities"] == ["image"]
    assert kwargs["extra_body"] == {"extra_body": {"google": {}}}


# --- sync and async see the same -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("form", FORMS)
def test_async_lane_sends_receives_and_holds_what_the_sync_lane_does(samples_url, form, stream):
    call = call_for(samples_url, form, stream)
    sync, asynchronous = lanes.run_sdk(call, None), lanes.run_sdk_async(call, None)
    assert (sync.lane, asynchronous.lane) == ("sdk", "sdk-async")
    assert asynchronous.request.body == sync.request.body == call.body
    assert asynchronous.status == sync.status == 200
    assert wire_text(asynchronous) == wire_text(sync)
    assert asynchronous.streamed is sync.streamed is stream
    assert asynchronous.sdk_view == sync.sdk_view is not None
    assert set(asynchronous.notes) == set(sync.notes) == {"timing"}  # no error, no retry
    assert (
        set(asynchronous.notes["timing"])
        == set(sync.notes["timing"])
        == {"ttfb_s", "first_chunk_s", "total_s"}
    )


@pytest.mark.parametrize("lane", RUNNERS)
def test_a_streamed_sdk_view_holds_one_dump_per_wire_chunk(samples_url, lane):
    exchange = RUNNERS[lane](call_for(samples_url, "thinking", stream=True), None)
    assert [chunk for _, chunk in exchange.chunks] == exchange.sdk_view
    assert exchange.stream_text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("lane", RUNNERS)
def test_both_sdk_lanes_parse_structured_output_into_the_callers_model(samples_url, lane):
    call = call_for(samples_url, "structured_output", stream=False, parse_with=CalendarEvent)
    exchange = RUNNERS[lane](call, None)
    message = exchange.sdk_view["choices"][0]["message"]
    assert message["parsed"] == json.loads(message["content"])
    assert exchange.request.body["response_format"]["type"] == "json_schema"


def expected_sdk_failures(form: str, stream: bool) -> set[str]:
    """What the SDK does with the documented answers: it parses all and keeps every field, but its
    stream accumulator concatenates the role every Vertex delta repeats, and raises on the tool-call
    stream's unstable index at once (so that stream's role is still whole when it stops)."""
    if not stream:
        return set()
    return {"sdk.stream-accumulation"} if form == "function_call_arguments" else {"sdk.stream-message"}


@pytest.mark.parametrize("lane", RUNNERS)
def test_the_sdk_checks_on_every_documented_answer(samples_url, lane):
    for form in FORMS:
        for stream in (False, True):
            results, _ = evaluate(RUNNERS[lane](call_for(samples_url, form, stream), None))
            sdk_failures = {f.requirement for f in failures(results) if f.requirement.startswith("sdk.")}
            assert sdk_failures == expected_sdk_failures(form, stream), (form, stream)
            assert results["sdk.parses"] == [] and results["sdk.keeps-fields"] == []


# --- the tee and the SDK's errors ----------------------------------------------------------------


@pytest.mark.parametrize("lane", RUNNERS)
def test_the_tee_keeps_what_the_server_sent_after_done_though_the_sdk_stops_there(lane):
    late = json.dumps({"late": True})
    with serve_answer(sse(json.dumps({**PLAIN, "object": "chat.completion.chunk"}), "[DONE]", late)) as url:
        exchange = RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": [], "stream": True}), None)
    assert exchange.stream_text.endswith(f"data: {late}\n\n")
    assert len(exchange.sdk_view) == 1


@pytest.mark.parametrize("lane", RUNNERS)
def test_an_sdk_that_raises_mid_stream_is_a_finding_and_the_wire_text_stays_whole(lane):
    chunk = json.dumps({**PLAIN, "object": "chat.completion.chunk"})
    with serve_answer(sse(chunk, "{not json", chunk, "[DONE]")) as url:
        exchange = RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": [], "stream": True}), None)
    assert exchange.sdk_view is None
    assert exchange.notes["sdk_error"].startswith("JSONDecodeError: ")
    assert exchange.stream_text.count(chunk) == 2 and exchange.stream_text.endswith("data: [DONE]\n\n")
    found = [f.requirement for f in failures(evaluate(exchange)[0]) if f.requirement.startswith("sdk.")]
    assert found == ["sdk.parses"]


@pytest.mark.parametrize("lane", RUNNERS)
def test_a_connection_that_breaks_after_the_sdk_raised_is_a_transport_fault_not_an_sdk_finding(lane):
    """The SDK chokes on a malformed event, then the tee's reading of the rest breaks: the answer
    never arrived whole, so it is not judged (infra), whatever the SDK made of its first part."""
    chunk = json.dumps({**PLAIN, "object": "chat.completion.chunk"})

    async def events() -> AsyncIterator[bytes]:
        yield f"data: {chunk}\n\ndata: {{not json\n\n".encode()
        await asyncio.sleep(0.05)
        raise ConnectionAbortedError("the server drops the connection mid-answer")

    with (
        serve_answer(StreamingResponse(events(), media_type="text/event-stream")) as url,
        pytest.raises(lanes.TransportError, match="never terminated") as raised,
    ):
        RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": [], "stream": True}), None)
    assert "data: {not json'; " in str(raised.value)  # the last to arrive, in the evidence


@pytest.mark.parametrize("lane", RUNNERS)
def test_an_error_status_is_noted_with_its_status_only_and_is_not_a_parse_failure(samples_url, lane):
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]}
    exchange = RUNNERS[lane](lanes.Call(samples_url, body), None)
    assert exchange.status == 404
    assert exchange.notes["sdk_error"] == "NotFoundError: 404"
    assert json.loads(exchange.body_text)["error"]["code"] == 404
    assert not any(rid.startswith("sdk.") for rid in evaluate(exchange)[0])


@pytest.mark.parametrize("lane", RUNNERS)
def test_a_compressed_answer_is_kept_decoded(lane):
    message = {"role": "assistant", "content": "x" * 2000}
    answer = {**PLAIN, "choices": [{**PLAIN["choices"][0], "message": message}]}

    async def chat(request: Request) -> Response:
        return JSONResponse(answer)

    routes = [Route(CHAT_PATH, chat, methods=["POST"])]
    app = Starlette(routes=routes, middleware=[Middleware(GZipMiddleware)])
    with serve(app) as url:
        exchange = RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": []}), None)
    assert exchange.headers["content-encoding"] == "gzip"
    assert exchange.body == answer
    assert exchange.sdk_view["choices"][0]["message"]["content"] == "x" * 2000


@pytest.mark.parametrize("lane", RUNNERS)
def test_no_server_is_a_transport_error_naming_what_the_sdk_raised(lane):
    with serve_samples() as url:
        pass  # the port is free again: nothing listens there
    with pytest.raises(lanes.TransportError, match="APIConnectionError"):
        RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": []}), None)


# --- the fault matrix, every lane ------------------------------------------------------------------

LANES = {lane_id: vocabulary.lane(lane_id).send for lane_id in vocabulary.SUITE_LANES}
JSON = (("Content-Type", "application/json"),)
ONCE = RetryPolicy(max_attempts=1)


def fault_call(
    url: str, *, streamed: bool, read: float = 5.0, deadline: float = 30.0, **options: Any
) -> lanes.Call:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    return lanes.Call(
        url + OPENAPI,
        {**body, "stream": True} if streamed else body,
        timeouts=Timeouts(connect=5.0, read=read, stream=deadline),
        retry=options.pop("retry", ONCE),
        **options,
    )


MIB = 1 << 20
# (what the server does, the call's options, what the lane's TransportError says)
FAULTS = {
    "stall mid-stream": (
        sse_fault(stall_after=2, stall_for=20),
        {"read": 0.5},
        "no byte for 0.5 s (--read-timeout)",
    ),
    "reset mid-stream": (
        sse_fault(drop_after=2, drop_with_reset=True),
        {},
        "the connection was reset mid-answer",
    ),
    "short body": (
        Fault(body=chat_completion(), headers=JSON, short_by=40),
        {},
        "short of its content-length",
    ),
    "chunked, closed unterminated": (sse_fault(terminate=False), {}, "(never terminated)"),
    "chunked, held open unterminated": (
        sse_fault(terminate=False, hold_for=20),
        {"read": 0.5},
        "no byte for 0.5 s",
    ),
    "closed before [DONE]": (
        sse_fault(chunk_events(3)[:-1], close_delimited=True),
        {},
        "closed before [DONE]",
    ),
    "dripped past the deadline": (sse_fault(drip=0.05), {"deadline": 1.0}, "1 s deadline (--stream-timeout)"),
    "gzip bomb": (gzipped(gzip_bomb(64 * MIB)), {"max_response_bytes": MIB}, "(--max-response-bytes)"),
    "large answer": (
        Fault(body=big_answer(3 * MIB), headers=JSON),
        {"max_response_bytes": MIB},
        "passed 1048576 bytes decoded",
    ),
}


@pytest.mark.parametrize("lane", every_lane())
@pytest.mark.parametrize("fault", FAULTS)
def test_an_answer_that_does_not_arrive_whole_is_the_same_transport_error_in_every_lane(fault, lane):
    answer, options, says = FAULTS[fault]
    streamed = answer.events is not None
    started = time.monotonic()
    with serve_faults(default=answer) as server, pytest.raises(lanes.TransportError) as raised:
        LANES[lane](fault_call(server.url, streamed=streamed, **options), None)
    elapsed = time.monotonic() - started
    assert says in str(raised.value)
    assert "1 attempt: 200" in str(raised.value) and len(server.hits) == 1  # nothing mid-answer is retried
    startup = 8.0 if vocabulary.lane(lane).client else 0.0  # node, or the first import of LiteLLM
    assert elapsed < options.get("deadline", 5.0) + 1.5 + startup


@pytest.mark.parametrize("lane", every_lane())
def test_a_json_answer_framed_by_the_close_is_judged_not_called_cut_off(lane):
    """Only an event stream can be known to lack its end; a JSON answer to a streamed request is
    the stream checks' to fail."""
    answer = sse_fault((chat_completion(),), close_delimited=True, headers=JSON)
    with serve_faults(default=answer) as server:
        exchange = LANES[lane](fault_call(server.url, streamed=True), None)
    assert exchange.stream_text == chat_completion().decode()


@pytest.mark.parametrize("lane", every_lane())
def test_the_deadline_and_the_size_hold_under_the_recorder_too(lane, tmp_path):
    """vcrpy reads the whole body inside the transport it patches: the guard sits below it."""
    recorder = vcr.VCR(record_mode="all")
    for answer, options, says in (FAULTS["dripped past the deadline"], FAULTS["gzip bomb"]):
        started = time.monotonic()
        with (
            serve_faults(default=answer) as server,
            recorder.use_cassette(str(tmp_path / f"{lane}.yaml")),
            pytest.raises(lanes.TransportError, match=says.replace("(", r"\(").replace(")", r"\)")),
        ):
            LANES[lane](fault_call(server.url, streamed=answer.events is not None, **options), None)
        assert time.monotonic() - started < options.get("deadline", 5.0) + 1.5


@pytest.mark.parametrize("lane", every_lane())
def test_bytes_that_are_not_utf8_are_kept_as_evidence_in_every_lane(lane):
    body = chat_completion("caf\u00e9").replace(b"caf\\u00e9", b"caf\xe9")
    with serve_faults(default=Fault(body=body, headers=JSON)) as server:
        exchange = LANES[lane](fault_call(server.url, streamed=False), None)
    at = body.index(b"\xe9")
    assert exchange.undecodable == f"byte {at} is not UTF-8 (invalid continuation byte: e9)"
    assert '"content": "caf\ufffd"' in exchange.body_text
    results, _ = evaluate(exchange)
    assert [f.requirement for f in results["response.utf8"]] == ["response.utf8"]


class Rotating:
    """A refreshable source that hands out a new token after each invalidate (what ADC does)."""

    refreshable = True

    def __init__(self) -> None:
        self.issued = 0

    def token(self) -> str:
        return f"tok-{self.issued}"

    def invalidate(self) -> None:
        self.issued += 1

    def account(self) -> None:
        return None


@pytest.mark.parametrize("lane", every_lane())
def test_a_401_is_refreshed_once_and_retried_in_every_lane(lane):
    with serve_faults(status(401)) as server:
        exchange = LANES[lane](fault_call(server.url, streamed=False), Rotating())
    assert exchange.status == 200
    assert server.authorizations == ["Bearer tok-0", "Bearer tok-1"]


@pytest.mark.parametrize("lane", every_lane())
def test_a_static_token_is_not_resent_after_a_401(lane):
    with serve_faults(default=status(401)) as server:
        exchange = LANES[lane](fault_call(server.url, streamed=False), StaticToken("static-token"))
    assert exchange.status == 401
    assert server.authorizations == ["Bearer static-token"]


class Failing(Rotating):
    def token(self) -> str:
        raise ConfigError("could not get Google credentials (invalid_grant): run gcloud")


@pytest.mark.parametrize("lane", every_lane())
def test_a_credential_failure_mid_run_comes_out_of_every_lane_as_itself(lane):
    with serve_faults() as server, pytest.raises(ConfigError, match="could not get Google credentials"):
        LANES[lane](fault_call(server.url, streamed=False), Failing())
    assert server.hits == []


@pytest.mark.parametrize("lane", every_lane())
def test_a_retry_after_beyond_the_retry_wait_is_not_retried_in_any_lane(lane):
    policy = RetryPolicy(max_attempts=3, max_total_wait=3.0)
    started = time.monotonic()
    with serve_faults(default=status(429, retry_after="3600")) as server:
        exchange = LANES[lane](fault_call(server.url, streamed=False, retry=policy), None)
    assert exchange.status == 429 and len(server.hits) == 1
    assert exchange.notes["attempts"] == (
        "1 attempt: 429 (not retried: Retry-After asks 3600 s, more than the 3 s --max-retry-wait leaves)"
    )
    assert time.monotonic() - started < 2.0
