"""A local stand-in for Vertex that answers with the documented sample responses.

It exists so cassettes can be built from the documentation alone (``tools/build_cassettes.py``) and
so the harness's own tests exercise real HTTP on 127.0.0.1. Which sample answers a request is decided
by ``RULES``, a table of (predicate on the JSON body, sample file) read top to bottom: a new form adds
a row, not a branch. Every answer names its sample in the ``x-conformance-sample`` header, which
the recorder turns into the cassette's provenance (``source: documented-sample``).

Like Vertex, it wants ``Authorization: Bearer <token>`` (any token) and answers errors in Google's
shape, ``{"error": {"code", "message", "status"}}`` (both from ``vertex_conformance.stand_in``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from vertex_conformance import loopback
from vertex_conformance.extensions import google
from vertex_conformance.paths import SAMPLES
from vertex_conformance.recording import SAMPLE_HEADER
from vertex_conformance.stand_in import google_error, sse_events, unauthenticated

API_VERSIONS = ("v1", "v1beta1")
_NAMED_MODEL = re.compile(r"(models/)[A-Za-z0-9._-]+")  # a model as an error message names it
CHAT_PATH = "/{version}/{resource:path}/chat/completions"  # .../projects/{p}/locations/{l}/endpoints/{e}


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _bare_model(body: dict[str, Any]) -> bool:
    """A model id without google/ (reported: 404). ``""`` is no model, as ``serve`` matches it: what
    clients that cannot leave the field out send to a self-deployed endpoint."""
    model = body.get("model")
    return isinstance(model, str) and model != "" and not model.startswith("google/")


def _non_numeric_temperature(body: dict[str, Any]) -> bool:
    return "temperature" in body and not isinstance(body["temperature"], int | float)


def _many_candidates(body: dict[str, Any]) -> bool:
    return isinstance(body.get("n"), int) and body["n"] > 1


def _unknown_field(body: dict[str, Any]) -> bool:
    return "service_tier" in body


def _unsigned_tool_call(body: dict[str, Any]) -> bool:
    return any(
        isinstance(call, dict)
        and "thought_signature" not in ((call.get("extra_content") or {}).get("google") or {})
        for message in _messages(body)
        if isinstance(message, dict) and message.get("role") == "assistant"
        for call in (message.get("tool_calls") or [])[:1]
    )


def _asks_for_image(body: dict[str, Any]) -> bool:
    return "image" in (body.get("modalities") or [])


def _answers_a_tool_result(body: dict[str, Any]) -> bool:
    return any(isinstance(m, dict) and m.get("role") == "tool" for m in _messages(body))


def _streams_tool_calls(body: dict[str, Any]) -> bool:
    return body.get("stream") is True and bool(body.get("tools"))


def _calls_tools(body: dict[str, Any]) -> bool:
    return bool(body.get("tools"))


def _wants_json_schema(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_schema"


def _streams_thoughts(body: dict[str, Any]) -> bool:
    return body.get("stream") is True and "thinking_config" in google(body, "extra_body")


def _thinks(body: dict[str, Any]) -> bool:
    return "thinking_config" in google(body, "extra_body")


def _has_media_input(body: dict[str, Any]) -> bool:
    return any(
        isinstance(part, dict) and part.get("type") in ("image_url", "input_audio")
        for message in _messages(body)
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


def _streams(body: dict[str, Any]) -> bool:
    return body.get("stream") is True


def _anything(body: dict[str, Any]) -> bool:
    return True


# First match wins; the last row is the fallback. Samples are listed in fixtures/samples/README.md.
RULES: list[tuple[Callable[[dict[str, Any]], bool], str]] = [
    # behaviour users reported (docs/spec.md#reported-behaviour), for the probe tier:
    # fixtures/samples/reported/README.md
    (_bare_model, "reported/model_not_found.404.json"),
    (_non_numeric_temperature, "reported/invalid_argument_array.400.json"),
    (_many_candidates, "reported/multiple_candidates.400.json"),
    (_unknown_field, "reported/unknown_field.400.json"),
    (_unsigned_tool_call, "reported/missing_thought_signature.400.json"),
    # the documented forms
    (_asks_for_image, "image_output_png.json"),
    (_answers_a_tool_result, "multimodal_function_response.json"),
    (_streams_tool_calls, "stream_function_call_arguments.sse"),
    (_calls_tools, "function_call.json"),
    (_wants_json_schema, "structured_output.json"),
    (_streams_thoughts, "thinking_stream.sse"),
    (_thinks, "thinking_chat.json"),
    (_has_media_input, "multimodal_input.json"),
    (_streams, "streaming_chat.sse"),
    (_anything, "plain_chat.json"),
]


def choose_sample(body: dict[str, Any]) -> str:
    """The sample file that answers ``body``: the first matching row of ``RULES``."""
    return next(sample for predicate, sample in RULES if predicate(body))


def echo_model(data: bytes, model: Any) -> bytes:
    """The sample with its ``model`` replaced by the requested one, as Vertex answers: the samples come
    from several models, the suite asks for one. An error sample's message names the requested model
    where it names one (``models/<id>``), as Vertex's errors do. Self-deployed requests name no model
    and get the sample as it is. Chunks keep their key order and compact form."""
    if not isinstance(model, str):
        return data
    if not data.lstrip().startswith(b"data:"):
        document = json.loads(data)
        if isinstance(document, dict) and "error" in document:  # the sample's bytes, but for the model
            bare = model.removeprefix("google/")
            return _NAMED_MODEL.sub(lambda m: m.group(1) + bare, data.decode()).encode()
        if not (isinstance(document, dict) and "model" in document):
            return data
        document["model"] = model
        return (json.dumps(document, indent=2) + "\n").encode()
    lines = []
    for line in data.decode().split("\n"):
        if line.startswith("data: {"):
            chunk = json.loads(line[len("data: ") :])
            chunk["model"] = model
            line = "data: " + json.dumps(chunk, separators=(",", ":"))
        lines.append(line)
    return "\n".join(lines).encode()


def as_stream(data: bytes) -> bytes:
    """A non-streamed sample answer as the stream Vertex would send for it, in the documented chunk
    envelope (stream_function_call_arguments sample): role in every delta, the message in a first
    chunk (its text split in two deltas), finish_reason and usage on the last chunk only, then ``[DONE]``."""
    answer = json.loads(data)
    envelope = {k: answer[k] for k in ("created", "id", "model", "system_fingerprint") if k in answer}
    choice = answer["choices"][0]
    message = {k: v for k, v in choice["message"].items() if v is not None}
    text = message.pop("content", "")
    cut = text.find(" ", len(text) // 2) + 1 if isinstance(text, str) else 0
    deltas = (
        [{**message, "content": text[:cut]}, {"role": "assistant", "content": text[cut:]}]
        if cut
        else [message, {"role": "assistant"}]
    )
    chunks = [
        {
            "choices": [{"delta": delta, "index": choice["index"], "logprobs": None}],
            **envelope,
            "object": "chat.completion.chunk",
        }
        for delta in deltas
    ]
    chunks[-1]["choices"][0]["finish_reason"] = choice["finish_reason"]
    if "usage" in answer:
        chunks[-1]["usage"] = answer["usage"]
    lines = [f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n" for chunk in chunks]
    return "".join([*lines, "data: [DONE]\n\n"]).encode()


async def _one_event_at_a_time(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


async def chat_completions(request: Request) -> Response:
    """Answer a Chat Completions call with the documented sample its body asks for."""
    if request.path_params["version"] not in API_VERSIONS:
        return google_error(404, f"API version {request.path_params['version']!r} is not served here")
    refused = unauthenticated(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        return google_error(400, f"Invalid JSON payload received. {exc}")
    if not isinstance(body, dict):
        return google_error(400, "Invalid JSON payload received. The request body must be a JSON object.")
    sample = choose_sample(body)
    data = echo_model((SAMPLES / sample).read_bytes(), body.get("model"))
    headers = {SAMPLE_HEADER: sample}
    if body.get("stream") is True and sample.endswith(".json") and _status(sample) == 200:
        data, headers[SAMPLE_HEADER] = as_stream(data), f"{sample} (streamed)"
        sample = f"{sample}.sse"
    if sample.endswith(".sse"):
        headers["content-type"] = "text/event-stream"
        return StreamingResponse(_one_event_at_a_time(sse_events(data)), headers=headers)
    return Response(data, status_code=_status(sample), media_type="application/json", headers=headers)


def _status(sample: str) -> int:
    """A reported error sample carries its status in its name: ``<name>.<status>.json``."""
    code = sample.rsplit(".", 2)[-2] if sample.count(".") >= 2 else ""
    return int(code) if code.isdigit() else 200


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return google_error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")


def create_app() -> Starlette:
    """The sample server's ASGI app."""
    return Starlette(
        routes=[Route(CHAT_PATH, chat_completions, methods=["POST"])],
        exception_handlers={HTTPException: _http_error},
    )


def serve_samples() -> AbstractContextManager[str]:
    """The sample server on a free loopback port; yields its base URL (see ``loopback.serve``)."""
    return loopback.serve(create_app())
