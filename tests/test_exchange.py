"""The exchange's parsed views: what counts as JSON (nesting included), how bytes are decoded, and
the collector pause around bulk parsing."""

import gc
import json

import pytest

from vertex_conformance.capture import exchange_from_bytes
from vertex_conformance.checks import evaluate
from vertex_conformance.exchange import (
    MAX_DEPTH,
    Exchange,
    WireRequest,
    bulk_acyclic,
    decode_utf8,
    parse_json,
)


def test_nan_and_infinity_are_not_json_in_a_body_or_an_event():
    body = Exchange(None, 200, {}, body_text='{"usage": {"total_tokens": NaN}}')
    assert not body.body_is_json and body.body is None
    text = 'data: {"n": Infinity}\n\ndata: {"n": 1}\n\ndata: [DONE]\n\n'
    stream = Exchange(None, 200, {}, stream_text=text)
    (_, value, why), second, done = stream.parsed_events
    assert value is None and why
    assert second[1] == {"n": 1} and done[1] == "[DONE]"
    assert stream.chunks == [(1, {"n": 1})]


def test_bulk_acyclic_pauses_the_collector_and_resumes_it():
    assert gc.isenabled()
    with bulk_acyclic():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_bulk_acyclic_resumes_the_collector_after_an_error():
    with pytest.raises(ValueError), bulk_acyclic():
        raise ValueError("boom")
    assert gc.isenabled()


def test_bulk_acyclic_leaves_a_collector_the_caller_paused_paused():
    gc.disable()
    try:
        with bulk_acyclic():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_parsing_a_stream_leaves_the_collector_running():
    assert Exchange(None, 200, {}, stream_text='data: {"a": 1}\n\ndata: [DONE]\n\n').chunks == [(0, {"a": 1})]
    assert gc.isenabled()


# --- hostile bytes: nesting and encoding are findings, never crashes ------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_is_refused_beyond_the_nesting_clients_parse_and_accepted_up_to_it():
    assert parse_json(nested(MAX_DEPTH)) == parse_json(nested(MAX_DEPTH))
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH}"):
        parse_json(nested(MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="depth limit exceeded"):  # orjson's own limit, 1,024
        parse_json(nested(5000))


def test_many_brackets_side_by_side_are_not_depth():
    assert len(parse_json("[" + ",".join(["[]"] * 1000) + "]")) == 1000
    assert parse_json(json.dumps({"text": "[" * 1000})) == {"text": "[" * 1000}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000, 100_000])
def test_a_deep_answer_is_a_finding_in_a_body_an_event_and_an_error_body(depth):
    answer = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": ' + nested(depth) + "}}]}"
    body = Exchange(None, 200, {"content-type": "application/json"}, body_text=answer)
    stream = Exchange(None, 200, {}, stream_text=f"data: {answer}\n\ndata: [DONE]\n\n")
    error = Exchange(None, 400, {}, body_text='{"error": ' + nested(depth) + "}")
    assert not body.body_is_json and (
        "nested more than" in body.body_error or "depth limit" in body.body_error
    )
    for exchange, requirement in (
        (body, "response.json"),
        (stream, "sse.event-json"),
        (error, "response.json"),
    ):
        results, _ = evaluate(exchange)
        assert results[requirement], f"{requirement} did not report {depth} levels"


def test_a_deep_request_is_unknown_to_the_checks_and_deep_tool_arguments_are_not_json():
    assert WireRequest("POST", "", {}, '{"x": ' + nested(MAX_DEPTH - 1) + "}").body is not None
    assert WireRequest("POST", "", {}, '{"x": ' + nested(300) + "}").body is None
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    request = WireRequest("POST", "", {}, json.dumps({"messages": [], "tools": tools, "deep": nested(300)}))
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": nested(300)}}
    answer = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}}]
    }
    [finding] = evaluate(Exchange(request, 200, {}, body_text=json.dumps(answer)))[0]["tools.args-json"]
    assert finding.path.endswith(".function.arguments")


def test_bytes_that_are_utf8_decode_as_they_are_whatever_a_charset_said():
    assert decode_utf8("data:ok\u2026\n\n".encode()) == ("data:ok\u2026\n\n", None)


def test_bytes_that_are_not_utf8_decode_as_a_client_reads_them_and_say_where():
    text, why = decode_utf8(b'{"content": "Gr\xfc\xdfe"}')
    assert text == '{"content": "Gr\ufffd\ufffde"}'
    assert why == "byte 15 is not UTF-8 (invalid start byte: fc)"


def test_undecodable_bytes_are_a_finding_of_their_own_streamed_or_not():
    body = exchange_from_bytes(b'{"choices": [], "x": "\xff"}')
    stream = exchange_from_bytes(b'data: {"x": "\xc3"}\n\ndata: [DONE]\n\n')
    assert evaluate(body)[0]["response.utf8"][0].path == "$.response"
    [finding] = evaluate(stream)[0]["sse.utf8"]
    assert finding.path == "$.stream" and "byte 13 is not UTF-8" in finding.message
    clean = exchange_from_bytes(b'data: {"x": "\xc3\xa9"}\n\n')
    assert evaluate(clean)[0]["sse.utf8"] == []
