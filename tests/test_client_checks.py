"""checks/clients.py and tools.name-once beyond the negative corpus: the edge cases of what a client
hands its user (arguments a client parsed, a view without tool calls, text that is not JSON, error
text that quotes the body) and the corpus's own client-lane cases."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import jsonschema

from tools import negative_corpus
from vertex_conformance.capture import exchange_from_text
from vertex_conformance.checks import Results, evaluate
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.paths import SAMPLES
from vertex_conformance.vocabulary import CLIENT_LANES

FUNCTION_CALL = json.loads((SAMPLES / "function_call.json").read_text(encoding="utf-8"))
PLAIN = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))
STORY = PLAIN["choices"][0]["message"]["content"]
FIRST, SECOND = (call["id"] for call in FUNCTION_CALL["choices"][0]["message"]["tool_calls"])
BOSTON = {"location": "Boston, MA", "unit": "celsius"}
DELHI = {"location": "New Delhi, India", "unit": "celsius"}
USAGE = {"prompt_tokens": 27, "completion_tokens": 45, "total_tokens": 576}
TOOLS = {
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string"},
                        "unit": {"enum": ["celsius", "fahrenheit"]},
                    },
                    "required": ["location", "unit"],
                },
            },
        }
    ]
}


def call(id: Any, arguments: Any, signature: Any = None, name: str = "get_current_weather") -> dict[str, Any]:
    return {"id": id, "name": name, "arguments": arguments, "thought_signature": signature}


def calls(first: Any = BOSTON, second: Any = DELHI) -> list[dict[str, Any]]:
    """The documented answer's two calls as a client hands them over (arguments as JSON text)."""
    text = [json.dumps(a) if isinstance(a, dict) else a for a in (first, second)]
    return [call(FIRST, text[0], "..."), call(SECOND, text[1])]


def view(**fields: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [],
        "usage": None,
        "parsed": None,
        "raw": None,
        **fields,
    }


def judged(
    body: Any,
    client_view: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    *,
    lane: str = "litellm",
    status: int = 200,
    request: dict[str, Any] | None = None,
    expected_body: dict[str, Any] | None = None,
) -> Results:
    """The checks' results for a client-lane exchange answered ``body`` (a dict, or SSE text)."""
    wire = WireRequest("POST", "", {}, json.dumps(request)) if request is not None else None
    exchange = exchange_from_text(body if isinstance(body, str) else json.dumps(body), wire)
    result = {"call": "c", "version": "1", "view": client_view, "error": error}
    exchange = replace(exchange, status=status, lane=lane, sdk_view=result, expected_body=expected_body)
    return evaluate(exchange)[0]


def client_results(results: Results) -> Results:
    return {rid: found for rid, found in results.items() if rid.startswith("client.")}


def messages(results: Results, rid: str) -> list[str]:
    return [f"{f.path}: {f.message}" for f in results[rid] or []]


def test_the_client_checks_judge_client_lanes_only():
    for lane in ("httpx", "sdk"):
        assert client_results(judged(PLAIN, view(content=STORY), lane=lane)) == {}
    for lane in CLIENT_LANES:
        assert "client.answers" in judged(PLAIN, view(content=STORY), lane=lane)


def test_arguments_a_client_parsed_for_its_user_compare_as_the_same_json():
    results = judged(
        FUNCTION_CALL, view(tool_calls=[call(FIRST, BOSTON, "..."), call(SECOND, DELHI)], usage=USAGE)
    )
    assert results["client.tool-calls"] == []
    assert results["client.tool-arguments"] == []


def test_arguments_a_client_parsed_differently_are_reported_with_both_values():
    changed = {**DELHI, "unit": "fahrenheit"}
    results = judged(
        FUNCTION_CALL, view(tool_calls=[call(FIRST, BOSTON, "..."), call(SECOND, changed)], usage=USAGE)
    )
    assert messages(results, "client.tool-calls") == [
        '$.sdk_view.view.tool_calls[1].arguments: the client gave {"location": "New Delhi, India", "unit": '
        '"fahrenheit"}; the wire {"location": "New Delhi, India", "unit": "celsius"}'
    ]


