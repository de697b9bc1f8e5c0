"""Form 2, streaming: the plain request with "stream": true, answered as server-sent events."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("streaming")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_streaming_chat(conformance, lane):
    exchange = conformance.send(lane, conformance.gemini("plain", stream=True))
    conformance.verify(exchange)
