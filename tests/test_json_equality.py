"""json_equality: each clause of the rule both ways, and every caller holding to it."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from vcr.request import Request

from vertex_conformance import recording, replay_server
from vertex_conformance.capture import exchange_from_text
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.checks.parity import compare_wire_bodies
from vertex_conformance.checks.tools import compare_tool_calls
from vertex_conformance.exchange import Exchange, WireRequest
from vertex_conformance.json_equality import MISSING, Difference, Why, differences, same

NEGATIVE = Path(__file__).parent / "negative"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (-0.0, 0),
        (2.5e3, 2500),
        ({"n": [1, {"x": 2}]}, {"n": [1.0, {"x": 2.0}]}),
        ({"a": 1, "b": "x"}, {"b": "x", "a": 1}),
        ("Straße", "Straße"),
        (None, None),
        (True, True),
        ([], []),
    ],
    ids=[
        "int and float",
        "zero and minus zero",
        "exponent",
        "nested numbers",
        "key order",
        "strings",
        "null",
        "true",
        "empty arrays",
    ],
)
def test_same_values(a: Any, b: Any) -> None:
    assert same(a, b) and same(b, a)
    assert differences(a, b) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (True, 1),
        (False, 0),
        (True, 1.0),
        ([1, True], [1, 1]),
        ({"x": [{"y": False}]}, {"x": [{"y": 0}]}),
        (2**53 + 1, float(2**53 + 1)),
        ([1, 2], [2, 1]),
        ({"a": 1}, {"a": 1, "b": None}),
        ("Straße", "Strasse"),
        ("a", "A"),
        ("1", 1),
        (None, 0),
        ({}, []),
        ([1], 1),
    ],
    ids=[
        "true and 1",
        "false and 0",
        "true and 1.0",
        "bool and int in an array",
        "bool and int nested",
        "a float that is not the int",
        "array order",
        "a key more",
        "strings are not normalised",
        "strings are not case-folded",
        "string and number",
        "null and 0",
        "object and array",
        "array and scalar",
    ],
)
def test_different_values(a: Any, b: Any) -> None:
    assert not same(a, b) and not same(b, a)
    assert differences(a, b) != [] and differences(b, a) != []


def test_differences_name_each_place_with_its_json_path_and_why() -> None:
    first = {"stream": True, "messages": [{"role": "user"}, {"role": "tool"}], "n": 1, "gone": 0}
    second = {"stream": 1, "messages": [{"role": "system"}], "n": 1.0, "new": [1, 2]}
    assert differences(first, second, "$.body") == [
        Difference("$.body.gone", Why.ONLY_FIRST, 0, MISSING),
        Difference("$.body.messages", Why.LENGTH, first["messages"], second["messages"]),
        Difference("$.body.messages[0].role", Why.VALUE, "user", "system"),
        Difference("$.body.new", Why.ONLY_SECOND, MISSING, [1, 2]),
        Difference("$.body.stream", Why.VALUE, True, 1),
    ]


def test_differences_do_not_depend_on_the_key_order_of_either_side() -> None:
    a, b = {"z": 1, "a": 2}, {"a": 3, "z": 4}
    reordered = dict(reversed(list(a.items())))
    assert differences(a, b) == differences(reordered, b)
    assert [d.path for d in differences(a, b)] == ["$.a", "$.z"]


# --- every caller holds to the rule --------------------------------------------------------------


def _request(body: Any) -> Request:
    return Request("POST", "http://h/v1/x", json.dumps(body).encode(), {"content-type": "application/json"})


def test_the_replay_matcher_takes_1_for_1_0_and_refuses_true_for_1() -> None:
    recording.json_body(_request({"n": 1, "t": [True]}), _request({"n": 1.0, "t": [True]}))
    with pytest.raises(AssertionError, match=r"at \$\.t\[0\]: recorded true, this request 1"):
        recording.json_body(_request({"t": [1]}), _request({"t": [True]}))


def test_the_replay_servers_miss_explanation_keeps_its_words() -> None:
    assert replay_server.differences({"n": 1}, {"n": 1.0}) == []
    assert replay_server.differences({"t": [False]}, {"t": [0]}) == ["$.t[0]: recorded false, this request 0"]


def _lane(lane: str, body: str) -> Exchange:
    return Exchange(WireRequest("POST", "http://h/chat", {}, body), 200, {}, body_text="{}", lane=lane)


def test_lane_parity_takes_1_for_1_0_and_refuses_true_for_1() -> None:
    same_number = compare_wire_bodies(_lane("httpx", '{"n": 1}'), _lane("sdk", '{"n": 1.0}'))
    assert same_number == {"lanes.same-wire-body": []}
    findings = compare_wire_bodies(_lane("httpx", '{"s": [true]}'), _lane("sdk", '{"s": [1]}'))
    assert [(f.path, f.message) for f in findings["lanes.same-wire-body"]] == [
        ("$.request.body.s[0]", "raw lane sent True, the SDK sent 1")
    ]


def _case(file: str, description: str) -> dict[str, Any]:
    cases = json.loads((NEGATIVE / file).read_text(encoding="utf-8"))
    return copy.deepcopy(next(case for case in cases if case["description"].startswith(description)))


def test_structured_sdk_parsed_refuses_1_where_the_content_held_true() -> None:
    case = _case("structured.json", "SDK lane: message.parsed equals the content")
    schema = case["request"]["response_format"]["json_schema"]["schema"]
    schema["properties"]["confirmed"] = {"type": "boolean"}
    for message in (case["data"]["choices"][0]["message"], case["sdk_view"]["choices"][0]["message"]):
        message["content"] = message["content"][:-1] + ',"confirmed":true}'

    def found(parsed_confirmed: Any) -> list[str]:
        case["sdk_view"]["choices"][0]["message"]["parsed"]["confirmed"] = parsed_confirmed
        request = WireRequest("POST", "", {}, json.dumps(case["request"]))
        exchange = exchange_from_text(json.dumps(case["data"]), request)
        exchange = dataclasses.replace(exchange, lane="sdk", sdk_view=case["sdk_view"])
        return sorted(failures(evaluate(exchange)[0]))

    assert found(True) == []
    assert [f.requirement for f in found(1)] == ["structured.sdk-parsed"]


def test_stream_matches_plain_refuses_true_where_the_stream_held_1() -> None:
    case = _case("tools.json", "control: the stream (indexes made stable)")
    closing = next(
        call["function"]
        for chunk in case["data"]["stream"]
        if isinstance(chunk, dict)
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if call["index"] == 0 and call["function"]["arguments"] == "}"
    )
    closing["arguments"] = ',"days":1}'
    plain = case["data"]["response"]["choices"][0]["message"]["tool_calls"][0]["function"]

    def found(days: str) -> list[str]:
        plain["arguments"] = '{"location":"Boston, MA","unit":"celsius","days":' + days + "}"
        events = (chunk if isinstance(chunk, str) else json.dumps(chunk) for chunk in case["data"]["stream"])
        stream_text = "".join(f"data: {event}\n\n" for event in events)
        streamed = exchange_from_text(stream_text, WireRequest("POST", "", {}, json.dumps(case["request"])))
        answer = exchange_from_text(json.dumps(case["data"]["response"]), WireRequest("POST", "", {}, "{}"))
        return [f.path for f in compare_tool_calls(streamed, answer)]

    assert found("1.0") == []
    assert found("true") == ["$.assembled.choices[0].message.tool_calls[0].function.arguments"]