def test_a_view_without_a_tool_calls_key_hands_over_no_call():
    bare = {k: v for k, v in view(usage=USAGE).items() if k != "tool_calls"}
    results = judged(FUNCTION_CALL, bare)
    assert messages(results, "client.tool-calls") == [
        "$.sdk_view.view.tool_calls: the client gave 0 tool call(s) []; the wire by call id 2 "
        f"[{FIRST} get_current_weather({json.dumps(BOSTON)}), "
        f"{SECOND} get_current_weather({json.dumps(DELHI)})]"
    ]
    for rid in ("client.tool-call-ids-unique", "client.tool-arguments", "client.thought-signature"):
        assert results[rid] is None, rid


def test_arguments_that_are_not_json_are_reported_by_both_call_checks():
    results = judged(FUNCTION_CALL, view(tool_calls=calls(second="{'location': 'New Delhi'}"), usage=USAGE))
    assert messages(results, "client.tool-arguments") == [
        "$.sdk_view.view.tool_calls[1].arguments: the client's arguments do not parse as JSON: "
        "\"{'location': 'New Delhi'}\""
    ]
    assert [f.path for f in results["client.tool-calls"] or []] == ["$.sdk_view.view.tool_calls[1].arguments"]


def test_the_documented_body_s_tools_judge_the_arguments_before_the_request_s():
    """A client may rewrite the tools it sends; the arguments answer the form's documented ones."""
    loose = {"tools": [{"type": "function", "function": {"name": "get_current_weather", "parameters": {}}}]}
    cold = calls(second={**DELHI, "unit": "kelvin"})
    by_request = judged(FUNCTION_CALL, view(tool_calls=cold, usage=USAGE), request=loose)
    assert by_request["client.tool-arguments"] == []
    documented = judged(FUNCTION_CALL, view(tool_calls=cold, usage=USAGE), request=loose, expected_body=TOOLS)
    assert [f.path for f in documented["client.tool-arguments"] or []] == [
        "$.sdk_view.view.tool_calls[1].arguments.unit"
    ]


def test_unusable_declared_parameters_leave_the_client_s_arguments_unjudged():
    broken = copy.deepcopy(TOOLS)
    broken["tools"][0]["function"]["parameters"] = {
        "type": "object",
        "properties": {"unit": {"enum": "celsius"}},
    }
    results = judged(FUNCTION_CALL, view(tool_calls=calls(), usage=USAGE), expected_body=broken)
    assert results["client.tool-arguments"] == []


def test_a_signature_the_wire_never_gave_is_not_judged():
    """Only the wire's signatures are the client's to keep; one it made up is not this requirement."""
    made_up = [call(FIRST, json.dumps(BOSTON), "..."), call(SECOND, json.dumps(DELHI), "invented")]
    assert judged(FUNCTION_CALL, view(tool_calls=made_up, usage=USAGE))["client.thought-signature"] == []
    unsigned = copy.deepcopy(FUNCTION_CALL)
    del unsigned["choices"][0]["message"]["tool_calls"][0]["extra_content"]
    assert judged(unsigned, view(tool_calls=calls(), usage=USAGE))["client.thought-signature"] is None


def test_usage_compares_by_json_value_and_says_recomputed_only_when_it_is():
    assert (
        judged(FUNCTION_CALL, view(tool_calls=calls(), usage={**USAGE, "total_tokens": 576.0}))[
            "client.usage"
        ]
        == []
    )
    off_by_one = judged(FUNCTION_CALL, view(tool_calls=calls(), usage={**USAGE, "total_tokens": 575}))
    assert messages(off_by_one, "client.usage") == [
        "$.sdk_view.view.usage.total_tokens: the client gave 575; the wire 576"
    ]


def test_a_content_difference_is_shown_where_it_starts():
    results = judged(PLAIN, view(content=STORY.replace("Mia", "Mía"), usage=PLAIN["usage"]))
    [message] = messages(results, "client.content")
    assert "the client's text (92 characters) differs from the wire's (92) at character 32" in message
    assert 'the client "time, a girl named Mía found' in message
    assert 'the wire "time, a girl named Mia found' in message


NOT_FOUND = {"error": {"code": 404, "message": "Publisher Model `x`  was not\nfound.", "status": "NOT_FOUND"}}


def test_an_error_message_is_found_whitespace_normalised_or_quoted_as_json():
    for shown in (
        "404 Publisher Model `x` was not found.",
        "litellm.NotFoundError: " + json.dumps(NOT_FOUND),
        "Error code: 404 - " + str(NOT_FOUND),
    ):
        error = {"type": "NotFoundError", "status": 404, "message": shown}
        assert judged(NOT_FOUND, error=error, status=404)["client.error-message"] == [], shown


