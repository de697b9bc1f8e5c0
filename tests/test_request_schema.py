"""The request schemas: valid Draft 2020-12; every request body the seed page documents validates in
the vertex profile, including what the openai SDK puts on the wire for the SDK forms; Google's
objects are closed, OpenAI's stay open; and the openai profile turns Vertex's request forms into
findings at the right path."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import openai
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from vertex_conformance import schemas
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.paths import SAMPLES

BASE_URL = "https://us-central1-aiplatform.googleapis.com/v1/projects/PROJECT/locations/us-central1/endpoints/openapi"
STORY = [{"role": "user", "content": "Write a story about a magic backpack."}]
SCONES = "gs://cloud-samples-data/generative-ai/image/scones.jpg"
CALL_ID = "function-call-a350228d-0283-4792-8bfa-40da064fb959"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "unit"],
        },
    },
}
MULTIMODAL_FUNCTION_RESPONSE = {
    "model": "google/gemini-3.1-pro-preview",
    "messages": [
        {"role": "user", "content": "Show me the green shirt I ordered last month."},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "extra_content": {"google": {"thought_signature": "<THOUGHT_SIGNATURE>"}},
                    "function": {"arguments": '{"item_name":"green shirt"}', "name": "get_image"},
                    "id": CALL_ID,
                    "type": "function",
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": CALL_ID,
            "content": '{"image_ref":{"$ref":"dress.jpg"}}',
            "extra_content": {
                "google": {
                    "parts": [
                        {
                            "file_data": {
                                "mime_type": "image/jpg",
                                "display_name": "dress.jpg",
                                "file_uri": "gs://cloud-samples-data/generative-ai/image/dress.jpg",
                            }
                        }
                    ]
                }
            },
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_image",
                "description": "Retrieves the image file reference for a specific order item.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "item_name": {
                            "type": "string",
                            "description": (
                                "The name or description of the item ordered (e.g., 'green shirt')."
                            ),
                        }
                    },
                    "required": ["item_name"],
                },
            },
        }
    ],
}
THINKING = {
    "model": "google/gemini-2.5-flash-preview-04-17",
    "messages": [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Are there any primes number of the form n*ceil(log(n))"}],
        }
    ],
    "extra_body": {
        "google": {
            "thinking_config": {"include_thoughts": True, "thinking_budget": 10000},
            "thought_tag_marker": "think",
        }
    },
    "stream": True,
}

# Every request body of the seed page, with ${MODEL_ID} filled in; the "{ ... }" placeholders of the
# extra_content examples are filled with the one key answers carry there (thought_signature).
DOCUMENTED: dict[str, dict[str, Any]] = {
    "plain": {"model": "google/gemini-2.0-flash-001", "messages": STORY},
    "streaming": {"model": "google/gemini-2.0-flash-001", "stream": True, "messages": STORY},
    "self-deployed": {"messages": STORY},
    "self-deployed streaming": {"stream": True, "messages": STORY},
    "global": {
        "model": "google/gemini-2.0-flash-001",
        "messages": [{"role": "user", "content": "Hello World"}],
    },
    "thinking": THINKING,
    "stream function call arguments": {
        "model": "google/gemini-3.1-pro-preview",
        "messages": [{"role": "user", "content": "What is the weather like in Boston and New Delhi today?"}],
        "tools": [WEATHER_TOOL],
        "extra_body": {"google": {"stream_function_call_arguments": True}},
        "stream": True,
    },
    "image generation": {
        "model": "google/gemini-3-pro-image-preview",
        "messages": [{"role": "user", "content": "Generate an image of a cat."}],
        "modalities": ["image"],
    },
    "image_url bare gs:// string": {
        "model": "google/gemini-2.0-flash-001",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this image"},
                    {"type": "image_url", "image_url": SCONES},
                ],
            }
        ],
    },
    "image_url {url}": {
        "model": "google/gemini-2.0-flash-001",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this image"},
                    {"type": "image_url", "image_url": {"url": SCONES}},
                ],
            }
        ],
    },
    "input_audio": {
        "model": "google/gemini-2.0-flash-001",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this: "},
                    {
                        "type": "input_audio",
                        "input_audio": {
                            "format": "audio/mp3",
                            "data": "gs://cloud-samples-data/generative-ai/audio/pixel.mp3",
                        },
                    },
                ],
            }
        ],
    },
    "multimodal function response": MULTIMODAL_FUNCTION_RESPONSE,
    "extra_content on a message with string content": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "Hello!",
                "extra_content": {"google": {"thought_signature": "..."}},
            },
            {"role": "user", "content": "Tell me more."},
        ]
    },
    "extra_content on a content part": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi", "extra_content": {"google": {"thought_signature": "..."}}}
                ],
            }
        ]
    },
    "extra_content on a tool call": {
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": CALL_ID,
                        "type": "function",
                        "function": {"name": "get_image", "arguments": "{}"},
                        "extra_content": {"google": {"thought_signature": "..."}},
                    }
                ],
            }
        ]
    },
}


class CalendarEvent(BaseModel):
    """The seed's structured-output example model (Strukturierte Ausgabe)."""

    name: str
    date: str
    participants: list[str]


