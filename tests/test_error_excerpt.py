"""An error answer quoted in one line keeps the part that explains it."""

from __future__ import annotations

import json

from vertex_conformance.error_excerpt import LIMIT, MESSAGE_LIMIT, error_excerpt
from vertex_conformance.exchange import Exchange
from vertex_conformance.judge import Case, judge
from vertex_conformance.resilience import evidence
from vertex_conformance.vocabulary import Profile

UNKNOWN_NAME = (
    "Invalid JSON payload received. Unknown name \"thinking_config\" at 'generation_config': "
    "Cannot find field. The request names a field this API version does not have: "
    + "see the field violations for where it stands. " * 4
    + 'Remove "thinking_config" or send it under extra_body.google.'
)


def google_error(message: str, status: str = "INVALID_ARGUMENT") -> str:
    details = [{"@type": "type.googleapis.com/google.rpc.Help", "links": [{"url": "https://x/" + "h" * 400}]}]
    return json.dumps({"error": {"code": 400, "message": message, "status": status, "details": details}})


def test_a_google_error_is_quoted_as_its_status_and_whole_message():
    assert error_excerpt(google_error(UNKNOWN_NAME)) == f"INVALID_ARGUMENT: {UNKNOWN_NAME}"


def test_a_google_error_in_a_one_element_array_is_read_the_same_way():
    body = json.dumps([json.loads(google_error("model not found", "NOT_FOUND"))])
    assert error_excerpt(body) == "NOT_FOUND: model not found"


def test_an_extraordinarily_long_message_is_bounded_and_keeps_its_end():
    quoted = error_excerpt(google_error("start " + "m" * 5000 + " the reason"))
    assert len(quoted) == len("INVALID_ARGUMENT: ") + MESSAGE_LIMIT
    assert quoted.startswith("INVALID_ARGUMENT: start ") and quoted.endswith(" the reason")


def test_any_other_body_keeps_head_and_tail_in_one_line():
    body = (
        "<html>\n<title>502 Bad Gateway</title>\n"
        + "padding " * 200
        + "\nupstream: connection refused</html>"
    )
    quoted = error_excerpt(body)
    assert len(quoted) == LIMIT and "\n" not in quoted
    assert quoted.startswith("<html> <title>502 Bad Gateway</title>")
    assert quoted.endswith("upstream: connection refused</html>") and "…" in quoted


def test_a_short_body_is_quoted_whole():
    assert error_excerpt("Not Found") == "Not Found"
    assert (
        error_excerpt('{"error": "a string, not Google\'s object"}')
        == '{"error": "a string, not Google\'s object"}'
    )


def test_the_http_success_finding_quotes_the_explaining_end_of_a_400():
    verdict = judge(
        Case("t", Profile.VERTEX), [Exchange(None, 400, {}, body_text=google_error(UNKNOWN_NAME))], []
    )
    [finding] = [f for f in verdict.findings if f.requirement == "http.success"]
    assert finding.message.endswith('Remove "thinking_config" or send it under extra_body.google.')


def test_infra_evidence_keeps_the_tail_of_a_long_body():
    body = "upstream error " + "x" * 900 + " retry in 30 s"
    assert evidence(Exchange(None, 503, {}, body_text=body)).endswith("x retry in 30 s")
