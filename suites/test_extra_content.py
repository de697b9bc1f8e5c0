"""Form 6, extra_content: {"google": {...}} on a request message in each documented placement:
a message with string content, a content part, and a tool call of an assistant message."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES

PLACEMENTS = ["extra_content_message", "extra_content_part", "extra_content_tool_call"]


@pytest.mark.form("extra-content")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("placement", PLACEMENTS, ids=["message", "part", "tool-call"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_extra_content_placement(conformance, lane, placement, stream):
    conformance.verify(conformance.send(lane, conformance.gemini(placement, stream=stream)))
