"""Image output (form 9): with ``modalities: ["image"]`` the picture comes back base64 in
``message.audio.data``, its type in ``message.audio.extra_content.google.mime_type``, with
``content: null`` and a ``thought_signature`` on the message (seed: Bildgenerierung).

One break, one requirement: data that is not base64 fails ``image.base64`` alone, since there
are no bytes whose type ``image.mime-matches`` could judge (the documented sample's
``"<BASE64_BYTES>"`` placeholder is that case); a missing or unknown declared type fails
``image.mime-matches`` whatever the data; bytes that start as an image but do not decode (a PNG
cut in half: valid base64, magic bytes intact) fail ``image.decodes`` alone. Only non-streamed
answers are judged: the seed shows image output non-streamed, and the stream assembler does not
collect ``delta.audio``.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from typing import Any

from ..extensions import google
from ..requirements import Source
from ..vocabulary import Profile
from . import NOTHING, Context, Yielded, check
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


def image_answer(ctx: Context) -> bool:
    """A non-streamed successful answer that carries an image, or answers a request whose
    ``modalities`` ask for one. The image checks read the answer alone, so a capture checked without
    its request (``vertex-conformance check``) is judged whenever it carries an image; the request
    only tells that an answer without one should have had it. Vertex puts the image in
    ``message.audio``: under the vertex profile every ``audio`` object is an image, under openai only
    one that declares Google's ``mime_type`` (else it is OpenAI's audio output, not judged here)."""
    if not plain_ok(ctx):
        return False
    for _, message in ctx.answer_messages():
        audio = message.get("audio")
        if isinstance(audio, dict) and (ctx.profile == Profile.VERTEX or "mime_type" in google(audio)):
            return True
    request = ctx.request
    modalities = request.get("modalities") if isinstance(request, dict) else None
    return isinstance(modalities, list) and "image" in modalities


@check(
    "image.base64",
    "An image answer's message.audio.data is strict base64 that decodes to at least one byte.",
    Source.SEED,
    SEED_IMAGE,
    applies=image_answer,
)
def image_base64(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING  # no message at all: message.not-empty reports it
    for path, message in messages:
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
    applies=image_answer,
)
def image_mime_matches(ctx: Context) -> Iterator[Yielded]:
    images = [(path, m["audio"]) for path, m in ctx.answer_messages() if isinstance(m.get("audio"), dict)]
    if not images:
        yield NOTHING  # no image at all: image.base64 reports it
    for path, audio in images:
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
    applies=image_answer,
)
def image_content_null(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING
    for path, message in messages:  # a missing key is message.content-key's
        if message.get("content") is not None:
            yield f"{path}.content", f"expected null, got {str(message['content'])[:80]!r}"


@check(
    "image.thought-signature",
    "An image answer's message carries a non-empty extra_content.google.thought_signature.",
    Source.SEED,
    SEED_IMAGE + " (message.extra_content.google.thought_signature)",
    applies=image_answer,
)
def image_thought_signature(ctx: Context) -> Iterator[Yielded]:
    messages = list(ctx.answer_messages())
    if not messages:
        yield NOTHING
    for path, message in messages:
        signature = google(message).get("thought_signature")
        if not (isinstance(signature, str) and signature):
            yield (
                f"{path}.extra_content.google.thought_signature",
                f"expected a non-empty string, got {signature!r}",
            )


# Pillow's names for the formats ``sniff`` recognises: the decoder is held to the announced format.
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
# Beyond this many pixels the bytes are not decoded (a few bytes can announce gigabytes of pixels,
# and Pillow refuses only beyond about 179 million): twice a 4096 x 4096 image, more than any image
# model answers with, about 130 MB once loaded.
MAX_PIXELS = 2 * 4096 * 4096
_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-f]+>")  # Pillow quotes its file object: not evidence


def undecodable(raw: bytes, found: str) -> str | None:
    """Why ``raw`` (whose magic bytes announce ``found``) does not decode completely, or ``None``.
    Pillow's ``verify`` reads the whole file and checks its structure (chunk checksums, markers);
    it leaves the image unusable, so the bytes are opened again and every pixel is loaded, which
    catches what ``verify`` does not look at, such as a truncated JPEG scan. Pillow is imported here,
    not at the top: ``vertex-conformance check`` of a text answer never pays for it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw), formats=[_PILLOW_FORMATS[found]]) as image:
            image.verify()
        with Image.open(io.BytesIO(raw), formats=[_PILLOW_FORMATS[found]]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return f"it announces {width} x {height} pixels, more than the {MAX_PIXELS} decoded"
            image.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError… for broken files
        return f"{type(exc).__name__}: {_OBJECT_REPR.sub('', str(exc))[:160]}"
    return None


@check(
    "image.decodes",
    "An image answer's bytes decode completely as the image their magic bytes announce (the "
    "whole file verified, every pixel loaded).",
    Source.SEED,
    SEED_IMAGE + " (the decoded bytes must be an image: docs/spec.md#form-9-image-output)",
    applies=image_answer,
)
def image_decodes(ctx: Context) -> Iterator[Yielded]:
    judged = 0
    for path, message in ctx.answer_messages():
        audio = message.get("audio")
        raw = decode(audio.get("data")) if isinstance(audio, dict) else None
        found = sniff(raw) if raw else None
        if found is None:
            continue  # no bytes, or none of a known image: image.base64 and image.mime-matches report it
        judged += 1
        why = undecodable(raw, found)
        if why is not None:
            yield f"{path}.audio.data", f"the {len(raw)} bytes start as {found} but do not decode: {why}"
    if not judged:
        yield NOTHING
