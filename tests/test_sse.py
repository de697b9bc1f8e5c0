"""SSE framing over captured text: events, [DONE], stray lines, unterminated tails."""

from vertex_conformance.sse import parse_sse


def test_events_are_framed_by_blank_lines_and_keep_their_order():
    stream = parse_sse('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n')
    assert [e.data for e in stream.events] == ['{"a":1}', '{"a":2}', "[DONE]"]
    assert [e.index for e in stream.events] == [0, 1, 2]
    assert stream.stray_lines == []
    assert not stream.unterminated


def test_multi_line_data_joins_with_newlines_and_comments_are_ignored():
    stream = parse_sse(": keep-alive\ndata: a\ndata: b\n\n")
    assert [e.data for e in stream.events] == ["a\nb"]
    assert stream.stray_lines == []


def test_crlf_framing_is_accepted():
    stream = parse_sse("data: x\r\n\r\ndata: [DONE]\r\n\r\n")
    assert [e.data for e in stream.events] == ["x", "[DONE]"]
    assert not stream.unterminated


def test_a_line_that_is_no_sse_field_is_kept_as_a_stray_line_with_its_number():
    stream = parse_sse('data: {"a":1}\n\n{"oops": true}\ndata: [DONE]\n\n')
    assert [(s.number, s.text) for s in stream.stray_lines] == [(3, '{"oops": true}')]


def test_an_unterminated_last_event_is_dropped_and_flagged():
    stream = parse_sse('data: {"a":1}\n\ndata: [DONE]')
    assert [e.data for e in stream.events] == ['{"a":1}']
    assert stream.unterminated


def test_empty_text_has_no_events():
    stream = parse_sse("")
    assert stream.events == [] and stream.stray_lines == [] and not stream.unterminated


def test_stray_lines_are_numbered_from_one_whatever_the_line_ending():
    text = 'oops\r\ndata: {"a":1}\r\n\r\nevent: x\r\nid\r\nretry: 5\r\nidle: 3\r\n: comment\r\ndata\r\n\r\n'
    assert [(s.number, s.text) for s in parse_sse(text).stray_lines] == [(1, "oops"), (7, "idle: 3")]


def test_a_field_name_without_its_colon_is_a_field_and_a_longer_name_is_not():
    stream = parse_sse("data\n\ndatabase: 1\n\n")
    assert [(s.number, s.text) for s in stream.stray_lines] == [(3, "database: 1")]
