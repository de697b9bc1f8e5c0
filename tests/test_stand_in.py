"""vertex_conformance.stand_in: the parts of Vertex's manner both local servers share. The 401 and the
error shape are exercised over HTTP in test_sample_server.py and test_replay_server.py."""

from __future__ import annotations

from vertex_conformance.stand_in import sse_events


def test_sse_events_split_is_lossless_even_without_a_final_blank_line() -> None:
    assert sse_events(b"data: 1\n\ndata: 2\n\n") == [b"data: 1\n\n", b"data: 2\n\n"]
    assert sse_events(b"data: 1\n\ndata: 2") == [b"data: 1\n\n", b"data: 2"]
