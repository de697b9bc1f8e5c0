"""Form 7, thinking: extra_body.google.thinking_config (include_thoughts, thinking_budget) with a
thought_tag_marker; thoughts come back wrapped in the marker and usage counts reasoning tokens."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("thinking")
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_thinking_with_tag_marker(conformance, lane, stream):
    conformance.verify(conformance.send(lane, conformance.gemini("thinking", stream=stream)))
