"""A real loopback HTTP(S) server that misbehaves on cue, for the resilience tests.

It is a raw asyncio server rather than an ASGI app served by ``vertex_conformance.loopback`` (as
every other local server is) because the faults live below HTTP, where uvicorn would not let them
happen: a reset before any byte, a connection closed half-way through a chunked stream, a stall
between two events, a body shorter than its ``Content-Length``, a chunked body never terminated,
a stream framed by the connection's close, an answer dripped one byte at a time, a gzip bomb.
Each request takes the next ``Fault`` of the script (the ``default`` once the script is used up)
and the server counts what it saw (and each request's Authorization header), so a test can
assert how often a client retried, and with which token.

Bounded by construction: at most ``max_requests`` requests are answered (later connections are
closed at once), every pause is capped at ``MAX_PAUSE`` seconds and ends early when the server
stops, reading a request times out after ``READ_TIMEOUT``, and the server stops by itself after
``lifetime`` seconds. It listens on 127.0.0.1 only. HTTPS uses a certificate the caller makes
(``trustme``), which clients verify.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_PAUSE = 30.0
READ_TIMEOUT = 5.0
DELIVERY_GRACE = 0.2
CHAT_PATH = "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"


# --- what a request gets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted answer. ``reset``: read the request, then reset the connection (no byte sent).
    Otherwise: wait ``first_byte_delay``, send ``status`` with ``body``, or with ``events`` as a
    chunked ``text/event-stream``, pausing ``interval`` between events; after ``stall_after``
    events go silent for ``stall_for`` seconds; after ``drop_after`` events close the connection
    (with a reset when ``drop_with_reset``).

    ``short_by``: declare a ``Content-Length`` that many bytes longer than ``body``, then close.
    ``terminate=False``: after the last event send no terminating chunk; stay silent ``hold_for``
    seconds, then close. ``close_delimited``: send the events with neither ``Content-Length`` nor
    chunked framing, so the close ends the body. ``drip``: send the body (or each event) one byte
    at a time, ``drip`` seconds apart."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    events: tuple[bytes, ...] | None = None
    reset: bool = False
    first_byte_delay: float = 0.0
    interval: float = 0.0
    stall_after: int | None = None
    stall_for: float = 0.0
    drop_after: int | None = None
    drop_with_reset: bool = False
    short_by: int = 0
    terminate: bool = True
    hold_for: float = 0.0
    close_delimited: bool = False
    drip: float = 0.0


def chat_completion(content: str = "ok") -> bytes:
    """A minimal chat completion the openai SDK parses."""
    return json.dumps(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": 0,
            "model": "google/gemini-fault",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()


def chunk_events(count: int) -> tuple[bytes, ...]:
    """``count`` SSE chunk events (``part 0``, ``part 1``, …) and ``[DONE]``."""
    events = [
        b"data: "
        + json.dumps(
            {
                "id": "chatcmpl-fault",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": f"part {n}"}}],
            }
        ).encode()
        + b"\n\n"
        for n in range(count)
    ]
    return (*events, b"data: [DONE]\n\n")


def ok() -> Fault:
    return Fault(body=chat_completion(), headers=(("Content-Type", "application/json"),))


def gzip_bomb(decoded_size: int) -> bytes:
    """A gzip body of about ``decoded_size // 1000`` bytes that inflates to ``decoded_size`` zero
    bytes (a multiple of a MiB). Built from one compressed MiB repeated (each ends in a full flush,
    so every copy is the same bytes), so even a GiB takes a fraction of a second to make."""
    block = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    copies = decoded_size >> 20
    crc = 0
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, no time
    trailer = struct.pack("<II", crc, (copies << 20) & 0xFFFFFFFF)
    return header + repeated * copies + deflate.flush() + trailer


def gzipped(body: bytes, *headers: tuple[str, str]) -> Fault:
    """``body`` gzip-encoded as a JSON answer (``Content-Encoding: gzip``)."""
    return Fault(
        body=body, headers=(("Content-Type", "application/json"), ("Content-Encoding", "gzip"), *headers)
    )


def big_answer(size: int) -> bytes:
    """A chat completion whose content makes the body about ``size`` bytes."""
    return chat_completion("x" * size)


def status(code: int, message: str = "", **headers: str) -> Fault:
    """A Google-style error answer; keyword headers use ``_`` for ``-`` (``retry_after="1"``)."""
    body = json.dumps({"error": {"code": code, "message": message or HTTPStatus(code).phrase}}).encode()
    named = tuple((name.replace("_", "-").title(), value) for name, value in headers.items())
    return Fault(status=code, body=body, headers=(("Content-Type", "application/json"), *named))


def reset() -> Fault:
    return Fault(reset=True)


def stream(events: tuple[bytes, ...] | None = None, **faults: float | int | bool) -> Fault:
    """A streamed answer (``chunk_events(5)`` unless given) with the faults named in ``Fault``."""
    return Fault(events=events if events is not None else chunk_events(5), **faults)  # type: ignore[arg-type]


# --- the server ----------------------------------------------------------------------------------


@dataclass
class FaultServer:
    """The script, what was seen, and the address once serving."""

    script: list[Fault]
    default: Fault = field(default_factory=ok)
    max_requests: int = 100
    url: str = ""
    hits: list[str] = field(default_factory=list)  # "METHOD /path" of every request read
    authorizations: list[str] = field(default_factory=list)  # each request's Authorization header
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self, request_line: str, authorization: str) -> Fault | None:
        with self._lock:
            if len(self.hits) >= self.max_requests:
                return None
            index = len(self.hits)
            self.hits.append(request_line)
            self.authorizations.append(authorization)
            return self.script[index] if index < len(self.script) else self.default


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """Read one request (headers and a Content-Length body); return ``METHOD /path`` and its
    Authorization header (empty when it has none)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    lines = head.decode("latin-1").split("\r\n")
    length, authorization = 0, ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip() or 0)
        elif name.strip().lower() == "authorization":
            authorization = value.strip()
    if length:
        await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
    method, path, *_ = lines[0].split(" ")
    return f"{method} {path}", authorization


