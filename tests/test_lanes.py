"""The SDK lanes over real loopback HTTP: sync and async clients see the same wire traffic and hold
the same typed view, the tee keeps the whole answer even where the SDK stops reading, and what the
SDK raises becomes evidence instead of a crash. Runs with whichever openai SDK is installed (1.x/2.x
on httpx, 3.x on httpx2)."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tools.sample_server import CHAT_PATH, serve_samples
from vertex_conformance import lanes, vocabulary
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.loopback import serve
from vertex_conformance.paths import FIXTURES, SAMPLES

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


def test_the_suites_run_the_raw_lane_and_both_sdk_clients():
    assert vocabulary.SUITE_LANES == ("httpx", "sdk", "sdk-async")
    assert vocabulary.SDK_LANES == ("sdk", "sdk-async")
    assert {lane_id: vocabulary.lane(lane_id).runner for lane_id in vocabulary.SUITE_LANES} == {
        "httpx": "vertex_conformance.lanes:run_httpx",
        "sdk": "vertex_conformance.lanes:run_sdk",
        "sdk-async": "vertex_conformance.lanes:run_sdk_async",
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
def test_a_connection_that_breaks_after_the_sdk_raised_leaves_the_answer_cut_short(lane):
    chunk = json.dumps({**PLAIN, "object": "chat.completion.chunk"})

    async def events() -> AsyncIterator[bytes]:
        yield f"data: {chunk}\n\ndata: {{not json\n\n".encode()
        await asyncio.sleep(0.05)
        raise ConnectionAbortedError("the server drops the connection mid-answer")

    with serve_answer(StreamingResponse(events(), media_type="text/event-stream")) as url:
        exchange = RUNNERS[lane](lanes.Call(url + OPENAPI, {"messages": [], "stream": True}), None)
    assert exchange.stream_text == f"data: {chunk}\n\ndata: {{not json\n\n"
    assert exchange.notes["sdk_error"].startswith("JSONDecodeError: ")


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
