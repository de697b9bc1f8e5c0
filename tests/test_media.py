"""The media fixtures are real files of their type, and the image checks' byte sniffing and strict
base64 decoding tell them apart."""

from __future__ import annotations

import base64
import json
import struct
import wave
import zlib
from pathlib import Path

import pytest

from vertex_conformance.checks.media import MAX_PIXELS, decode, sniff, undecodable
from vertex_conformance.paths import FIXTURES

MEDIA = FIXTURES / "media"
IMAGES = {
    "pixel.png": "image/png",
    "pixel.jpg": "image/jpeg",
    "pixel.gif": "image/gif",
    "pixel.webp": "image/webp",
}


def _jpeg_markers(data: bytes) -> list[int]:
    """The marker codes of a JPEG's header segments, up to the start of scan."""
    markers, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
    return markers


def test_pixel_png_is_an_8x8_rgb_png_whose_pixels_decompress():
    data = (MEDIA / "pixel.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, color) == (8, 8, 8, 2)
    idat_length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    assert len(zlib.decompress(data[41 : 41 + idat_length])) == height * (1 + 3 * width)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_pixel_jpg_is_a_baseline_jpeg():
    data = (MEDIA / "pixel.jpg").read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    assert data.endswith(b"\xff\xd9")
    markers = _jpeg_markers(data)
    assert 0xC0 in markers, "SOF0: baseline DCT"
    assert not {0xC1, 0xC2, 0xC3} & set(markers), "no extended, progressive or lossless frame"
    assert markers[-1] == 0xDA


def test_pixel_gif_and_pixel_webp_carry_their_signatures():
    gif = (MEDIA / "pixel.gif").read_bytes()
    webp = (MEDIA / "pixel.webp").read_bytes()
    assert gif[:6] == b"GIF87a" and struct.unpack("<HH", gif[6:10]) == (8, 8)
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    assert struct.unpack("<I", webp[4:8])[0] == len(webp) - 8


def test_tone_wav_is_a_short_mono_pcm_wav():
    path = MEDIA / "tone.wav"
    assert path.read_bytes()[:4] == b"RIFF" and path.read_bytes()[8:12] == b"WAVE"
    with wave.open(str(path), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 800


@pytest.mark.parametrize(("name", "mime"), IMAGES.items())
def test_sniff_names_each_fixture_image_by_its_type(name, mime):
    assert sniff((MEDIA / name).read_bytes()) == mime


@pytest.mark.parametrize("data", [(MEDIA / "tone.wav").read_bytes(), b"", b"GIF8", b"\x89PNG", b"hello"])
def test_sniff_finds_no_image_in_other_bytes(data):
    assert sniff(data) is None


def test_decode_takes_strict_base64_only():
    raw = (MEDIA / "pixel.jpg").read_bytes()
    text = base64.b64encode(raw).decode()
    assert decode(text) == raw
    assert decode(text[:76] + "\n" + text[76:]) is None
    assert decode(text.replace("/", "_").replace("+", "-")) is None
    assert decode(text.rstrip("=")) is None
    assert decode("Grüße") is None
    assert decode(None) is None
    assert decode("") == b""


def test_the_image_control_case_carries_the_pixel_png_fixture():
    cases = json.loads((Path(__file__).parent / "negative" / "media.json").read_text(encoding="utf-8"))
    control = next(
        c for c in cases if c["description"] == "the documented image sample carrying a real PNG (control)"
    )
    data = control["data"]["choices"][0]["message"]["audio"]["data"]
    assert base64.b64decode(data) == (MEDIA / "pixel.png").read_bytes()
    assert control["violates"] == []


@pytest.mark.parametrize("name", IMAGES)
def test_every_fixture_image_decodes_completely(name):
    raw = (MEDIA / name).read_bytes()
    assert undecodable(raw, sniff(raw)) is None


@pytest.mark.parametrize("name", IMAGES)
def test_an_image_cut_in_half_keeps_its_magic_bytes_but_does_not_decode(name):
    raw = (MEDIA / name).read_bytes()
    half = raw[: len(raw) // 2]
    assert sniff(half) == IMAGES[name] and decode(base64.b64encode(half).decode()) == half
    assert undecodable(half, IMAGES[name]) is not None


def test_a_png_whose_pixel_data_was_altered_fails_its_checksum():
    raw = bytearray((MEDIA / "pixel.png").read_bytes())
    raw[45] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    assert "checksum" in (undecodable(bytes(raw), "image/png") or "")


def test_an_image_announcing_more_pixels_than_decoded_is_refused_before_loading():
    raw = (MEDIA / "pixel.png").read_bytes()
    header = b"IHDR" + struct.pack(">IIBBBBB", 6000, 6000, 8, 2, 0, 0, 0)
    huge = raw[:8] + struct.pack(">I", 13) + header + struct.pack(">I", zlib.crc32(header)) + raw[33:]
    assert (
        undecodable(huge, "image/png")
        == f"it announces 6000 x 6000 pixels, more than the {MAX_PIXELS} decoded"
    )
