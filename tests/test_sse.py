"""SSE framing by the WHATWG rules: events, notices for what clients ignore, stray lines, linear cost.

The byte-for-byte cases of the specification and of web-platform-tests are data
(tests/sse_corpus, run by test_sse_corpus.py); these tests hold what the suite builds on them.
"""

from __future__ import annotations

import time

import pytest

from vertex_conformance.checks import evaluate, failures
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import SAMPLES
from vertex_conformance.sse import parse_sse

STREAM = (SAMPLES / "streaming_chat.sse").read_text(encoding="utf-8")


def served(text: str) -> Exchange:
    return Exchange(None, 200, {"content-type": "text/event-stream"}, stream_text=text)


def test_events_are_framed_by_blank_lines_and_keep_their_order():
    stream = parse_sse('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n')
    assert [e.data for e in stream.events] == ['{"a":1}', '{"a":2}', "[DONE]"]
    assert [e.index for e in stream.events] == [0, 1, 2]
    assert stream.stray_lines == [] and stream.notices == []
    assert not stream.unterminated


def test_multi_line_data_joins_with_newlines_and_comments_are_ignored():
    stream = parse_sse(": keep-alive\ndata: a\ndata: b\n\n")
    assert [e.data for e in stream.events] == ["a\nb"]
    assert stream.stray_lines == [] and stream.notices == []


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_every_line_end_of_the_specification_frames_the_same_events(end):
    stream = parse_sse(f"data: x{end}{end}data: [DONE]{end}{end}")
    assert [e.data for e in stream.events] == ["x", "[DONE]"]
    assert not stream.unterminated


def test_a_leading_byte_order_mark_is_dropped_and_noted_but_a_later_one_is_not():
    stream = parse_sse("\ufeffdata: a\n\n\ufeffdata: b\n\n")
    assert [e.data for e in stream.events] == ["a"]
    assert [(n.number, n.text) for n in stream.notices] == [(0, "\ufeff")]
    assert [(s.number, s.text) for s in stream.stray_lines] == [(3, "\ufeffdata: b")]


def test_a_block_without_data_dispatches_nothing_and_is_noted():
    stream = parse_sse("event: ping\n\ndata: a\n\n")
    assert [(e.event, e.data) for e in stream.events] == [("message", "a")]
    assert [(n.number, n.text) for n in stream.notices] == [(1, "event: ping")]
    assert "without data" in stream.notices[0].why


def test_event_type_id_and_retry_are_understood():
    stream = parse_sse("retry: 3000\nevent: add\nid: 7\ndata: 1\n\ndata: 2\n\n")
    assert [(e.event, e.data, e.id) for e in stream.events] == [("add", "1", "7"), ("message", "2", "7")]
    assert stream.retry == 3000


def test_an_id_with_a_null_and_a_retry_that_is_no_number_are_ignored_and_noted():
    stream = parse_sse("id: 1\ndata: a\n\nid: \0x\nretry: 1000x\nretry: \u0661\ndata: b\n\n")
    assert [e.id for e in stream.events] == ["1", "1"]
    assert stream.retry is None
    assert [n.number for n in stream.notices] == [4, 5, 6]


def test_unknown_field_names_are_notices_and_text_not_shaped_like_a_field_is_stray():
    text = 'oops\r\ndata: {"a":1}\r\n\r\nevent: x\r\nid\r\nretry: 5\r\nidle: 3\r\n: comment\r\ndata\r\n\r\n'
    stream = parse_sse(text)
    assert [(n.number, n.text) for n in stream.notices] == [(1, "oops"), (7, "idle: 3")]
    assert stream.stray_lines == []
    stray = parse_sse('data: {"a":1}\n\n{"oops": true}\ndata: [DONE]\n\noops, a log line\n\n').stray_lines
    assert [(s.number, s.text) for s in stray] == [(3, '{"oops": true}'), (6, "oops, a log line")]


@pytest.mark.parametrize(
    "line", ["Data: x", "DATA: x", "data : x", 'data {"a": 1}', "Traceback (most recent call last):"]
)
def test_a_known_field_misspelt_or_a_line_of_prose_is_stray_because_its_content_is_lost(line):
    stream = parse_sse(f"data: a\n\n{line}\n\ndata: [DONE]\n\n")
    assert [(s.number, s.text) for s in stream.stray_lines] == [(3, line)]
    assert [e.data for e in stream.events] == ["a", "[DONE]"]


