"""Image output (form 9): with ``modalities: ["image"]`` the picture comes back base64 in
``message.audio.data``, its type in ``message.audio.extra_content.google.mime_type``, with
``content: null`` and a ``thought_signature`` on the message (seed: Bildgenerierung).

One break, one requirement: data that is not base64 fails ``image.base64`` alone, since there
are no bytes whose type ``image.mime-matches`` could judge (the documented sample's
``"<BASE64_BYTES>"`` placeholder is that case); a missing or unknown declared type fails
``image.mime-matches`` whatever the data. Only non-streamed answers are judged: the seed shows
image output non-streamed, and the stream assembler does not collect ``delta.audio``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from ..extensions import google
from ..requirements import Source
from . import Context, Violation, check
from ._predicates import plain_ok

SEED_IMAGE = "Bildgenerierung: Beispielanfrage and Beispielantwort"

# The declared types the check knows, mapped to the name ``sniff`` gives their bytes; the seed's
# own spelling "image/jpg" (Multimodale Funktionsantworten) names JPEG too.
_CANONICAL = {
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/webp": "image/webp",
    "image/gif": "image/gif",
}


def sniff(data: bytes) -> str | None:
    """The image MIME type that ``data``'s magic bytes announce, or ``None`` for no known image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode(data: Any) -> bytes | None:
    """Strict base64 (no whitespace, no URL-safe alphabet, correct padding), or ``None``."""
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None


def image_requested(ctx: Context) -> bool:
    """A non-streamed successful answer to a request whose ``modalities`` ask for an image."""
    request = ctx.request
    modalities = request.get("modalities") if isinstance(request, dict) else None
    return plain_ok(ctx) and isinstance(modalities, list) and "image" in modalities


@check(
    "image.base64",
    "An image answer's message.audio.data is strict base64 that decodes to at least one byte.",
    Source.SEED,
    SEED_IMAGE,
    applies=image_requested,
)
def image_base64(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():
        audio = message.get("audio")
        data = audio.get("data") if isinstance(audio, dict) else None
        if not isinstance(data, str):
            yield f"{path}.audio.data", f"no image: message.audio.data is {data!r}, not a base64 string"
            continue
        raw = decode(data)
        if raw is None:
            yield f"{path}.audio.data", f"not strict base64: {data[:40]!r}"
        elif not raw:
            yield f"{path}.audio.data", "decodes to no bytes"


@check(
    "image.mime-matches",
    "The image bytes are of the declared message.audio.extra_content.google.mime_type, "
    "one of image/png, image/jpeg (or image/jpg), image/webp, image/gif.",
    Source.SEED,
    SEED_IMAGE + " (mime_type image/png)",
    applies=image_requested,
)
def image_mime_matches(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():
        audio = message.get("audio")
        if not isinstance(audio, dict):
            continue  # no image at all: image.base64 reports it
        declared = google(audio).get("mime_type")
        declared_path = f"{path}.audio.extra_content.google.mime_type"
        if not isinstance(declared, str):
            yield declared_path, f"no MIME type declared (mime_type is {declared!r})"
            continue
        expected = _CANONICAL.get(declared.lower())
        if expected is None:
            yield declared_path, f"unknown image MIME type {declared!r} (known: {', '.join(_CANONICAL)})"
            continue
        raw = decode(audio.get("data"))
        if not raw:
            continue  # nothing to judge: image.base64 reports it
        found = sniff(raw)
        if found is None:
            start = raw[:8].hex()
            yield f"{path}.audio.data", f"declared {declared!r}, but the bytes are no known image ({start}…)"
        elif found != expected:
            yield f"{path}.audio.data", f"declared {declared!r}, but the bytes are {found}"


@check(
    "image.content-null",
    "An image answer's message carries content: null (the image is in audio).",
    Source.SEED,
    SEED_IMAGE + ' ("content": null)',
    applies=image_requested,
)
def image_content_null(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():  # a missing key is message.content-key's
        if message.get("content") is not None:
            yield f"{path}.content", f"expected null, got {str(message['content'])[:80]!r}"


@check(
    "image.thought-signature",
    "An image answer's message carries a non-empty extra_content.google.thought_signature.",
    Source.SEED,
    SEED_IMAGE + " (message.extra_content.google.thought_signature)",
    applies=image_requested,
)
def image_thought_signature(ctx: Context) -> Iterator[Violation]:
    for path, message in ctx.answer_messages():
        signature = google(message).get("thought_signature")
        if not (isinstance(signature, str) and signature):
            yield (
                f"{path}.extra_content.google.thought_signature",
                f"expected a non-empty string, got {signature!r}",
            )
