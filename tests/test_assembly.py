"""The stream assembler: one message per choice, tool calls grouped by id."""

import json

from vertex_conformance.assembly import assemble
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import SAMPLES


def _chunks(name: str):
    return Exchange(request=None, status=200, headers={}, stream_text=(SAMPLES / name).read_text()).chunks


def _chunk(delta=None, finish=None, usage=None, index=0):
    choice = {"index": index, "delta": delta or {}}
    if finish:
        choice["finish_reason"] = finish
    chunk = {"choices": [choice]}
    if usage:
        chunk["usage"] = usage
    return chunk


def test_text_deltas_concatenate_into_one_assistant_message():
    assembled = assemble(_chunks("streaming_chat.sse"))
    message = assembled.message(0)
    assert message["role"] == "assistant"
    assert message["content"].startswith("Once upon a time, a girl named Mia")
    assert assembled.choices[0].finish_reason == "stop"
    assert assembled.usage["total_tokens"] == 30
    assert assembled.usage_events == [2]


def test_documented_tool_call_stream_assembles_two_calls_by_id_despite_unstable_index():
    calls = assemble(_chunks("stream_function_call_arguments.sse")).tool_calls(0)
    assert [c.id for c in calls] == [
        "function-call-c855348a-459a-46a4-a8ad-aa0a4e7c3563",
        "function-call-df0d087c-ad74-46f1-ba4a-9353cbf288a8",
    ]
    assert [json.loads(c.arguments) for c in calls] == [
        {"location": "Boston, MA", "unit": "celsius"},
        {"location": "New Delhi, India", "unit": "celsius"},
    ]
    assert calls[0].indexes == [1, 0, 0, 0, 0, 0]  # the documented quirk, kept as evidence
    assert calls[1].indexes == [0, 1, 1, 1, 1, 1]
    assert calls[0].name == "get_current_weather"
    assert calls[0].extra_content == {"google": {"thought_signature": "..."}}


def test_fragments_without_id_continue_the_call_at_their_index():
    chunks = [
        (
            0,
            _chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x"'}}]}),
        ),
        (1, _chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{"}}]})),
        (2, _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]})),
        (3, _chunk({"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}, finish="tool_calls")),
    ]
    calls = assemble(chunks).tool_calls(0)
    assert [(c.id, c.arguments) for c in calls] == [("a", '{"x":1}'), ("b", "{}")]


def test_finish_reasons_and_usage_events_are_all_recorded_for_the_checks():
    chunks = [
        (0, _chunk({"content": "a"}, finish="stop")),
        (1, _chunk({"content": "b"}, finish="stop", usage={"total_tokens": 1})),
        (2, _chunk({}, usage={"total_tokens": 1})),
    ]
    assembled = assemble(chunks)
    assert assembled.choices[0].finish_events == [0, 1]
    assert assembled.usage_events == [1, 2]
    assert assembled.choices[0].content == "ab"


def test_parallel_choices_assemble_separately():
    chunks = [(0, _chunk({"content": "x"}, index=0)), (1, _chunk({"content": "y"}, index=1))]
    assembled = assemble(chunks)
    assert assembled.message(0)["content"] == "x"
    assert assembled.message(1)["content"] == "y"


def test_malformed_chunks_never_raise():
    chunks = [(0, {"choices": "nope"}), (1, {"choices": [None, {"index": "0"}, {"index": 0, "delta": []}]})]
    assembled = assemble(chunks)
    assert list(assembled.choices) == [0]
