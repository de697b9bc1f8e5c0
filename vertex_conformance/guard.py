"""The limits every answer is read under, whatever the server sends: a wall-clock deadline on the
whole response (``--stream-timeout``) and a ceiling on its size once decoded (``--max-response-bytes``).

Why they live inside the HTTP library's own transport, in its connection pool and network backend:
vcrpy records by patching ``HTTPTransport.handle_request`` and reads the whole body there, before
any lane, SDK or tee sees a byte. A limit enforced above the transport comes too late while
recording, so a server dripping one byte a second would hang a record run and a gzip bomb would
be inflated into memory. Below that patch the limits hold in every lane (``httpx``, both SDK
lanes and any later one that builds its transport here) and every mode.

- The deadline starts when a request (each attempt of it) reaches the pool and bounds connecting,
  sending, the wait for the headers and every read of the body: each network operation gets the
  time that is left, so a stall, a drip or an endless body ends at the deadline, not one read
  timeout after it. Past it, ``DeadlineExceeded``.
- The size counts the body as the client will see it, after ``Content-Encoding``: the guard
  inflates each piece (in slices small enough that no slice can expand past about a MiB) to count
  it, and hands the still-encoded bytes on in pieces that decode to about a MiB each, so neither
  the count nor the client's own decoder ever holds a bomb's output. Past the ceiling,
  ``ResponseTooLarge``, and nothing more is read.

It relies on two private attributes, the transport's ``_pool`` and the pool's ``_network_backend``
(httpx and httpx2 alike); tests/test_guard.py fails if a release of either moves them.
"""

from __future__ import annotations

import importlib
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
# A response extension the guard sets on an answer framed by neither a content-length nor chunked
# encoding: its body ends where the connection closes, so a close there is no error to the library.
CLOSE_DELIMITED = "vertex_conformance.close_delimited"
_PIECE = 1 << 20  # decoded bytes the client's decoder is handed at most (about) per piece
_CORE = {"httpx": "httpcore", "httpx2": "httpcore2"}


@dataclass(frozen=True)
class Limits:
    """``deadline``: seconds for a whole response, from the request on (``--stream-timeout``);
    ``max_bytes``: its decoded size (``--max-response-bytes``)."""

    deadline: float = 300.0
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not self.deadline > 0 or self.max_bytes < 1:
            raise ValueError(f"limits must be positive: deadline {self.deadline}, max_bytes {self.max_bytes}")


class LimitExceeded(Exception):
    """An answer the guard stopped reading. ``received``: decoded bytes counted before it stopped."""

    option = ""

    def __init__(self, message: str, received: int, elapsed: float) -> None:
        super().__init__(message)
        self.received, self.elapsed = received, elapsed


class DeadlineExceeded(LimitExceeded):
    """The response did not end within ``--stream-timeout``."""

    option = "--stream-timeout"


class ResponseTooLarge(LimitExceeded):
    """The answer grew past ``--max-response-bytes`` once decoded."""

    option = "--max-response-bytes"


class _Guard:
    """One transport's limits, and the clock and count of the request it is carrying."""

    def __init__(self, limits: Limits, core: ModuleType, clock: Callable[[], float]) -> None:
        self.limits, self.core, self.clock = limits, core, clock
        self.started, self.received = clock(), 0

    def begin(self) -> None:
        self.started, self.received = self.clock(), 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        """What a network operation may wait: its own timeout, cut to what is left of the deadline;
        none left raises the library's own timeout (the pool or body turns it into the deadline)."""
        left = self.limits.deadline - self.elapsed()
        if left <= 0:
            raise error(f"the {self.limits.deadline:g} s deadline has passed")
        return left if timeout is None else min(timeout, left)

    def expired(self) -> bool:
        return self.elapsed() >= self.limits.deadline

    def deadline_exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"the response ran past its {self.limits.deadline:g} s deadline (--stream-timeout)",
            self.received,
            self.elapsed(),
        )

    def count(self, size: int) -> None:
        self.received += size
        if self.received > self.limits.max_bytes:
            raise ResponseTooLarge(
                f"the answer passed {self.limits.max_bytes} bytes decoded (--max-response-bytes); "
                "nothing more was read",
                self.received,
                self.elapsed(),
            )


# --- counting what the client will decode --------------------------------------------------------


