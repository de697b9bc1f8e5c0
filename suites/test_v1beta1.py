"""The v1beta1 path: the documented REST samples use /v1beta1/ as well as /v1/."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("v1beta1")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_v1beta1_path(conformance, lane, stream):
    exchange = conformance.send(lane, conformance.gemini("plain", stream=stream, api_version="v1beta1"))
    conformance.verify(exchange)
