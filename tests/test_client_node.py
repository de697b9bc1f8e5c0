"""The openai-node driver (vertex_conformance/client_node.py, clients/node/driver.mjs) against real
loopback servers: what a Node user of the pinned openai package gets for the documented answers,
and that a driver which hangs, crashes or babbles ends in one clear line, never a hang."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tools.sample_server import serve_samples
from vertex_conformance import client_node, loopback
from vertex_conformance.client_call import ClientCall, ClientUnavailable, ToolCallView
from vertex_conformance.paths import SAMPLES

BASE_PATH = "/v1/projects/p/locations/us-central1/endpoints/openapi"
MODEL = "google/gemini-2.5-flash"
ASK = [{"role": "user", "content": "Tell me a story."}]
TOOLS = [{"type": "function", "function": {"name": "get_current_weather", "parameters": {"type": "object"}}}]
BOSTON = "function-call-c855348a-459a-46a4-a8ad-aa0a4e7c3563"
NEW_DELHI = "function-call-df0d087c-ad74-46f1-ba4a-9353cbf288a8"


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


@pytest.fixture
def fresh_availability() -> Iterator[None]:
    """``unavailable()`` is cached per process: each test that changes what it sees starts afresh."""
    client_node.unavailable.cache_clear()
    yield
    client_node.unavailable.cache_clear()


@pytest.fixture
def node_lane() -> None:
    reason = client_node.unavailable()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def samples_url() -> Iterator[str]:
    with serve_samples() as url:
        yield url + BASE_PATH


def _call(base_url: str, body: dict[str, Any], **options: Any) -> ClientCall:
    return ClientCall(
        base_url=base_url,
        token_url=base_url + "/token",
        body=body,
        project="p",
        location="us-central1",
        **options,
    )


def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def _streamed_text(name: str) -> str:
    chunks = [
        json.loads(line.removeprefix("data: "))
        for line in (SAMPLES / name).read_text().splitlines()
        if line.startswith("data: {")
    ]
    return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_a_plain_answer_gives_the_message_and_the_usage_as_sent(samples_url: str) -> None:
    result = client_node.drive(_call(samples_url, {"model": MODEL, "messages": ASK}))

    expected = _sample("plain_chat.json")
    assert result.error is None and result.view is not None
    assert result.call == "client.chat.completions.create(params)"
    assert result.version == client_node.version()
    assert result.view.role == "assistant"
    assert result.view.content == expected["choices"][0]["message"]["content"]
    assert result.view.tool_calls == []
    assert result.view.usage == {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30}
    assert result.view.raw["id"] == expected["id"]


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_a_streamed_answer_is_assembled_by_the_stream_helper(samples_url: str) -> None:
    result = client_node.drive(_call(samples_url, {"model": MODEL, "messages": ASK, "stream": True}))

    assert result.error is None and result.view is not None
    assert result.call == "client.chat.completions.stream(params).finalChatCompletion()"
    assert result.view.content == _streamed_text("streaming_chat.sse")
    assert result.view.usage == {"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30}


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_the_documented_tool_call_stream_gives_two_calls_with_one_id_and_a_moved_signature(
    samples_url: str,
) -> None:
    """The documented stream opens Boston's call (id c855…, the thought_signature) at index 1, then
    sends its arguments at index 0, then New Delhi's call (id df0d…) at index 0 and 1. openai-node
    assembles by index, so the user gets both calls under New Delhi's id, and the signature on the
    slot that now holds New Delhi's arguments; Boston's id is gone."""
    body = {"model": MODEL, "messages": ASK, "tools": TOOLS, "stream": True}
    result = client_node.drive(_call(samples_url, body))

    assert result.error is None and result.view is not None
    assert result.view.tool_calls == [
        ToolCallView(NEW_DELHI, "get_current_weather", '{"location":"Boston, MA","unit":"celsius"}', None),
        ToolCallView(
            NEW_DELHI, "get_current_weather", '{"location":"New Delhi, India","unit":"celsius"}', "..."
        ),
    ]
    assert BOSTON not in json.dumps(result.view.raw)
    assert result.view.content is None
    assert result.view.usage == {"prompt_tokens": 27, "completion_tokens": 45, "total_tokens": 576}


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_an_array_shaped_google_error_reaches_the_user_without_its_message(samples_url: str) -> None:
    """Vertex's reported ``[{"error": {...}}]`` body: openai-node looks for ``body.error``, finds
    none in an array, and tells its user there was no body."""
    body = {"model": MODEL, "messages": ASK, "temperature": "hot"}
    result = client_node.drive(_call(samples_url, body))

    assert result.view is None and result.error is not None
    assert (result.error.type, result.error.status, result.error.message) == (
        "BadRequestError",
        400,
        "400 status code (no body)",
    )


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_structured_output_is_read_with_parse(samples_url: str) -> None:
    body = {
        "model": MODEL,
        "messages": ASK,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "CalendarEvent", "schema": CalendarEvent.model_json_schema()},
        },
    }
    result = client_node.drive(_call(samples_url, body, parse_with=CalendarEvent))

    assert result.error is None and result.view is not None
    assert result.call == "client.chat.completions.parse(params)"
    assert result.view.parsed == {"name": "Science Fair", "date": "Friday", "participants": ["Alice", "Bob"]}
    assert result.view.parsed == json.loads(result.view.content)


async def _never_answer(request: Request) -> Response:
    await asyncio.sleep(30)  # bounded: the server's shutdown cancels it long before
    return Response(status_code=504)


async def _keep_alive_forever(request: Request) -> Response:
    async def comments() -> AsyncIterator[bytes]:
        for _ in range(300):  # 60 s at most, far past any deadline here
            yield b": keep-alive\n\n"
            await asyncio.sleep(0.2)

    return StreamingResponse(comments(), media_type="text/event-stream")


def _serve(handler: Any) -> Any:
    return loopback.serve(
        Starlette(routes=[Route(BASE_PATH + "/chat/completions", handler, methods=["POST"])])
    )


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_a_server_that_never_answers_ends_in_the_clients_own_timeout() -> None:
    with _serve(_never_answer) as url:
        started = time.monotonic()
        result = client_node.drive(_call(url + BASE_PATH, {"model": MODEL, "messages": ASK}, timeout_s=1.0))
        took = time.monotonic() - started

    assert took < 1.0 + client_node.KILL_GRACE_S
    assert result.view is None and result.error is not None
    assert (result.error.type, result.error.status) == ("APIConnectionTimeoutError", None)


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_a_stream_that_never_ends_gets_the_driver_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's timeout stops at the headers; a stream of keep-alives would hold it for ever."""
    monkeypatch.setattr(client_node, "KILL_GRACE_S", 1.0)
    with _serve(_keep_alive_forever) as url:
        started = time.monotonic()
        with pytest.raises(
            RuntimeError, match=r"^openai-node: the driver took more than 2 s and was killed$"
        ):
            client_node.drive(
                _call(url + BASE_PATH, {"model": MODEL, "messages": ASK, "stream": True}, timeout_s=1.0)
            )
        took = time.monotonic() - started

    assert took < 10


