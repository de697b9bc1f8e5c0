"""Form 9, image output: "modalities": ["image"]; the image comes back base64 in message.audio.data
with its MIME type in message.audio.extra_content.google.mime_type. Runs on --image-model."""

import pytest

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("image-output")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_image_output(conformance, lane):
    conformance.verify(conformance.send(lane, conformance.gemini("image_output", stream=False, image=True)))