def test_a_field_name_without_its_colon_is_a_field_and_a_longer_name_is_an_extension():
    stream = parse_sse("data\n\ndatabase: 1\n\n")
    assert [e.data for e in stream.events] == [""]
    assert stream.stray_lines == [] and [n.text for n in stream.notices] == ["database: 1"]


def test_an_unterminated_last_event_is_dropped_and_flagged():
    stream = parse_sse('data: {"a":1}\n\ndata: [DONE]')
    assert [e.data for e in stream.events] == ['{"a":1}']
    assert stream.unterminated
    assert parse_sse('data: {"a":1}\n\ndata: [DONE]\n').unterminated


def test_a_trailing_comment_or_field_without_data_leaves_nothing_unterminated():
    assert not parse_sse("data: a\n\n: bye").unterminated
    assert not parse_sse("data: a\n\nid: 3\n").unterminated


def test_a_stray_line_the_stream_never_finished_is_still_reported():
    stream = parse_sse("data: a\n\nthat is all")
    assert [(s.number, s.text) for s in stream.stray_lines] == [(3, "that is all")]
    assert stream.unterminated


def test_empty_text_has_no_events():
    stream = parse_sse("")
    assert stream.events == [] and stream.stray_lines == [] and not stream.unterminated


# --- through the checks: what a client reads the same passes, what it loses fails ------------------


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda text: "event: ping\n\n" + text,
        lambda text: (
            ": keep-alive\nevent: ping\n\n"
            + text.replace("\n\ndata: [DONE]", "\n\nevent: ping\n\ndata: [DONE]")
        ),
        lambda text: "\ufeff" + text,
        lambda text: text.replace("\n", "\r"),
        lambda text: text.replace("\n", "\r\n"),
        lambda text: "idle: 1\n" + text,
    ],
    ids=["ping-first", "pings-between", "bom", "cr-only", "crlf", "extension-field"],
)
def test_the_documented_stream_rewritten_legally_passes_every_check(rewrite):
    exchange = served(rewrite(STREAM))
    results, _ = evaluate(exchange)
    assert failures(results) == []
    assert [e.data for e in exchange.sse.events] == [e.data for e in parse_sse(STREAM).events]


def test_legal_but_unusual_lines_are_observations_not_findings():
    results, observations = evaluate(served("\ufeffevent: ping\n\nidle: 3\n" + STREAM))
    assert results["sse.no-dropped-lines"] == []
    notices = observations["sse_notices"]
    assert notices[0].startswith("start: a leading byte-order mark")
    assert notices[1].startswith("line 1: a block without data")
    assert notices[2] == "line 3: an unknown field 'idle' (ignored): 'idle: 3'"


def test_a_stray_line_fails_with_its_line_number():
    text = STREAM.replace("\n\ndata: [DONE]", "\n\nINFO request served\n\ndata: [DONE]")
    results, _ = evaluate(served(text))
    [finding] = results["sse.no-dropped-lines"]
    assert finding.path == "$.lines[7]" and "INFO request served" in finding.message


def test_many_stray_lines_are_listed_up_to_a_bound_then_counted():
    results, observations = evaluate(served("oops, a log line\nidle: 1\n" * 50 + STREAM))
    findings = results["sse.no-dropped-lines"]
    assert len(findings) == 21 and findings[-1].message == "30 more stray lines"
    assert len(observations["sse_notices"]) == 21 and observations["sse_notices"][-1] == "30 more"


# --- cost: one pass over the lines -------------------------------------------------------------


def _cpu_seconds_to_check(*sizes: int) -> list[float]:
    """For each size, the least CPU time (other processes on the machine do not count) to frame and
    check a stream with that many stray lines, over rounds that alternate the sizes."""
    texts = ["oops, a log line\n" * size + STREAM for size in sizes]
    best = [float("inf")] * len(sizes)
    for _ in range(5):
        for position, text in enumerate(texts):
            started = time.process_time()
            evaluate(served(text))
            best[position] = min(best[position], time.process_time() - started)
    return best


def test_checking_stray_lines_costs_time_linear_in_their_number():
    """Numbering each stray line by counting the newlines before it made 100,000 of them take 75 s
    (quadratic); ten times the lines must cost well under twenty times the time, 100,000 under 2 s."""
    small, large = _cpu_seconds_to_check(10_000, 100_000)
    assert large < 20 * small, f"10,000 lines: {small:.3f} s; 100,000 lines: {large:.3f} s"
    assert large < 2.0
