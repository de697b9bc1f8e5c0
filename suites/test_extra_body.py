"""Form 5, extra_body: a top-level "extra_body": {"google": {...}} (here thought_tag_marker).

The raw lane sends the documented REST body; the SDK lane passes extra_body={"extra_body": {...}}
as the page shows. Both must put the same JSON on the wire."""

import pytest

from vertex_conformance.checks.parity import compare_wire_bodies
from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("extra-body")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_extra_body_thought_tag_marker(conformance, lane, stream):
    conformance.verify(conformance.send(lane, conformance.gemini("extra_body", stream=stream)))


@pytest.mark.form("extra-body")
def test_extra_body_is_the_same_json_on_the_wire_from_rest_and_sdk(conformance):
    raw = conformance.send("httpx", conformance.gemini("extra_body", stream=False))
    sdk = conformance.send("sdk", conformance.gemini("extra_body", stream=False))
    conformance.verify(raw, sdk, also=compare_wire_bodies(raw, sdk))