def _head(code: int, headers: tuple[tuple[str, str], ...]) -> bytes:
    lines = [f"HTTP/1.1 {code} {HTTPStatus(code).phrase}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1")


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: SO_LINGER with a zero timeout discards the connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Serving:
    """The asyncio side: runs in its own thread and loop."""

    def __init__(self, state: FaultServer, tls: ssl.SSLContext | None, lifetime: float) -> None:
        self.state, self.tls, self.lifetime = state, tls, lifetime
        self.ready = threading.Event()
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def pause(self, seconds: float) -> None:
        assert self.stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), min(seconds, MAX_PAUSE))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            fault = self.state._next(*await _read_request(reader))
            if fault is None:
                writer.close()
            elif fault.reset:
                _abort_with_reset(writer)
            else:
                await self.answer(fault, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            writer.transport.abort()  # the client went away or spoke nonsense: nothing to answer
        finally:
            self.tasks.discard(task)

    async def send(self, fault: Fault, writer: asyncio.StreamWriter, data: bytes, chunked: bool) -> None:
        """Write ``data`` (as one chunk, or byte by byte when the fault drips) and wait until sent."""
        pieces = [data[i : i + 1] for i in range(len(data))] if fault.drip else [data]
        for n, piece in enumerate(pieces):
            if n and fault.drip:
                await self.pause(fault.drip)
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            await writer.drain()

    async def answer(self, fault: Fault, writer: asyncio.StreamWriter) -> None:
        if fault.first_byte_delay:
            await self.pause(fault.first_byte_delay)
        if fault.events is None:
            headers = (*fault.headers, ("Content-Length", str(len(fault.body) + fault.short_by)))
            writer.write(_head(fault.status, headers))
            await self.send(fault, writer, fault.body, chunked=False)
            writer.close()
            return
        framing = () if fault.close_delimited else (("Transfer-Encoding", "chunked"),)
        named = {name.lower() for name, _ in fault.headers}
        kind = () if "content-type" in named else (("Content-Type", "text/event-stream"),)
        headers = (*kind, *framing, *fault.headers)
        writer.write(_head(fault.status, headers))
        for sent, event in enumerate(fault.events):
            if sent == fault.drop_after:
                if fault.drop_with_reset:
                    await self.pause(DELIVERY_GRACE)  # a reset discards unread data: let it arrive
                    _abort_with_reset(writer)
                else:
                    writer.close()
                return
            if sent == fault.stall_after:
                await self.pause(fault.stall_for)
            elif sent and fault.interval:
                await self.pause(fault.interval)
            await self.send(fault, writer, event, chunked=not fault.close_delimited)
        if fault.terminate and not fault.close_delimited:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif fault.hold_for:
            await self.pause(fault.hold_for)
        writer.close()

    async def main(self, sock: socket.socket) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self.handle, sock=sock, ssl=self.tls)
        self.ready.set()
        try:
            await self.pause_until_stopped()
        finally:
            server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def pause_until_stopped(self) -> None:
        assert self.stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.lifetime)

    def request_stop(self) -> None:
        if self.loop is not None and self.stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished (lifetime over)
                self.loop.call_soon_threadsafe(self.stop.set)


@contextlib.contextmanager
def serve_faults(
    *script: Fault,
    default: Fault | None = None,
    tls: ssl.SSLContext | None = None,
    lifetime: float = 60.0,
    max_requests: int = 100,
) -> Iterator[FaultServer]:
    """Serve ``script`` on 127.0.0.1 (HTTPS with the server context ``tls``); yields the server
    with its ``url`` set. Leaving the block stops it within a few seconds, whatever it was doing."""
    state = FaultServer(list(script), default or ok(), max_requests)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    serving = _Serving(state, tls, lifetime)
    thread = threading.Thread(
        target=asyncio.run, args=(serving.main(sock),), name="fault-server", daemon=True
    )
    thread.start()
    try:
        if not serving.ready.wait(5.0):
            raise RuntimeError("the fault server did not start")
        state.url = f"{'https' if tls else 'http'}://127.0.0.1:{sock.getsockname()[1]}"
        yield state
    finally:
        serving.request_stop()
        thread.join(10.0)
        sock.close()
