"""The sample server (tools/sample_server.py) over real loopback HTTP: which sample answers, how, and
its Google-style errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tools.sample_server import RULES, choose_sample, create_app, serve_samples
from vertex_conformance.paths import SAMPLES
from vertex_conformance.recording import SAMPLE_HEADER
from vertex_conformance.stand_in import sse_events

CHAT = "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"
AUTH = {"Authorization": "Bearer test-token"}
TOOLS = [{"type": "function", "function": {"name": "get_current_weather", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_samples() as url:
        yield url


def test_every_rule_names_an_existing_sample() -> None:
    for _, sample in RULES:
        assert (SAMPLES / sample).is_file(), sample


@pytest.mark.parametrize(
    ("body", "sample"),
    [
        ({"stream": True, "tools": TOOLS}, "stream_function_call_arguments.sse"),
        ({"stream": True}, "streaming_chat.sse"),
        ({"stream": True, "tools": []}, "streaming_chat.sse"),
        ({"tools": TOOLS}, "function_call.json"),
        ({"modalities": ["image"], "stream": True}, "image_output_png.json"),
        (
            {"messages": [{"role": "tool", "content": "{}"}], "tools": TOOLS},
            "multimodal_function_response.json",
        ),
        ({"response_format": {"type": "json_schema"}}, "structured_output.json"),
        ({"extra_body": {"google": {"thinking_config": {}}}, "stream": True}, "thinking_stream.sse"),
        ({"extra_body": {"google": {"thinking_config": {}}}}, "thinking_chat.json"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "multimodal_input.json"),
        ({"stream": "yes"}, "plain_chat.json"),
        ({}, "plain_chat.json"),
    ],
)
def test_choose_sample_takes_the_first_matching_rule(body: dict[str, Any], sample: str) -> None:
    assert choose_sample(body) == sample


def test_plain_request_gets_the_json_sample_answering_with_the_requested_model(base_url: str) -> None:
    response = httpx.post(base_url + CHAT, json={"model": "google/x", "messages": []}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers[SAMPLE_HEADER] == "plain_chat.json"
    sample = json.loads((SAMPLES / "plain_chat.json").read_bytes())
    assert response.json() == {**sample, "model": "google/x"}


def test_an_error_sample_names_the_requested_model_and_keeps_its_bytes_otherwise(base_url: str) -> None:
    response = httpx.post(base_url + CHAT, json={"model": "gemini-x.9", "messages": []}, headers=AUTH)
    assert response.status_code == 404
    sample = (SAMPLES / "reported/model_not_found.404.json").read_text()
    assert response.text == sample.replace("models/gemini-2.5-flash", "models/gemini-x.9")
    assert "models/gemini-x.9`" in response.json()["error"]["message"]


def test_streamed_samples_answer_with_the_requested_model_in_every_chunk(base_url: str) -> None:
    body = {"model": "google/x", "stream": True, "tools": TOOLS}
    with httpx.stream("POST", base_url + CHAT, json=body, headers=AUTH) as response:
        lines = response.read().decode().split("\n")
    sample = (SAMPLES / "stream_function_call_arguments.sse").read_text().split("\n")
    assert len(lines) == len(sample)
    for got, documented in zip(lines, sample, strict=True):
        if documented.startswith("data: {"):
            assert json.loads(got[6:]) == {**json.loads(documented[6:]), "model": "google/x"}
        else:
            assert got == documented


@pytest.mark.parametrize(
    ("body", "sample"),
    [
        ({"stream": True}, "streaming_chat.sse"),
        ({"stream": True, "tools": TOOLS}, "stream_function_call_arguments.sse"),
    ],
)
def test_streamed_request_gets_the_sse_sample_byte_for_byte(
    base_url: str, body: dict[str, Any], sample: str
) -> None:
    with httpx.stream("POST", base_url + CHAT, json=body, headers=AUTH) as response:
        content = response.read()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers[SAMPLE_HEADER] == sample
    assert content == (SAMPLES / sample).read_bytes()


def test_v1beta1_and_self_deployed_endpoints_are_served(base_url: str) -> None:
    url = base_url + "/v1beta1/projects/p/locations/global/endpoints/1234567890/chat/completions"
    response = httpx.post(url, json={"messages": []}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers[SAMPLE_HEADER] == "plain_chat.json"


def _sent_body_messages(body: dict[str, Any]) -> list[bytes]:
    """Drive the ASGI app directly and collect each body message it sends, as uvicorn would."""
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client never disconnects; the app cancels this when done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CHAT,
        "raw_path": CHAT.encode(),
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer t"), (b"content-type", b"application/json")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    asyncio.run(create_app()(scope, receive, send))
    return [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]


def test_sse_samples_are_sent_one_event_per_body_message() -> None:
    data = (SAMPLES / "stream_function_call_arguments.sse").read_bytes()
    messages = _sent_body_messages({"stream": True, "tools": TOOLS})
    assert messages == sse_events(data)
    assert len(messages) == 13  # 12 chunks and [DONE]
    assert all(m.startswith(b"data: ") and m.endswith(b"\n\n") for m in messages)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}]
)
def test_requests_without_a_bearer_token_get_a_google_401(base_url: str, headers: dict[str, str]) -> None:
    response = httpx.post(base_url + CHAT, json={"messages": []}, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["message"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_malformed_json_gets_a_google_400(base_url: str, content: bytes) -> None:
    response = httpx.post(
        base_url + CHAT, content=content, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"].startswith("Invalid JSON payload received.")


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", "/v2/projects/p/locations/l/endpoints/openapi/chat/completions", 404),
        ("POST", "/v1/projects/p/locations/l/endpoints/openapi/embeddings", 404),
        ("GET", CHAT, 405),
    ],
)
def test_other_paths_and_methods_get_google_errors(base_url: str, method: str, path: str, code: int) -> None:
    response = httpx.request(method, base_url + path, headers=AUTH)
    assert response.status_code == code
    assert response.json()["error"]["code"] == code

