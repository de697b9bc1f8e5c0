"""Lane parity: the raw and SDK lanes' request bodies compared as JSON."""

import pytest

from vertex_conformance.checks.parity import compare_wire_bodies
from vertex_conformance.exchange import Exchange, WireRequest


def exchange(lane: str, body: str) -> Exchange:
    return Exchange(
        WireRequest("POST", "http://h/chat/completions", {}, body), 200, {}, body_text="{}", lane=lane
    )


def test_identical_json_in_another_key_order_is_parity():
    raw = exchange("httpx", '{"model": "m", "extra_body": {"google": {"thought_tag_marker": "think"}}}')
    sdk = exchange("sdk", '{"extra_body":{"google":{"thought_tag_marker":"think"}},"model":"m"}')
    assert compare_wire_bodies(raw, sdk) == {"lanes.same-wire-body": []}


def test_an_sdk_that_flattens_extra_body_is_caught_with_the_path():
    raw = exchange("httpx", '{"model": "m", "extra_body": {"google": {"thought_tag_marker": "think"}}}')
    sdk = exchange("sdk", '{"model": "m", "google": {"thought_tag_marker": "think"}}')
    findings = compare_wire_bodies(raw, sdk)["lanes.same-wire-body"]
    assert [f.path for f in findings] == ["$.request.body.extra_body", "$.request.body.google"]
    assert "the SDK added" in findings[1].message


def test_a_changed_value_and_a_changed_type_are_both_differences():
    raw = exchange("httpx", '{"n": 1, "stream": true, "messages": [{"role": "user"}]}')
    sdk = exchange("sdk", '{"n": "1", "stream": 1, "messages": [{"role": "system"}]}')
    paths = [f.path for f in compare_wire_bodies(raw, sdk)["lanes.same-wire-body"]]
    assert paths == ["$.request.body.messages[0].role", "$.request.body.n", "$.request.body.stream"]


def test_lanes_in_the_wrong_order_are_a_programming_error():
    with pytest.raises(ValueError):
        compare_wire_bodies(exchange("sdk", "{}"), exchange("httpx", "{}"))