def test_an_error_message_that_is_only_the_status_is_reported_with_both_texts():
    error = {"type": "NotFoundError", "status": 404, "message": "Error code: 404"}
    assert messages(judged(NOT_FOUND, error=error, status=404), "client.error-message") == [
        '$.sdk_view.error.message: the client showed "Error code: 404"; the wire\'s message "Publisher '
        'Model `x`  was not\\nfound." is not in it'
    ]


def test_a_successful_answer_is_not_judged_for_an_error_message_and_an_error_not_for_an_answer():
    assert "client.error-message" not in judged(PLAIN, view(content=STORY, usage=PLAIN["usage"]))
    error = {"type": "NotFoundError", "status": 404, "message": "404 Publisher Model `x` was not found."}
    assert "client.answers" not in judged(NOT_FOUND, error=error, status=404)


def test_bytes_that_are_not_utf8_are_not_the_client_s_to_answer():
    exchange = replace(
        exchange_from_text(json.dumps(PLAIN)), lane="litellm", undecodable="byte 3 is not UTF-8"
    )
    assert "client.answers" not in evaluate(exchange)[0]


# --- tools.name-once: the fragments OpenAI's form leaves unnamed -------------------------------


def fragment(index: int, arguments: str, **more: Any) -> dict[str, Any]:
    function = {"arguments": arguments, **({"name": more.pop("name")} if "name" in more else {})}
    return {
        "choices": [{"delta": {"tool_calls": [{"index": index, "function": function, **more}]}, "index": 0}]
    }


def stream(*chunks: dict[str, Any]) -> str:
    envelope = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [json.dumps({**envelope, **chunk}) for chunk in chunks]
    return "".join(f"data: {event}\n\n" for event in [*events, "[DONE]"])


def name_once(text: str, request: dict[str, Any] | None = None) -> Any:
    wire = WireRequest("POST", "", {}, json.dumps({"stream": True, **(request or TOOLS)}))
    return evaluate(Exchange(wire, 200, {}, stream_text=text))[0].get("tools.name-once")


def test_an_empty_name_in_a_later_fragment_adds_nothing_and_is_no_finding():
    text = stream(
        fragment(0, "", id="call-1", type="function", name="get_current_weather"),
        fragment(0, '{"location":"Boston, MA","unit":"celsius"}', name=""),
    )
    assert name_once(text) == []


def test_a_later_fragment_that_renames_the_call_is_reported():
    text = stream(
        fragment(0, "", id="call-1", type="function", name="get_current_weather"),
        fragment(0, '{"location":"Boston, MA","unit":"celsius"}', name="get_weather"),
    )
    [finding] = name_once(text)
    assert finding.path == "$.assembled.choices[0].message.tool_calls[0].function.name"
    assert "is named again in 1 later fragment(s) (events [1])" in finding.message


def test_name_once_needs_a_request_that_declares_tools():
    """A capture checked without its request stays judged on its envelope alone, as for index-stable."""
    documented = (SAMPLES / "stream_function_call_arguments.sse").read_text(encoding="utf-8")
    assert name_once(documented, {"messages": []}) is None
    assert "tools.name-once" not in evaluate(exchange_from_text(documented))[0]


# --- the corpus's client-lane cases -------------------------------------------------------------


def test_a_corpus_case_with_a_lane_is_that_client_lane_s_exchange():
    result = {"call": "c", "version": "1", "view": None, "error": None}
    case = {
        "kind": "response",
        "data": PLAIN,
        "lane": "litellm",
        "client_result": result,
        "expected_body": TOOLS,
    }
    exchange = negative_corpus.exchange_for(case)
    assert (exchange.lane, exchange.sdk_view, exchange.expected_body) == ("litellm", result, TOOLS)
    assert negative_corpus.exchange_for({**case, "client_result": None}).sdk_view is None


def test_the_case_schema_refuses_a_client_result_without_a_client_lane():
    schema = json.loads(negative_corpus.CASE_SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    result = {"call": "c", "version": "1", "view": None, "error": None}
    good = {"description": "d", "kind": "response", "data": {}, "violates": [], "lane": "litellm"}
    assert validator.is_valid([{**good, "client_result": result}])
    assert not validator.is_valid([{**good, "lane": "sdk"}])
    assert not validator.is_valid(
        [{k: v for k, v in good.items() if k != "lane"} | {"client_result": result}]
    )
    assert not validator.is_valid([{**good, "sdk_view": {}}])
    assert not validator.is_valid([{**good, "client_result": {**result, "view": {"content": "x"}}}])