class _Zlib:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it: what httpx accepts too)."""

    slice = 1024  # deflate expands at most about 1,032 to 1: a slice inflates to about a MiB at most

    def __init__(self, wbits: int, fallback: int | None = None) -> None:
        self._inflater, self._fallback, self._first = zlib.decompressobj(wbits), fallback, True

    def decompress(self, data: bytes) -> bytes:
        first, self._first = self._first, False
        try:
            return self._inflater.decompress(data)
        except zlib.error:
            if not (first and self._fallback is not None):
                raise
            self._inflater = zlib.decompressobj(self._fallback)
            return self._inflater.decompress(data)


class _Zstd:
    """zstd, frame after frame (what httpx's decoder does)."""

    slice = 32  # a 4-byte block can stand for 128 KiB: 32 bytes inflate to about a MiB at most

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._inflater = module.ZstdDecompressor().decompressobj()

    def decompress(self, data: bytes) -> bytes:
        out = self._inflater.decompress(data)
        if self._inflater.eof and self._inflater.unused_data:
            rest = self._inflater.unused_data
            self._inflater = self._module.ZstdDecompressor().decompressobj()
            out += self._inflater.decompress(rest)
        return out


def _stage(coding: str) -> Any:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _Zlib(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS)
    if coding == "zstd":
        try:
            return _Zstd(importlib.import_module("zstandard"))
        except ImportError:
            return None
    return None  # identity, or a coding the guard cannot inflate: counted as it comes


class _Counter:
    """Counts a body as the client decodes it and cuts it into pieces of bounded decoded size."""

    def __init__(self, guard: _Guard, headers: Any, decodable: frozenset[str]) -> None:
        codings = [
            value.strip().lower()
            for name, values in headers
            if name.lower() == b"content-encoding"
            for value in values.decode("latin-1").split(",")
        ]
        # Only what the client decodes, last applied first; a coding the guard cannot inflate makes
        # it count the bytes as they come (they are what that client would hand on, undecoded).
        stages = [_stage(c) for c in reversed(codings) if c in decodable and c != "identity"]
        self._guard = guard
        self._stages = [] if None in stages else stages

    def _expanded(self, data: bytes, depth: int = 0) -> int:
        if depth == len(self._stages):
            return len(data)
        stage = self._stages[depth]
        slices = (data[at : at + stage.slice] for at in range(0, len(data), stage.slice))
        return sum(self._expanded(stage.decompress(piece), depth + 1) for piece in slices)

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        """``chunk`` cut where its decoded size reaches about a MiB; raises past the ceiling before
        handing on the slice that crossed it."""
        if not self._stages:
            self._guard.count(len(chunk))
            yield chunk
            return
        step, start, pending = self._stages[0].slice, 0, 0
        for at in range(0, len(chunk), step):
            try:
                size = self._expanded(chunk[at : at + step])
            except Exception:  # a corrupt encoding: the client's decoder will say so; count as it comes
                self._stages = []
                size = len(chunk) - at
                self._guard.count(size)
                yield chunk[start:]
                return
            self._guard.count(size)
            pending += size
            if pending >= _PIECE:
                yield chunk[start : at + step]
                start, pending = at + step, 0
        if start < len(chunk):
            yield chunk[start:]


# --- the body, the pool and the network, sync and async ------------------------------------------


class _Body:
    def __init__(self, inner: Any, guard: _Guard, counter: _Counter) -> None:
        self._inner, self._guard, self._counter = inner, guard, counter

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                yield from self._counter.pieces(chunk)
        except self._guard.core.TimeoutException as exc:
            if self._guard.expired():
                raise self._guard.deadline_exceeded() from exc
            raise

    def close(self) -> None:
        self._inner.close()


class _AsyncBody(_Body):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                for piece in self._counter.pieces(chunk):
                    yield piece
        except self._guard.core.TimeoutException as exc:
            if self._guard.expired():
                raise self._guard.deadline_exceeded() from exc
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Network:
    """A network stream whose every operation waits no longer than the deadline leaves."""

    def __init__(self, inner: Any, guard: _Guard) -> None:
        self._inner, self._guard = inner, guard

    def _left(self, timeout: float | None, error: str) -> float:
        return self._guard.left(timeout, getattr(self._guard.core, error))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, "ReadTimeout"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, "WriteTimeout"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._left(timeout, "ConnectTimeout"))
        return type(self)(tls, self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncNetwork(_Network):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # type: ignore[override]
        return await self._inner.read(max_bytes, self._left(timeout, "ReadTimeout"))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # type: ignore[override]
        await self._inner.write(buffer, self._left(timeout, "WriteTimeout"))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(  # type: ignore[override]
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        tls = await self._inner.start_tls(ssl_context, server_hostname, self._left(timeout, "ConnectTimeout"))
        return type(self)(tls, self._guard)


class _Backend:
    """The pool's network backend, handing out guarded streams."""

    stream = _Network

    def __init__(self, inner: Any, guard: _Guard) -> None:
        self._inner, self._guard = inner, guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, **options: Any) -> Any:
        left = self._guard.left(timeout, self._guard.core.ConnectTimeout)
        return self.stream(self._inner.connect_tcp(host, port, left, **options), self._guard)

    def connect_unix_socket(self, path: str, timeout: float | None = None, **options: Any) -> Any:
        left = self._guard.left(timeout, self._guard.core.ConnectTimeout)
        return self.stream(self._inner.connect_unix_socket(path, left, **options), self._guard)

    def sleep(self, seconds: float) -> Any:
        return self._inner.sleep(seconds)


class _AsyncBackend(_Backend):
    stream = _AsyncNetwork

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, **options: Any) -> Any:  # type: ignore[override]
        left = self._guard.left(timeout, self._guard.core.ConnectTimeout)
        return self.stream(await self._inner.connect_tcp(host, port, left, **options), self._guard)

    async def connect_unix_socket(self, path: str, timeout: float | None = None, **options: Any) -> Any:  # type: ignore[override]
        left = self._guard.left(timeout, self._guard.core.ConnectTimeout)
        return self.stream(await self._inner.connect_unix_socket(path, left, **options), self._guard)


