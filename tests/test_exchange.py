"""The exchange's parsed views: what counts as JSON, and the collector pause around bulk parsing."""

import gc

import pytest

from vertex_conformance.exchange import Exchange, bulk_acyclic


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
