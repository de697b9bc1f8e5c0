"""The LiteLLM and LangChain drivers (``client_litellm``, ``client_langchain``) against a loopback server
answering the documented samples: what each client's user really gets, including what the clients
lose on the documented streamed function-call arguments and on the array-shaped 400 body.

The server answers every chat request with the sample a test names and keeps what it was sent;
``/token`` is a Google OAuth token endpoint for LiteLLM's ``vertex_ai/`` route. Every connection
and name lookup to another host fails the test (the clients look up prices and telemetry hosts
otherwise)."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from suites.calendar_event import CalendarEvent
from vertex_conformance import client_call, client_langchain, client_litellm, loopback
from vertex_conformance.client_call import ClientCall, ClientError, ClientUnavailable
from vertex_conformance.paths import SAMPLES

GEMINI_PATH = "/v1/projects/example-project/locations/us-central1/endpoints/openapi"
ENDPOINT_PATH = "/v1/projects/example-project/locations/us-central1/endpoints/1234567890"
TOKEN = "loopback-token"  # what the loopback token endpoint hands out; no credential
EVENT = {"name": "Science Fair", "date": "Friday", "participants": ["Alice", "Bob"]}
STORY = "Once upon a time, a girl named Mia found a backpack that could hold anything she wished for."
MESSAGES = [{"role": "user", "content": "What is the weather like in Boston and New Delhi today?"}]
FIRST_CALL = "function-call-c855348a-459a-46a4-a8ad-aa0a4e7c3563"
SECOND_CALL = "function-call-df0d087c-ad74-46f1-ba4a-9353cbf288a8"
BOSTON = {"location": "Boston, MA", "unit": "celsius"}
NEW_DELHI = {"location": "New Delhi, India", "unit": "celsius"}
SAMPLE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
]


@dataclass
class SampleServer:
    """Answers every chat request with ``sample`` (a file under fixtures/samples/) and keeps the requests."""

    sample: str = "plain_chat.json"
    answer: dict[str, Any] | None = None  # answers this instead of the sample, when set
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)  # (path, headers, body)
    token_requests: int = 0

    def reset(self) -> None:
        """Back to a fresh server's state: each test starts from it, on the module's one server."""
        vars(self).update(vars(SampleServer()))

    def app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            self.requests.append((request.url.path, dict(request.headers), json.loads(await request.body())))
            if self.answer is not None:
                return JSONResponse(self.answer)
            data = (SAMPLES / self.sample).read_bytes()
            if self.sample.endswith(".sse"):
                return Response(data, media_type="text/event-stream")
            status = int(self.sample.split(".")[-2]) if self.sample.startswith("reported/") else 200
            return Response(data, status_code=status, media_type="application/json")

        async def token(request: Request) -> Response:
            self.token_requests += 1
            return JSONResponse({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})

        return Starlette(
            routes=[Route("/token", token, methods=["POST"]), Route("/{path:path}", chat, methods=["POST"])]
        )


@pytest.fixture(scope="module")
def running_server() -> Iterator[tuple[SampleServer, str]]:
    """One server for the module: the clients keep their connections open, and stopping a server
    waits for them."""
    state = SampleServer()
    with loopback.serve(state.app()) as url:
        yield state, url


@pytest.fixture
def server(
    running_server: tuple[SampleServer, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SampleServer, str]]:
    """The sample server; any connection or name lookup for another host is refused and fails the
    test (the clients would swallow the refusal and fall back quietly)."""
    attempts: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not loopback.is_loopback(str(address[0])):
            attempts.append(str(address[0]))
            raise ConnectionRefusedError(f"test_client_python: refused a connection to {address[0]}")
        return connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not loopback.is_loopback(str(host)):
            attempts.append(str(host))
            raise socket.gaierror(f"test_client_python: refused to look up {host}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    state, url = running_server
    state.reset()
    yield state, url
    assert attempts == [], "a client tried to reach a host that is not loopback"


@pytest.fixture
def litellm_installed() -> None:
    """Skips without LiteLLM. Not ``pytest.importorskip``: importing LiteLLM before the driver has
    switched it to its bundled price list makes it try the internet."""
    if client_litellm.unavailable():
        pytest.skip(client_litellm.unavailable())


@pytest.fixture
def langchain_installed() -> None:
    pytest.importorskip("langchain_openai", reason=client_langchain.unavailable() or "")


def gemini_call(url: str, **body: Any) -> ClientCall:
    return ClientCall(
        base_url=url + GEMINI_PATH,
        token_url=url + "/token",
        body={"model": "google/gemini-2.0-flash-001", "messages": MESSAGES, **body},
        project="example-project",
        location="us-central1",
        timeout_s=30.0,
    )


def structured_call(url: str) -> ClientCall:
    schema = {"name": "CalendarEvent", "schema": CalendarEvent.model_json_schema(), "strict": True}
    call = gemini_call(url, response_format={"type": "json_schema", "json_schema": schema})
    return ClientCall(**{**call.__dict__, "parse_with": CalendarEvent})


# --- LiteLLM ------------------------------------------------------------------------------------------


def test_litellm_plain_gives_the_content_and_the_usage_vertex_sent(litellm_installed, server) -> None:
    state, url = server
    result = client_litellm.drive(gemini_call(url, max_tokens=2048))
    assert result.error is None and result.view is not None
    assert result.view.role == "assistant"
    assert result.view.content.startswith("Once upon a time, a girl named Mia")
    assert result.view.usage == {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30}
    assert result.view.tool_calls == []
    assert result.version == client_litellm.version()
    assert result.call.startswith("litellm.completion(model='openai/google/gemini-2.0-flash-001', messages=…")
    path, headers, body = state.requests[0]
    assert (path, headers["authorization"]) == (
        GEMINI_PATH + "/chat/completions",
        "Bearer " + ClientCall.api_key,
    )
    assert body["model"] == "google/gemini-2.0-flash-001"


def test_litellm_stream_is_assembled_by_stream_chunk_builder(litellm_installed, server) -> None:
    state, url = server
    state.sample = "streaming_chat.sse"
    result = client_litellm.drive(gemini_call(url, stream=True))
    assert result.view is not None
    assert result.view.content == STORY
    assert result.view.usage == {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30}
    assert result.call.endswith(
        "stream=True, num_retries=0, timeout=…) + litellm.stream_chunk_builder(chunks, messages=messages)"
    )
    assert state.requests[0][2]["stream"] is True


def test_litellm_keeps_a_non_streamed_calls_signature(litellm_installed, server) -> None:
    """The non-streamed tool calls keep their ``extra_content`` on the call object: the driver finds
    the first call's signature there (and reports none for the second, which has none)."""
    state, url = server
    state.sample = "function_call.json"
    view = client_litellm.drive(gemini_call(url, tools=SAMPLE_TOOLS)).view
    assert view is not None
    assert [(c.id, c.name, json.loads(c.arguments), c.thought_signature) for c in view.tool_calls] == [
        (FIRST_CALL, "get_current_weather", BOSTON, "..."),
        (SECOND_CALL, "get_current_weather", NEW_DELHI, None),
    ]
    assert view.usage == {"prompt_tokens": 27, "completion_tokens": 45, "total_tokens": 576}


