"""Form 10, multimodal input: image_url as the documented bare gs:// string and as OpenAI's {"url": …};
input_audio with a MIME type as format and a Cloud Storage URI as data; and the inline variants
(a data: URL, base64 audio) with the small media files of fixtures/media."""

import base64

import pytest

from vertex_conformance.paths import FIXTURES
from vertex_conformance.vocabulary import SUITE_LANES


def _inline(part: dict) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this: "}, part]}]}


def _b64(name: str) -> str:
    return base64.b64encode((FIXTURES / "media" / name).read_bytes()).decode()


DATA_URL = f"data:image/png;base64,{_b64('pixel.png')}"
VARIANTS = {
    "image-url-gcs-string": "image_url_gcs_string",
    "image-url-object": "image_url_object",
    "input-audio-gcs": "input_audio_gcs",
    "image-url-data-url": _inline({"type": "image_url", "image_url": {"url": DATA_URL}}),
    "input-audio-base64": _inline(
        {"type": "input_audio", "input_audio": {"format": "audio/wav", "data": _b64("tone.wav")}}
    ),
}


@pytest.mark.form("multimodal-input")
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_multimodal_input(conformance, lane, variant):
    conformance.verify(conformance.send(lane, conformance.gemini(VARIANTS[variant], stream=False)))
