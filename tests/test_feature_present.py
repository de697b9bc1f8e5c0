"""A form passes only if its feature was exercised: every documented form (docs/spec.md#forms) has
a requirement that fails when the answer lacks what the form is about.

Each form's own request (fixtures/requests/, as its suite sends it) is answered with an answer of
the right envelope that leaves the feature out: no text, no tool call, no image, no JSON, no
thoughts. The named requirement must fail, with a message saying what was missing, and the
answer must not pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vertex_conformance.capture import exchange_from_text
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.exchange import WireRequest
from vertex_conformance.paths import FIXTURES, SAMPLES
from vertex_conformance.vocabulary import FORMS

MODEL = "google/gemini-2.5-flash"

# form -> (its request fixture, streamed, what the answer says instead, the requirement, its message says)
FEATURES: dict[str, tuple[str, bool, str, str, str]] = {
    "plain": ("plain", False, "", "message.not-empty", "no content, tool_calls or media"),
    "streaming": ("plain", True, "", "message.not-empty", "no content, tool_calls or media"),
    "self-deployed": ("plain", False, "", "message.not-empty", "no content, tool_calls or media"),
    "global": ("global", False, "", "message.not-empty", "no content, tool_calls or media"),
    "v1beta1": ("plain", True, "", "message.not-empty", "no content, tool_calls or media"),
    "extra-body": ("extra_body", False, "", "message.not-empty", "no content, tool_calls or media"),
    "extra-content": ("extra_content_part", True, "", "message.not-empty", "no content, tool_calls or media"),
    "thinking": ("thinking", True, "No.", "thinking.reasoning-tokens", "usage reports no reasoning_tokens"),
    "function-call-arguments": (
        "function_call_arguments",
        True,
        "Which unit do you prefer?",
        "tools.called",
        "but the answer made no tool call (it answered with text 'Which unit do you prefer?')",
    ),
    "image-output": (
        "image_output",
        False,
        "Here is a cat.",
        "image.base64",
        "no image: message.audio.data is None",
    ),
    "multimodal-input": (
        "image_url_gcs_string",
        False,
        "",
        "message.not-empty",
        "no content, tool_calls or media",
    ),
    "multimodal-function-response": (
        "multimodal_function_response",
        False,
        "",
        "message.not-empty",
        "no content, tool_calls or media",
    ),
    "structured-output": (
        "structured_output",
        False,
        "Alice and Bob, Friday.",
        "structured.json",
        "not JSON",
    ),
}


def _request(fixture: str, form: str, stream: bool) -> dict[str, Any]:
    body = json.loads((FIXTURES / "requests" / f"{fixture}.json").read_text(encoding="utf-8"))
    if form != "self-deployed":  # a self-deployed endpoint's body names no model
        body["model"] = MODEL
    return {**body, "stream": stream} if stream else body


def _answer(content: str, stream: bool, reasoning: int = 0) -> str:
    """The documented plain answer's envelope saying only ``content`` (usage reports ``reasoning``
    tokens when there are any, on top of the completion's, as Vertex counts them)."""
    body = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))
    body["model"] = MODEL
    body["choices"][0]["message"]["content"] = content
    if reasoning:
        body["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        body["usage"]["total_tokens"] += reasoning
    if not stream:
        return json.dumps(body)
    choice = body["choices"][0]
    chunk = {key: body[key] for key in ("id", "created", "model", "system_fingerprint", "usage")}
    delta = {"role": "assistant", **({"content": content} if content else {})}
    chunk.update(
        object="chat.completion.chunk",
        choices=[{"index": 0, "delta": delta, "finish_reason": choice["finish_reason"], "logprobs": None}],
    )
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"


def test_every_documented_form_names_the_requirement_of_its_feature():
    assert FEATURES.keys() == FORMS.keys()


@pytest.mark.parametrize("form", FEATURES)
def test_an_answer_without_the_forms_feature_fails_its_requirement(form):
    fixture, stream, content, requirement, says = FEATURES[form]
    request = WireRequest("POST", "", {}, json.dumps(_request(fixture, form, stream)))
    exchange = exchange_from_text(_answer(content, stream), request)
    found = [f for f in failures(evaluate(exchange)[0]) if f.requirement == requirement]
    assert found, f"{form}: {requirement} held for an answer without the feature"
    assert any(says in f.message for f in found), [f.message for f in found]


@pytest.mark.parametrize("form", ["plain", "streaming", "thinking"])
def test_the_same_envelope_with_the_feature_passes(form):
    """The answers above fail for the missing feature alone: given the feature, the plain and
    streamed envelopes conform (the thinking one once it reports reasoning and tags a thought)."""
    fixture, stream, _, _, _ = FEATURES[form]
    if form == "thinking":
        text = _answer("<think>n times a number is not prime.</think>No.", stream, reasoning=100)
    else:
        text = _answer("Once upon a time.", stream)
    request = WireRequest("POST", "", {}, json.dumps(_request(fixture, form, stream)))
    assert failures(evaluate(exchange_from_text(text, request))[0]) == []