def test_litellm_assembles_the_documented_function_call_stream_as_reported(litellm_installed, server) -> None:
    """The reported LiteLLM behaviour on the documented stream: stream_chunk_builder gives both calls
    the second call's id, drops the first call's thought_signature and recomputes total_tokens as
    prompt + completion (72) where Vertex said 576 (reasoning tokens included)."""
    state, url = server
    state.sample = "stream_function_call_arguments.sse"
    view = client_litellm.drive(gemini_call(url, stream=True, tools=SAMPLE_TOOLS)).view
    assert view is not None
    assert [(c.id, c.name, json.loads(c.arguments), c.thought_signature) for c in view.tool_calls] == [
        (SECOND_CALL, "get_current_weather", BOSTON, None),
        (SECOND_CALL, "get_current_weather", NEW_DELHI, None),
    ]
    assert view.usage == {"prompt_tokens": 27, "completion_tokens": 45, "total_tokens": 72}


def test_litellm_reports_the_array_shaped_400_as_just_its_status(litellm_installed, server) -> None:
    state, url = server
    state.sample = "reported/invalid_argument_array.400.json"
    result = client_litellm.drive(gemini_call(url, temperature=0.5))
    assert result.view is None
    assert result.error == ClientError(
        "BadRequestError", 400, "litellm.BadRequestError: OpenAIException - Error code: 400"
    )
    assert len(state.requests) == 1  # num_retries=0: the client does not retry behind the gateway's back


def test_litellm_sends_the_pydantic_models_schema_for_structured_output(litellm_installed, server) -> None:
    """LiteLLM turns the model into the json_schema response format and does not parse the answer."""
    state, url = server
    state.sample = "structured_output.json"
    view = client_litellm.drive(structured_call(url)).view
    assert view is not None
    assert json.loads(view.content) == EVENT
    assert view.parsed is None
    sent = state.requests[0][2]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"]["required"] == ["name", "date", "participants"]


