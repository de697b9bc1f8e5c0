"""The profile schemas: valid Draft 2020-12, accepting every documented sample in the vertex profile,
rejecting Vertex's documented deviations in the openai profile, and pointing at the right place when
a vertex-profile object is broken."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from vertex_conformance import schemas
from vertex_conformance.paths import SAMPLES, SCHEMAS
from vertex_conformance.sse import parse_sse

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
REFERENCE_ID = "urn:openai-openapi:chat-completions-normalized"
SCHEMA_FILES = schemas.schema_files()
SAMPLE_BODIES = sorted(SAMPLES.glob("*.json"))
SAMPLE_STREAMS = sorted(SAMPLES.glob("*.sse"))


def _document(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _sample(name: str) -> dict[str, Any]:
    return _document(SAMPLES / name)


def _chunks(path: Path) -> list[dict[str, Any]]:
    """Every chunk of a sample stream: each ``data:`` event but the closing ``[DONE]``."""
    events = parse_sse(path.read_text(encoding="utf-8")).events
    return [json.loads(event.data) for event in events if event.data != "[DONE]"]


def _first_chunk() -> dict[str, Any]:
    return _chunks(SAMPLES / "streaming_chat.sse")[0]


def _paths(profile: str, kind: str, instance: Any) -> set[str]:
    return {path for path, _ in schemas.violations(profile, kind, instance)}


# --- the schema files themselves ---------------------------------------------------------------


def test_there_are_schemas_for_every_profile_and_kind() -> None:
    for profile in schemas.PROFILES:
        for kind in schemas.KINDS:
            assert (SCHEMAS / profile / f"{kind}.json").is_file(), (profile, kind)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    document = _document(path)
    assert document.get("$schema") == DRAFT_2020_12
    Draft202012Validator.check_schema(document)


def test_every_schema_file_has_a_unique_id() -> None:
    ids = [_document(path).get("$id") for path in SCHEMA_FILES]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert len(ids) == len(set(ids)), ids


def test_own_schema_ids_follow_the_project_scheme() -> None:
    """``urn:vertex-conformance:schemas:<path>``, the path without ``.json`` (and without the
    ``.schema`` that names the report format's file, ``results.schema.json``, as a schema)."""
    for path in SCHEMA_FILES:
        relative = path.relative_to(SCHEMAS).as_posix().removesuffix(".json").removesuffix(".schema")
        own = f"urn:vertex-conformance:schemas:{relative}"
        expected = REFERENCE_ID if relative == "openai/reference" else own
        assert _document(path)["$id"] == expected


@pytest.mark.parametrize(
    ("kind", "definition"),
    [
        ("response", "CreateChatCompletionResponse"),
        ("chunk", "CreateChatCompletionStreamResponse"),
        ("error", "ErrorResponse"),
    ],
)
def test_openai_profile_is_a_bare_reference_into_openais_contract(kind: str, definition: str) -> None:
    document = schemas.load("openai", kind)
    assert document["$ref"] == f"{REFERENCE_ID}#/$defs/{definition}"
    assert set(document) <= {"$schema", "$id", "$ref", "title", "description"}
    assert definition in _document(SCHEMAS / "openai" / "reference.json")["$defs"]


# --- vertex profile: every documented sample validates ------------------------------------------


def test_there_are_documented_samples_to_validate() -> None:
    assert SAMPLE_BODIES
    assert SAMPLE_STREAMS


@pytest.mark.parametrize("path", SAMPLE_BODIES, ids=lambda p: p.name)
def test_documented_sample_response_validates_in_vertex_profile(path: Path) -> None:
    assert schemas.violations("vertex", "response", _document(path)) == []


@pytest.mark.parametrize("path", SAMPLE_STREAMS, ids=lambda p: p.name)
def test_every_chunk_of_documented_sample_stream_validates_in_vertex_profile(path: Path) -> None:
    chunks = _chunks(path)
    assert chunks
    for number, chunk in enumerate(chunks):
        assert schemas.violations("vertex", "chunk", chunk) == [], f"chunk {number}"


def test_vertex_error_schema_accepts_googles_error_object() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "Request contains an invalid argument.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": []}],
        }
    }
    assert schemas.violations("vertex", "error", body) == []
    del body["error"]["details"]
    assert schemas.violations("vertex", "error", body) == []


