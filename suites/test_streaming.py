"""Form 2, streaming: the plain request with "stream": true, answered as server-sent events."""

import pytest

from vertex_conformance.lanes import LANES


@pytest.mark.form("streaming")
@pytest.mark.parametrize("lane", LANES)
def test_streaming_chat(conformance, lane):
    exchange = conformance.send(lane, conformance.gemini("plain", stream=True))
    conformance.verify(exchange)