def test_litellm_reaches_a_self_deployed_endpoint_with_a_token_from_the_token_url(
    litellm_installed, server
) -> None:
    state, url = server
    call = ClientCall(
        base_url=url + ENDPOINT_PATH,
        token_url=url + "/token",
        body={"messages": MESSAGES, "max_tokens": 2048},
        project="example-project",
        location="us-central1",
        endpoint_id="1234567890",
        timeout_s=30.0,
    )
    result = client_litellm.drive(call)
    assert result.view is not None and result.view.content.startswith("Once upon a time")
    assert state.token_requests == 1
    path, headers, _body = state.requests[0]
    assert (path, headers["authorization"]) == (ENDPOINT_PATH + "/chat/completions", f"Bearer {TOKEN}")
    assert "model='vertex_ai/openai/{ENDPOINT}'" in result.call  # placeholders: live ids are secrets
    assert "vertex_project='{PROJECT}'" in result.call and "1234567890" not in result.call


def test_litellm_puts_unnamed_body_keys_in_extra_body_and_nests_a_wire_extra_body(
    litellm_installed, server
) -> None:
    state, url = server
    extra = {"google": {"thought_tag_marker": "think"}}
    client_litellm.drive(gemini_call(url, extra_body=extra, vendor_field=1))
    body = state.requests[0][2]
    assert (body["extra_body"], body["vendor_field"]) == (extra, 1)


# --- LangChain ----------------------------------------------------------------------------------------


def test_langchain_plain_gives_the_content_and_the_usage_vertex_sent(langchain_installed, server) -> None:
    state, url = server
    result = client_langchain.drive(gemini_call(url, max_tokens=2048))
    assert result.error is None and result.view is not None
    assert (result.view.role, result.view.tool_calls) == ("assistant", [])
    assert result.view.content.startswith("Once upon a time, a girl named Mia")
    assert result.view.usage == {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30}
    assert result.view.raw["type"] == "ai"
    assert result.call == (
        "ChatOpenAI(base_url=…, api_key=…, model='google/gemini-2.0-flash-001', max_retries=0, timeout=…, "
        "max_tokens=2048).invoke(messages)"
    )
    assert state.requests[0][2]["max_completion_tokens"] == 2048


def test_langchain_stream_is_the_sum_of_its_chunks(langchain_installed, server) -> None:
    state, url = server
    state.sample = "streaming_chat.sse"
    result = client_langchain.drive(gemini_call(url, stream=True, stream_options={"include_usage": True}))
    assert result.view is not None
    assert result.view.content.startswith("Once upon a time")
    assert "stream_usage=True" in result.call and result.call.endswith(".stream(messages), chunks summed")
    assert state.requests[0][2]["stream_options"] == {"include_usage": True}


def test_langchain_drops_the_signature_of_a_non_streamed_call(langchain_installed, server) -> None:
    state, url = server
    state.sample = "function_call.json"
    view = client_langchain.drive(gemini_call(url, tools=SAMPLE_TOOLS)).view
    assert view is not None
    assert [(c.id, c.name, json.loads(c.arguments), c.thought_signature) for c in view.tool_calls] == [
        (FIRST_CALL, "get_current_weather", BOSTON, None),
        (SECOND_CALL, "get_current_weather", NEW_DELHI, None),
    ]


def test_langchain_sums_the_documented_function_call_stream_into_four_calls(
    langchain_installed, server
) -> None:
    """The reported LangChain behaviour on the documented stream: the fragments are merged by their
    ``index``, which the stream reuses across calls, so the sum holds four calls: two empty ones
    (each call's first fragment) and two with the arguments, whose name is repeated once per
    fragment; the signature is dropped."""
    state, url = server
    state.sample = "stream_function_call_arguments.sse"
    view = client_langchain.drive(gemini_call(url, stream=True, tools=SAMPLE_TOOLS)).view
    assert view is not None
    repeated = "get_current_weather" * 5
    assert [(c.id, c.name, json.loads(c.arguments), c.thought_signature) for c in view.tool_calls] == [
        (FIRST_CALL, "get_current_weather", {}, None),
        (FIRST_CALL, repeated, BOSTON, None),
        (SECOND_CALL, "get_current_weather", {}, None),
        (SECOND_CALL, repeated, NEW_DELHI, None),
    ]
    assert view.usage == {"prompt_tokens": 27, "completion_tokens": 45, "total_tokens": 576}