def test_vertex_schema_leaves_values_owned_by_named_checks_alone() -> None:
    """object, role, usage presence, empty choices and usage arithmetic belong to named checks, so a
    response broken only there fails that check and not schema.response as well."""
    body = _sample("plain_chat.json")
    body["object"] = "chat.completion.chunk"
    body["choices"][0]["message"]["role"] = "user"
    body["usage"]["total_tokens"] = 1
    assert schemas.violations("vertex", "response", body) == []
    del body["object"], body["usage"], body["choices"][0]["message"]["role"]
    body["choices"] = []
    assert schemas.violations("vertex", "response", body) == []
    chunk = _first_chunk()
    chunk["object"] = "chat.completion"
    chunk["choices"][0]["delta"]["role"] = "model"
    assert schemas.violations("vertex", "chunk", chunk) == []


def test_vertex_chunk_accepts_null_finish_reason_and_openai_keys() -> None:
    chunk = _first_chunk()
    chunk["choices"][0]["finish_reason"] = None
    chunk["choices"][0]["delta"]["refusal"] = None
    chunk["usage"] = None
    chunk["service_tier"] = "default"
    assert schemas.violations("vertex", "chunk", chunk) == []


# --- vertex profile: broken objects are caught where they break ---------------------------------


def _rename_finish_reason(body: dict[str, Any]) -> None:
    body["choices"][0]["finishReason"] = body["choices"][0].pop("finish_reason")


def _rename_total_tokens(body: dict[str, Any]) -> None:
    body["usage"]["totalTokens"] = body["usage"].pop("total_tokens")