EVENT = {"name": "Science Fair", "date": "Friday", "participants": ["Alice", "Bob"]}


def _answer(content: str, model: str) -> dict[str, Any]:
    """The documented answer envelope carrying ``content``."""
    body = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))
    body["model"] = model
    body["choices"][0]["message"]["content"] = content
    return body


class _Wire:
    """An ``httpx`` transport in memory: keeps what the SDK sent, answers with a canned body."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=self.answer)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=BASE_URL,
            api_key="test",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
        )

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.sent[-1].content)


def _paths(profile: str, body: Any) -> set[str]:
    return {path for path, _ in schemas.violations(profile, "request", body)}


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


# --- the schema files ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", schemas.PROFILES)
def test_request_schema_is_valid_draft_2020_12(profile):
    document = schemas.load(profile, "request")
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:vertex-conformance:schemas:{profile}/request"
    Draft202012Validator.check_schema(document)


def test_openai_request_schema_is_a_bare_reference_into_openais_contract():
    document = schemas.load("openai", "request")
    assert (
        document["$ref"]
        == "urn:openai-openapi:chat-completions-normalized#/$defs/CreateChatCompletionRequest"
    )
    assert set(document) <= {"$schema", "$id", "$ref", "title", "description"}


# --- every documented request validates ----------------------------------------------------------


@pytest.mark.parametrize("body", DOCUMENTED.values(), ids=DOCUMENTED.keys())
def test_documented_request_validates_in_the_vertex_profile(body):
    assert schemas.violations("vertex", "request", body) == []


def test_the_documented_multimodal_function_response_request_passes_every_request_check():
    exchange = Exchange(
        request=WireRequest(
            "POST", f"{BASE_URL}/chat/completions", {}, json.dumps(MULTIMODAL_FUNCTION_RESPONSE)
        ),
        status=0,
        headers={},
        body_text=(SAMPLES / "multimodal_function_response.json").read_text(encoding="utf-8"),
    )
    results, _ = evaluate(exchange, "vertex")
    request_checks = {
        "request.schema",
        "request.function-response-ref",
        "request.tool-call-id",
        "request.thought-signature-kept",
    }
    assert request_checks <= results.keys()
    assert failures(results) == []


def test_the_sdks_structured_output_request_validates_and_its_parsed_view_is_checked():
    wire = _Wire(_answer(json.dumps(EVENT), "google/gemini-2.5-flash-preview-04-17"))
    completion = wire.client().beta.chat.completions.parse(
        model="google/gemini-2.5-flash-preview-04-17",
        messages=[
            {"role": "system", "content": "Extract the event information."},
            {"role": "user", "content": "Alice and Bob are going to a science fair on Friday."},
        ],
        response_format=CalendarEvent,
    )
    sent = wire.body
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "date", "participants"]
    assert schemas.violations("vertex", "request", sent) == []

    exchange = Exchange(
        request=WireRequest("POST", str(wire.sent[-1].url), {}, wire.sent[-1].content.decode()),
        status=200,
        headers={"content-type": "application/json"},
        body_text=json.dumps(wire.answer),
        lane="sdk",
        # warnings=False: pydantic warns that the generic ``parsed`` field holds a model; it dumps it right.
        sdk_view=completion.model_dump(mode="json", exclude_unset=True, warnings=False),
    )
    results, _ = evaluate(exchange, "vertex")
    assert {"structured.json", "structured.schema", "structured.sdk-parsed"} <= results.keys()
    assert failures(results) == []


def test_the_sdks_nested_extra_body_puts_the_documented_wire_form_on_the_wire():
    wire = _Wire(_answer("Hi", "google/gemini-2.5-flash-preview-04-17"))
    wire.client().chat.completions.create(
        model=THINKING["model"],
        messages=THINKING["messages"],
        extra_body={"extra_body": THINKING["extra_body"]},
    )
    assert wire.body["extra_body"] == THINKING["extra_body"]
    assert schemas.violations("vertex", "request", wire.body) == []


def test_the_sdks_unnested_extra_body_is_caught_at_the_top_level_google_key():
    wire = _Wire(_answer("Hi", "google/gemini-2.5-flash-preview-04-17"))
    wire.client().chat.completions.create(
        model=THINKING["model"], messages=THINKING["messages"], extra_body=THINKING["extra_body"]
    )
    assert "google" in wire.body
    assert _paths("vertex", wire.body) == {"$.google"}


# --- Google's objects are closed, OpenAI's open --------------------------------------------------


def _thinking_config(body: dict[str, Any]) -> dict[str, Any]:
    return body["extra_body"]["google"]["thinking_config"]


def _tool_message_google(body: dict[str, Any]) -> dict[str, Any]:
    return body["messages"][2]["extra_content"]["google"]


def _tool_call_google(body: dict[str, Any]) -> dict[str, Any]:
    return body["messages"][1]["tool_calls"][0]["extra_content"]["google"]


def _file_data(body: dict[str, Any]) -> dict[str, Any]:
    return _tool_message_google(body)["parts"][0]["file_data"]


@pytest.mark.parametrize(
    ("base", "owner", "path"),
    [
        ("thinking", lambda b: b["extra_body"], "$.extra_body"),
        ("thinking", lambda b: b["extra_body"]["google"], "$.extra_body.google"),
        ("thinking", _thinking_config, "$.extra_body.google.thinking_config"),
        ("multimodal function response", _tool_message_google, "$.messages[2].extra_content.google"),
        (
            "multimodal function response",
            lambda b: b["messages"][2]["extra_content"],
            "$.messages[2].extra_content",
        ),
        (
            "multimodal function response",
            lambda b: _tool_message_google(b)["parts"][0],
            "$.messages[2].extra_content.google.parts[0]",
        ),
        ("multimodal function response", _file_data, "$.messages[2].extra_content.google.parts[0].file_data"),
        (
            "multimodal function response",
            _tool_call_google,
            "$.messages[1].tool_calls[0].extra_content.google",
        ),
        (
            "extra_content on a message with string content",
            lambda b: b["messages"][1]["extra_content"]["google"],
            "$.messages[1].extra_content.google",
        ),
        (
            "extra_content on a content part",
            lambda b: b["messages"][0]["content"][0]["extra_content"]["google"],
            "$.messages[0].content[0].extra_content.google",
        ),
    ],
    ids=[
        "extra_body",
        "extra_body.google",
        "thinking_config",
        "tool message google",
        "tool message extra_content",
        "part",
        "file_data",
        "tool call google",
        "string-content message google",
        "content part google",
    ],
)
def test_googles_objects_reject_an_unknown_key_at_their_path(base, owner, path):
    body = copy.deepcopy(DOCUMENTED[base])
    owner(body)["unexpected_key"] = True
    violations = schemas.violations("vertex", "request", body)
    assert [p for p, _ in violations] == [path]
    assert "unexpected_key" in violations[0][1]


def test_openais_objects_stay_open_to_keys_the_seed_does_not_name():
    body = copy.deepcopy(DOCUMENTED["image_url {url}"])
    body["safety_settings"] = []
    body["messages"][0]["custom"] = 1
    body["messages"][0]["content"][1]["image_url"]["detail"] = "low"
    body["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral"}
    assert schemas.violations("vertex", "request", body) == []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda b: _thinking_config(b).update(thinking_budget="10000"),
            "$.extra_body.google.thinking_config.thinking_budget",
        ),
        (
            lambda b: _thinking_config(b).update(include_thoughts="yes"),
            "$.extra_body.google.thinking_config.include_thoughts",
        ),
        (
            lambda b: b["extra_body"]["google"].update(thought_tag_marker=True),
            "$.extra_body.google.thought_tag_marker",
        ),
        (lambda b: b["messages"][0]["content"][0].pop("text"), "$.messages[0].content[0]"),
        (lambda b: b["messages"][0]["content"][0].update(type="video"), "$.messages[0].content[0].type"),
        (lambda b: b["messages"][0].update(role="bot"), "$.messages[0].role"),
        (lambda b: b.update(model=42), "$.model"),
    ],
    ids=[
        "budget a string",
        "include_thoughts a string",
        "marker a boolean",
        "text part without text",
        "unknown part type",
        "unknown role",
        "model a number",
    ],
)
def test_a_broken_thinking_request_is_reported_at_the_broken_value(mutate, path):
    body = copy.deepcopy(THINKING)
    mutate(body)
    assert _paths("vertex", body) == {path}


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda m: m[2].pop("tool_call_id"), "$.messages[2]"),
        (
            lambda m: _file_data({"messages": m}).pop("file_uri"),
            "$.messages[2].extra_content.google.parts[0].file_data",
        ),
        (lambda m: m[1]["tool_calls"][0].update(type="custom"), "$.messages[1].tool_calls[0].type"),
        (
            lambda m: m[1]["tool_calls"][0]["function"].update(arguments={"item_name": "green shirt"}),
            "$.messages[1].tool_calls[0].function.arguments",
        ),
    ],
    ids=["no tool_call_id", "no file_uri", "custom tool call", "arguments an object"],
)
def test_a_broken_function_response_request_is_reported_at_the_broken_value(mutate, path):
    body = copy.deepcopy(MULTIMODAL_FUNCTION_RESPONSE)
    mutate(body["messages"])
    assert _paths("vertex", body) == {path}


@pytest.mark.parametrize(
    ("audio", "valid"),
    [
        ({"format": "audio/mp3", "data": "gs://b/pixel.mp3"}, True),
        ({"format": "audio/wav", "data": "UklGRg=="}, True),
        ({"format": "mp3", "data": "SUQz"}, True),
        ({"format": "ogg", "data": "SUQz"}, False),
        ({"format": "audio/mp3", "data": "https://example.com/pixel.mp3"}, False),
        ({"format": "audio/mp3", "data": "gs://"}, False),
        ({"format": "audio/mp3"}, False),
    ],
    ids=[
        "mime and gs",
        "mime and base64",
        "openai",
        "unknown format",
        "https data",
        "bucketless gs",
        "no data",
    ],
)
def test_input_audio_takes_a_mime_type_or_openais_format_and_gs_or_base64_data(audio, valid):
    body = copy.deepcopy(DOCUMENTED["input_audio"])
    body["messages"][0]["content"][1]["input_audio"] = audio
    assert (schemas.violations("vertex", "request", body) == []) is valid


# --- the openai profile: Vertex's request forms are OpenAI deviations ----------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("image_url bare gs:// string", "$.messages[0]"),
        ("input_audio", "$.messages[0]"),
        ("image generation", "$.modalities"),
        ("self-deployed", "$"),
    ],
)
def test_openai_profile_reports_vertex_only_request_forms(name, path):
    assert path in _paths("openai", DOCUMENTED[name])


@pytest.mark.parametrize(
    "name", ["plain", "streaming", "global", "image_url {url}", "thinking", "multimodal function response"]
)
def test_openai_profile_accepts_the_forms_openai_shares(name):
    assert schemas.violations("openai", "request", DOCUMENTED[name]) == []


def test_an_empty_conversation_is_left_to_the_server_in_vertex_and_rejected_in_openai():
    body = {"model": "google/gemini-2.0-flash-001", "messages": []}
    assert schemas.violations("vertex", "request", body) == []
    assert _paths("openai", body) == {"$.messages"}


def test_a_request_without_messages_fails_in_both_profiles():
    body = _without(DOCUMENTED["plain"], "messages")
    assert _paths("vertex", body) == {"$"}
    assert "$" in _paths("openai", body)
