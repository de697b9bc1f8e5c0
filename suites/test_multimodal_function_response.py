"""Form 11, multimodal function responses: the documented three-turn exchange, whose tool message
points at a file by {"$ref": display_name} and carries it in extra_content.google.parts[].file_data."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("multimodal-function-response")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_multimodal_function_response(conformance, lane):
    call = conformance.gemini("multimodal_function_response", stream=False)
    conformance.verify(conformance.send(lane, call))