def _set(*keys: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets the value at ``keys`` (the last key is created if missing)."""

    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


@dataclass(frozen=True)
class BrokenResponse:
    """A documented sample broken in one way, the path the violation must point at, and a word its
    message must contain (the offending key or value, or the keyword that failed)."""

    id: str
    sample: str
    mutate: Callable[[dict[str, Any]], None]
    path: str
    word: str


BROKEN_RESPONSES = [
    BrokenResponse(
        "camelcase-finish-reason", "plain_chat.json", _rename_finish_reason, "$.choices[0]", "finishReason"
    ),
    BrokenResponse(
        "camelcase-total-tokens", "plain_chat.json", _rename_total_tokens, "$.usage", "totalTokens"
    ),
    BrokenResponse(
        "created-as-string", "plain_chat.json", _set("created", value="1770852204"), "$.created", "integer"
    ),
    BrokenResponse(
        "negative-prompt-tokens",
        "plain_chat.json",
        _set("usage", "prompt_tokens", value=-1),
        "$.usage.prompt_tokens",
        "minimum",
    ),
    BrokenResponse(
        "unknown-key-in-extra-content-google",
        "plain_chat.json",
        _set("choices", 0, "message", "extra_content", "google", "thoughtSignature", value="x"),
        "$.choices[0].message.extra_content.google",
        "thoughtSignature",
    ),
    BrokenResponse(
        "unknown-traffic-type",
        "plain_chat.json",
        _set("usage", "extra_properties", "google", "traffic_type", value="SPOT"),
        "$.usage.extra_properties.google.traffic_type",
        "SPOT",
    ),
    BrokenResponse(
        "unknown-finish-reason",
        "plain_chat.json",
        _set("choices", 0, "finish_reason", value="STOP"),
        "$.choices[0].finish_reason",
        "STOP",
    ),
    BrokenResponse(
        "null-finish-reason-when-not-streamed",
        "plain_chat.json",
        _set("choices", 0, "finish_reason", value=None),
        "$.choices[0].finish_reason",
        "null",
    ),
    BrokenResponse(
        "unknown-key-in-audio-extra-content",
        "image_output.json",
        _set("choices", 0, "message", "audio", "extra_content", "google", "mimeType", value="x"),
        "$.choices[0].message.audio.extra_content.google",
        "mimeType",
    ),
    BrokenResponse(
        "unknown-top-level-key",
        "plain_chat.json",
        _set("systemFingerprint", value=""),
        "$",
        "systemFingerprint",
    ),
    BrokenResponse(
        "negative-reasoning-tokens",
        "image_output.json",
        _set("usage", "completion_tokens_details", "reasoning_tokens", value=-5),
        "$.usage.completion_tokens_details.reasoning_tokens",
        "minimum",
    ),
]


@pytest.mark.parametrize("case", BROKEN_RESPONSES, ids=lambda case: case.id)
def test_vertex_profile_reports_broken_response_at_its_path(case: BrokenResponse) -> None:
    body = copy.deepcopy(_sample(case.sample))
    case.mutate(body)
    found = schemas.violations("vertex", "response", body)
    assert any(path == case.path and case.word in message for path, message in found), found


def test_vertex_chunk_reports_camelcase_finish_reason_at_the_choice() -> None:
    chunk = _chunks(SAMPLES / "streaming_chat.sse")[-1]
    _rename_finish_reason(chunk)
    found = schemas.violations("vertex", "chunk", chunk)
    assert found
    assert all(path == "$.choices[0]" for path, _ in found), found
    assert any("finishReason" in message for _, message in found), found


def test_vertex_chunk_reports_unknown_finish_reason_and_negative_usage() -> None:
    chunk = _chunks(SAMPLES / "streaming_chat.sse")[-1]
    chunk["choices"][0]["finish_reason"] = "MAX_TOKENS"
    chunk["usage"]["completion_tokens"] = -1
    assert _paths("vertex", "chunk", chunk) == {"$.choices[0].finish_reason", "$.usage.completion_tokens"}


def test_vertex_chunk_reports_unknown_key_in_tool_call_extra_content() -> None:
    chunk = _chunks(SAMPLES / "stream_function_call_arguments.sse")[0]
    chunk["choices"][0]["delta"]["tool_calls"][0]["extra_content"]["google"]["signature"] = "x"
    assert _paths("vertex", "chunk", chunk) == {"$.choices[0].delta.tool_calls[0].extra_content.google"}


def test_vertex_error_schema_rejects_the_array_wrapped_error() -> None:
    error = {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT", "details": []}}
    assert schemas.violations("vertex", "error", error) == []
    found = schemas.violations("vertex", "error", [error])
    assert [path for path, _ in found] == ["$"], found


def test_vertex_error_schema_rejects_openais_error_shape() -> None:
    body = {"error": {"type": "invalid_request_error", "message": "bad", "param": None, "code": None}}
    assert "$.error" in _paths("vertex", "error", body)


# --- openai profile: Vertex's documented deviations are rejected ---------------------------------


def test_openai_profile_rejects_chunk_without_finish_reason_key() -> None:
    found = schemas.violations("openai", "chunk", _first_chunk())
    assert found == [("$.choices[0]", '"finish_reason" is a required property')]


def test_openai_profile_rejects_image_in_audio_without_id_expires_at_transcript() -> None:
    body = _sample("image_output.json")
    body["choices"][0]["message"]["refusal"] = None
    assert _paths("openai", "response", body) == {"$.choices[0].message.audio"}
    body["choices"][0]["message"]["audio"].update(id="audio_1", expires_at=1770850692, transcript="")
    assert schemas.violations("openai", "response", body) == []


def test_openai_profile_rejects_message_without_refusal() -> None:
    found = schemas.violations("openai", "response", _sample("plain_chat.json"))
    assert found == [("$.choices[0].message", '"refusal" is a required property')]


def test_openai_profile_accepts_a_well_formed_openai_response() -> None:
    body = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29},
        "service_tier": "default",
    }
    assert schemas.violations("openai", "response", body) == []


def test_openai_profile_accepts_a_well_formed_openai_chunk() -> None:
    chunk = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    assert schemas.violations("openai", "chunk", chunk) == []
    tool_chunk = copy.deepcopy(chunk)
    tool_chunk["choices"][0]["delta"] = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    assert schemas.violations("openai", "chunk", tool_chunk) == []


def test_openai_profile_accepts_openais_error_and_rejects_googles() -> None:
    openai_error = {"error": {"type": "invalid_request_error", "message": "bad", "param": None, "code": None}}
    assert schemas.violations("openai", "error", openai_error) == []
    google_error = {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    assert "$.error" in _paths("openai", "error", google_error)