class _Pool:
    """The transport's connection pool: starts each request's clock and guards its body."""

    backend, body = _Backend, _Body

    def __init__(self, inner: Any, guard: _Guard, decodable: frozenset[str]) -> None:
        self._inner, self._guard, self._decodable = inner, guard, decodable
        inner._network_backend = self.backend(inner._network_backend, guard)

    def __getattr__(self, name: str) -> Any:  # close, __enter__, connections…: the pool's own
        return getattr(self._inner, name)

    def _guarded(self, response: Any) -> Any:
        names = {name.lower() for name, _ in response.headers}
        if not names & {b"content-length", b"transfer-encoding"}:
            response.extensions[CLOSE_DELIMITED] = True
        counter = _Counter(self._guard, response.headers, self._decodable)
        response.stream = self.body(response.stream, self._guard, counter)
        return response

    def handle_request(self, request: Any) -> Any:
        self._guard.begin()
        try:
            return self._guarded(self._inner.handle_request(request))
        except self._guard.core.TimeoutException as exc:
            if self._guard.expired():
                raise self._guard.deadline_exceeded() from exc
            raise


class _AsyncPool(_Pool):
    backend, body = _AsyncBackend, _AsyncBody

    async def handle_async_request(self, request: Any) -> Any:
        self._guard.begin()
        try:
            return self._guarded(await self._inner.handle_async_request(request))
        except self._guard.core.TimeoutException as exc:
            if self._guard.expired():
                raise self._guard.deadline_exceeded() from exc
            raise


def transport(
    library: str,
    limits: Limits,
    *,
    asynchronous: bool = False,
    verify: Any = True,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """The ``library``'s own ``HTTPTransport`` (``AsyncHTTPTransport``), so a recorder that patches it
    still records, with its pool guarded by ``limits``. ``library``: ``"httpx"`` or ``"httpx2"``."""
    if library not in _CORE:
        raise ValueError(f"no guarded transport for {library!r}; choose 'httpx' or 'httpx2'")
    module = importlib.import_module(library)
    decodable = frozenset(importlib.import_module(f"{library}._decoders").SUPPORTED_DECODERS)
    guard = _Guard(limits, importlib.import_module(_CORE[library]), clock)
    built = (module.AsyncHTTPTransport if asynchronous else module.HTTPTransport)(verify=verify)
    built._pool = (_AsyncPool if asynchronous else _Pool)(built._pool, guard, decodable)
    return built
