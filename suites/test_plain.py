"""Form 1, plain chat: a non-streamed request to a Gemini model through endpoints/openapi."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("plain")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_plain_chat(conformance, lane):
    exchange = conformance.send(lane, conformance.gemini("plain", stream=False))
    conformance.verify(exchange)
