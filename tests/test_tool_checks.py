"""compare_tool_calls beyond the negative corpus: what a pair case cannot express (one side failing,
the arguments given in the wrong order)."""

from __future__ import annotations

import json

import pytest

from vertex_conformance.capture import exchange_from_text
from vertex_conformance.checks.tools import compare_tool_calls
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import SAMPLES

STREAM = (SAMPLES / "stream_function_call_arguments.sse").read_text(encoding="utf-8")
BOSTON = {
    "function": {"arguments": '{"location":"Boston, MA","unit":"celsius"}', "name": "get_current_weather"},
    "id": "function-call-1",
    "type": "function",
}
PLAIN = json.dumps(
    {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "index": 0,
                "logprobs": None,
                "message": {"content": None, "role": "assistant", "tool_calls": [BOSTON]},
            }
        ],
        "created": 1770850461,
        "id": "x",
        "model": "google/gemini-3.1-pro-preview",
        "object": "chat.completion",
    }
)


def test_a_plain_answer_with_fewer_calls_is_reported():
    findings = compare_tool_calls(exchange_from_text(STREAM), exchange_from_text(PLAIN))
    assert [(f.requirement, f.path) for f in findings] == [
        ("tools.stream-matches-plain", "$.assembled.choices[0].message.tool_calls")
    ]
    assert "2 streamed tool call(s), 1 non-streamed" in findings[0].message


def test_nothing_is_compared_when_the_plain_side_is_an_error():
    error = Exchange(None, 500, {}, body_text='{"error": {"code": 500, "message": "internal"}}')
    assert compare_tool_calls(exchange_from_text(STREAM), error) == []


def test_nothing_is_compared_when_the_stream_is_empty():
    assert compare_tool_calls(exchange_from_text("data: [DONE]\n\n"), exchange_from_text(PLAIN)) == []


def test_exchanges_in_the_wrong_order_are_a_clear_error():
    with pytest.raises(ValueError, match="streamed exchange first"):
        compare_tool_calls(exchange_from_text(PLAIN), exchange_from_text(STREAM))