@pytest.mark.usefixtures("fresh_availability")
def test_no_node_on_path_makes_the_lane_unavailable_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_node.shutil, "which", lambda name: None)

    expected = (
        "openai-node: no Node.js runtime (node) on PATH: install Node.js 18 or newer "
        "(apt-get install nodejs npm), then make conformance"
    )
    assert client_node.unavailable() == expected
    with pytest.raises(ClientUnavailable) as raised:
        client_node.drive(_call("http://127.0.0.1:9/v1", {"model": MODEL, "messages": ASK}))
    assert str(raised.value) == expected


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_availability", "node_lane")
def test_an_uninstalled_openai_package_makes_the_lane_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(client_node, "PACKAGE_JSON", tmp_path / "missing" / "package.json")
    client_node.unavailable.cache_clear()

    assert client_node.version() is None
    assert client_node.unavailable() == (
        "openai-node: the openai npm package is not installed in clients/node: run make node-client"
    )


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_availability", "node_lane")
def test_an_openai_package_wanting_a_newer_node_makes_the_lane_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "package.json"
    package.write_text(json.dumps({"name": "openai", "version": "99.0.0", "engines": {"node": ">=999.0.0"}}))
    monkeypatch.setattr(client_node, "PACKAGE_JSON", package)
    client_node.unavailable.cache_clear()

    reason = client_node.unavailable()
    assert reason is not None
    assert reason.startswith("openai-node: openai 99.0.0 needs Node.js 999 or newer, node on PATH is ")


def _fake_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> None:
    driver = tmp_path / "driver.mjs"
    driver.write_text(script)
    monkeypatch.setattr(client_node, "DRIVER", driver)


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_a_crashing_driver_raises_its_first_stderr_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_driver(
        monkeypatch, tmp_path, 'process.stderr.write("\\nboom: it broke\\n  at x\\n"); process.exit(3);\n'
    )

    with pytest.raises(RuntimeError, match=r"^openai-node: the driver exited 3: boom: it broke$"):
        client_node.drive(_call("http://127.0.0.1:9/v1", {"model": MODEL, "messages": ASK}))


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
@pytest.mark.parametrize(
    "printed",
    ["not json", "[]", '{"call": "x", "version": null, "view": null, "error": null}'],
    ids=["not-json", "not-an-object", "neither-view-nor-error"],
)
def test_a_driver_printing_no_result_raises_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, printed: str
) -> None:
    _fake_driver(monkeypatch, tmp_path, f"process.stdout.write({json.dumps(printed)});\n")

    with pytest.raises(RuntimeError, match=r"^openai-node: the driver's output is no result: [^\n]+$"):
        client_node.drive(_call("http://127.0.0.1:9/v1", {"model": MODEL, "messages": ASK}))


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_node_gets_no_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/secret/key.json")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-suites-environment")
    _fake_driver(
        monkeypatch,
        tmp_path,
        "const env = JSON.stringify(process.env);\n"
        'const view = {role: "assistant", content: env, tool_calls: [], usage: null, parsed: null,'
        " raw: null};\n"
        'process.stdout.write(JSON.stringify({call: "env", version: null, view, error: null}));\n',
    )

    result = client_node.drive(_call("http://127.0.0.1:9/v1", {"model": MODEL, "messages": ASK}, api_key="k"))

    assert result.view is not None
    env = json.loads(result.view.content)
    passed = {name for name, value in env.items() if os.environ.get(name) == value}
    assert passed <= {"PATH", "HOME", "NODE_OPTIONS"}  # a runtime's own (PWD, a shim's) may be added
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env
    assert env["OPENAI_API_KEY"] == "k"


@pytest.mark.slow
@pytest.mark.usefixtures("node_lane")
def test_the_driver_refuses_a_bad_job_with_one_line() -> None:
    done = subprocess.run(
        ["node", str(client_node.DRIVER)], input="{", capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("driver.mjs: cannot read the job on stdin: ")
