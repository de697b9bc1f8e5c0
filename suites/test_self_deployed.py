"""Form 3, self-deployed model: endpoints/{ENDPOINT} on the global host, v1beta1, no model field."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("self-deployed")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_self_deployed_endpoint(conformance, lane, stream):
    call = conformance.endpoint("plain", stream=stream, location="global", api_version="v1beta1")
    conformance.verify(conformance.send(lane, call))
