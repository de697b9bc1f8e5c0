"""Form 4, global endpoint: locations/global on the host without a region prefix."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("global")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_global_endpoint(conformance, lane, stream):
    exchange = conformance.send(lane, conformance.gemini("global", stream=stream, location="global"))
    conformance.verify(exchange)