def test_langchain_gives_a_call_whose_arguments_are_not_json_as_an_invalid_call(
    langchain_installed, server
) -> None:
    """LangChain parses a call's arguments for its user; what it cannot parse it moves to
    ``invalid_tool_calls``, which the user gets too: the view keeps it, arguments as sent."""
    state, url = server
    answer = json.loads((SAMPLES / "function_call.json").read_text(encoding="utf-8"))
    answer["choices"][0]["message"]["tool_calls"][1]["function"]["arguments"] = '{"location": "New Delhi'
    state.answer = answer
    view = client_langchain.drive(gemini_call(url, tools=SAMPLE_TOOLS)).view
    assert view is not None
    assert [(c.id, c.arguments) for c in view.tool_calls] == [
        (FIRST_CALL, json.dumps(BOSTON)),
        (SECOND_CALL, '{"location": "New Delhi'),
    ]
    assert view.raw["invalid_tool_calls"][0]["id"] == SECOND_CALL


def test_langchain_signature_is_read_where_langchain_would_keep_it(langchain_installed) -> None:
    """LangChain 1.x keeps no signature; a message that kept the wire call in ``additional_kwargs``
    (as older releases did) gives it, so a ``None`` above means LangChain dropped it."""
    from langchain_core.messages import AIMessage

    wire = {"id": FIRST_CALL, "extra_content": {"google": {"thought_signature": "kept"}}}
    message = AIMessage(
        content="",
        additional_kwargs={"tool_calls": [wire]},
        tool_calls=[{"id": FIRST_CALL, "name": "get_current_weather", "args": BOSTON}],
    )
    assert [c.thought_signature for c in client_langchain._view(message).tool_calls] == ["kept"]


def test_langchain_reports_the_array_shaped_400_as_just_its_status(langchain_installed, server) -> None:
    state, url = server
    state.sample = "reported/invalid_argument_array.400.json"
    result = client_langchain.drive(gemini_call(url, temperature=0.5))
    assert result.view is None
    assert result.error == ClientError("OpenAIInvalidRequestError", 400, "Error code: 400")
    assert len(state.requests) == 1


def test_langchain_parses_structured_output_with_the_pydantic_model(langchain_installed, server) -> None:
    state, url = server
    state.sample = "structured_output.json"
    result = client_langchain.drive(structured_call(url))
    assert result.view is not None
    assert result.view.parsed == EVENT
    assert result.view.raw["parsing_error"] is None
    assert ".with_structured_output(CalendarEvent, method='json_schema', strict=True, include_raw=True)" in (
        result.call
    )
    assert state.requests[0][2]["response_format"]["json_schema"]["strict"] is True


def test_langchain_gives_a_message_without_content_an_empty_one(langchain_installed, server) -> None:
    """The documented tool-call turn has no ``content``; LangChain refuses such a dict, so it gets ""."""
    state, url = server
    turn = {
        "role": "assistant",
        "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    tool = {"role": "tool", "tool_call_id": "1", "content": "sunny"}
    result = client_langchain.drive(gemini_call(url, messages=[*MESSAGES, turn, tool]))
    assert result.error is None
    assert 'given "content": ""' in result.call
    assert state.requests[0][2]["messages"][1]["tool_calls"][0]["id"] == "1"


# --- both: installation, errors, imports -------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver", "module", "line"),
    [
        (
            client_litellm,
            "litellm",
            "litellm: not installed: run make python-clients (pip install -e '.[clients]')",
        ),
        (
            client_langchain,
            "langchain_openai",
            "langchain-openai: not installed: run make python-clients (pip install -e '.[clients]')",
        ),
    ],
)
def test_a_driver_whose_client_is_missing_is_unavailable(monkeypatch, driver, module, line) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else find_spec(name, *a)
    )
    assert driver.unavailable() == line
    with pytest.raises(ClientUnavailable, match="not installed"):
        driver.drive(gemini_call("http://127.0.0.1:9"))


@pytest.mark.parametrize("driver", [client_litellm, client_langchain])
def test_a_driver_whose_client_has_no_metadata_has_no_version(monkeypatch, driver) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert driver.version() is None


def test_an_error_is_one_line_without_the_traceback_and_at_most_500_characters() -> None:
    class Refused(Exception):
        status_code = 503

    error = client_call.error_of(
        Refused("upstream\n  said   no\nTraceback (most recent call last):\n  File /home/x")
    )
    assert error == ClientError("Refused", 503, "upstream said no")
    assert len(client_call.error_of(ValueError("x" * 900)).message) == 500
    assert client_call.error_of(ValueError("x")).status is None


def test_content_parts_are_read_as_their_joined_text() -> None:
    parts = [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {}},
        {"type": "text", "text": "b"},
    ]
    assert client_call.text_of(parts) == "ab"
    assert client_call.text_of(None) is None


@pytest.mark.slow
def test_importing_the_drivers_imports_neither_client() -> None:
    probe = (
        "import sys, vertex_conformance.client_litellm, vertex_conformance.client_langchain\n"
        "clients = ('litellm', 'langchain_openai', 'openai')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in clients))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
