"""The guard: every answer ends by its deadline and stays under its decoded size, in httpx and httpx2,
sync and async, against the raw fault server on 127.0.0.1. (Every lane, and the recorder, in
test_lanes.py; whole runs in test_live_faults.py.)"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from typing import Any

import httpx
import httpx2
import pytest
import zstandard
from fault_server import CHAT_PATH, Fault, chat_completion, gzip_bomb, gzipped, serve_faults, stream

from vertex_conformance import guard
from vertex_conformance.resilience import transport_fault

MIB = 1 << 20
LIBRARIES = {"httpx": httpx, "httpx2": httpx2}
FLAVOURS = [(library, asynchronous) for library in LIBRARIES for asynchronous in (False, True)]
IDS = [f"{library}-{'async' if asynchronous else 'sync'}" for library, asynchronous in FLAVOURS]


def fetch(library: str, asynchronous: bool, url: str, limits: guard.Limits, read: float = 30.0) -> bytes:
    """POST to the fault server through a guarded transport; the body as the client decodes it."""
    module = LIBRARIES[library]
    transport = guard.transport(library, limits, asynchronous=asynchronous)
    timeout = module.Timeout(read, connect=5.0)
    if not asynchronous:
        with module.Client(transport=transport, timeout=timeout) as client:
            return client.post(url + CHAT_PATH, json={}).content

    async def post() -> bytes:
        async with module.AsyncClient(transport=transport, timeout=timeout) as client:
            return (await client.post(url + CHAT_PATH, json={})).content

    return asyncio.run(post())


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limits must be positive"):
        guard.Limits(deadline=0)
    with pytest.raises(ValueError, match="limits must be positive"):
        guard.Limits(max_bytes=0)


@pytest.mark.parametrize(("library", "asynchronous"), FLAVOURS, ids=IDS)
def test_the_guard_is_the_librarys_own_transport_with_its_pool_and_network_guarded(
    library: str, asynchronous: bool
) -> None:
    """A recorder patches the library's transport class, so the guard must be that class; it relies
    on the private ``_pool`` and ``_network_backend``, and this fails if a release moves them."""
    module = LIBRARIES[library]
    transport = guard.transport(library, guard.Limits(), asynchronous=asynchronous)
    assert type(transport) is (module.AsyncHTTPTransport if asynchronous else module.HTTPTransport)
    assert isinstance(transport._pool, guard._Pool)
    assert isinstance(transport._pool._inner._network_backend, guard._Backend)
    with pytest.raises(ValueError, match="no guarded transport for 'requests'"):
        guard.transport("requests", guard.Limits())


@pytest.mark.parametrize(("library", "asynchronous"), FLAVOURS, ids=IDS)
def test_an_answer_within_the_limits_arrives_unchanged(library: str, asynchronous: bool) -> None:
    text = chat_completion(" ".join(str(n) for n in range(300_000)))  # about 2 MiB, compressible
    with serve_faults(Fault(body=text), gzipped(zlib.compress(text, wbits=31))) as server:
        limits = guard.Limits(max_bytes=4 * MIB)
        plain = fetch(library, asynchronous, server.url, limits)
        decoded = fetch(library, asynchronous, server.url, limits)
    assert plain == decoded == text


@pytest.mark.parametrize(("library", "asynchronous"), FLAVOURS, ids=IDS)
def test_a_drip_ends_at_the_deadline_not_when_the_server_stops(library: str, asynchronous: bool) -> None:
    started = time.monotonic()
    with (
        serve_faults(default=Fault(body=chat_completion(), drip=0.05)) as server,
        pytest.raises(
            guard.DeadlineExceeded, match=r"ran past its 0\.6 s deadline \(--stream-timeout\)"
        ) as raised,
    ):
        fetch(library, asynchronous, server.url, guard.Limits(deadline=0.6))
    assert 0.6 <= time.monotonic() - started < 1.5
    assert 0 < raised.value.received < len(chat_completion())


@pytest.mark.parametrize(("library", "asynchronous"), FLAVOURS, ids=IDS)
def test_a_silence_before_the_headers_ends_at_the_deadline_not_the_read_timeout(
    library: str, asynchronous: bool
) -> None:
    started = time.monotonic()
    with (
        serve_faults(default=Fault(body=chat_completion(), first_byte_delay=20)) as server,
        pytest.raises(guard.DeadlineExceeded),
    ):
        fetch(library, asynchronous, server.url, guard.Limits(deadline=0.5), read=30.0)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(("library", "asynchronous"), FLAVOURS, ids=IDS)
def test_a_gzip_bomb_stops_at_the_ceiling_counted_decoded(library: str, asynchronous: bool) -> None:
    with (
        serve_faults(default=gzipped(gzip_bomb(256 * MIB))) as server,
        pytest.raises(guard.ResponseTooLarge, match="passed 4194304 bytes decoded") as raised,
    ):
        fetch(library, asynchronous, server.url, guard.Limits(max_bytes=4 * MIB))
    assert 4 * MIB < raised.value.received <= 5 * MIB  # stopped within a slice's expansion of the ceiling
    assert transport_fault(raised.value, None) is not None


def test_no_piece_handed_to_the_clients_decoder_inflates_past_about_two_mib() -> None:
    """httpx 0.28 inflates each piece it is handed in one call: the guard hands a bomb on in pieces
    small enough that no such call holds more than about two MiB."""
    sizes: list[int] = []
    transport = guard.transport("httpx", guard.Limits(max_bytes=64 * MIB))
    with (
        serve_faults(default=gzipped(gzip_bomb(32 * MIB))) as server,
        httpx.Client(transport=transport) as client,
        client.stream("POST", server.url + CHAT_PATH, json={}) as response,
    ):
        sizes.extend(len(piece) for piece in response.iter_bytes())
    assert sum(sizes) == 32 * MIB
    assert max(sizes) <= 2 * MIB


def test_a_zstd_bomb_is_counted_decoded_too() -> None:
    body = zstandard.ZstdCompressor().compress(bytes(64 * MIB))
    answer = Fault(body=body, headers=(("Content-Encoding", "zstd"),))
    with serve_faults(default=answer) as server, pytest.raises(guard.ResponseTooLarge):
        fetch("httpx", False, server.url, guard.Limits(max_bytes=MIB))
    assert len(body) < MIB // 100


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib-wrapped", "raw"])
def test_deflate_is_counted_decoded_in_both_of_its_forms(wbits: int) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    body = compressor.compress(bytes(8 * MIB)) + compressor.flush()
    answer = Fault(body=body, headers=(("Content-Encoding", "deflate"),))
    with serve_faults(default=answer) as server, pytest.raises(guard.ResponseTooLarge):
        fetch("httpx2", False, server.url, guard.Limits(max_bytes=MIB))


def test_a_corrupt_encoding_is_left_to_the_client_to_refuse() -> None:
    with (
        serve_faults(default=gzipped(b"\x1f\x8b\x08\x00not gzip at all")) as server,
        pytest.raises(httpx.DecodingError) as raised,
    ):
        fetch("httpx", False, server.url, guard.Limits())
    assert str(transport_fault(raised.value)).startswith("the body's content-encoding could not be decoded")


@pytest.mark.parametrize(("close_delimited", "marked"), [(True, True), (False, False)])
def test_an_answer_framed_by_the_close_is_marked_for_the_lanes(close_delimited: bool, marked: bool) -> None:
    transport = guard.transport("httpx", guard.Limits())
    with (
        serve_faults(default=stream(close_delimited=close_delimited)) as server,
        httpx.Client(transport=transport) as client,
    ):
        response: Any = client.post(server.url + CHAT_PATH, json={})
    assert response.text.endswith("data: [DONE]\n\n")
    assert bool(response.extensions.get(guard.CLOSE_DELIMITED)) is marked
    assert (
        json.loads(response.text.split("\n\n")[0].removeprefix("data: "))["object"] == "chat.completion.chunk"
    )
