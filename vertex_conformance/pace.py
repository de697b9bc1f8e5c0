"""The pace of a live run: how many requests each target takes at once, and backing off when it says
"too many" (AIMD, as TCP does with its congestion window).

A target is a model at a location (``google/gemini-3.5-flash @ us-central1``; a self-deployed model
is ``endpoints/<id> @ <location>``): Vertex's quotas are per model and region, so a 429 from one
says nothing about another. Each target has a limit on requests in flight, starting at the run's
concurrency (``--concurrency``, else ``DEFAULT_CONCURRENCY``), which is also its maximum:

- a 429 halves the limit (not below 1), at most once per window: a window opens at each halving,
  and a 429 to an attempt that started before it is an echo of the burst that already halved it
  (the requests were in flight together), so a burst of them halves once, not down to 1;
- ``Retry-After`` (seconds or an HTTP date) pauses the target: no attempt to it starts before the
  time the server named (capped by ``max_pause``, the run's ``--max-retry-wait``: past that the
  retrying transport gives the request up as infra anyway, and the rest of the run must go on);
- after a run of ``limit`` consecutive successes (2xx) the limit grows by one, up to the maximum.

Every retrying transport of ``resilience`` takes each attempt through ``send``/``asend``: the
attempt holds a slot of its target from before it is sent until its response is closed (a stream
holds it while it streams), and its status feeds the limit. With no registry configured
(``configure``: a live or record run makes one; a replay, which has no pace to keep, does not; nor
do self-tests that use the transports alone), ``send`` only sends.

Waits are counted per attempt: for a free slot, for a pause, and for a retried 429 from its answer
on (the transport's own back-off included), so ``waited_s`` is request-seconds spent not sending.

The registry is process-wide (every lane's transport is built deep inside a lane, far from the
run's configuration) and thread-safe; each pytest-xdist worker has its own, and ``merge`` joins the
workers' figures (and shards'): counts and waits add up, and the concurrency timelines add up as
step functions on the wall clock, so the merged timeline is the target's effective concurrency over
the whole run, across processes and machines.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_PAUSE = 30.0  # RunConfig.max_retry_wait's default
RATE_LIMITED = 429
_POLL = 0.05  # seconds between looks at a paused target or a full one, at most
_LOCATION = re.compile(r"/locations/([^/]+)/")
_ENDPOINT = re.compile(r"/endpoints/([^/]+)/")
_NAME_CHARS = 200  # of a model name taken from a body: a key, not a dump of odd input
_LIMITED_AT = "vertex_conformance.pace.rate_limited_at"  # a request's extension: when its 429 came


def target_of(path: str, content: bytes) -> str:
    """The target of a request from its URL path and body: ``<model> @ <location>``, ``?`` for a
    part it does not name. Never raises: odd input is a key like any other."""
    location = _LOCATION.search(path)
    endpoint = _ENDPOINT.search(path)
    if endpoint and endpoint.group(1) != "openapi":
        model = f"endpoints/{endpoint.group(1)}"
    else:
        model = _model(content) or "?"
    return f"{model[:_NAME_CHARS]} @ {location.group(1) if location else '?'}"


def _model(content: bytes) -> str | None:
    if b'"model"' not in content:  # most bodies are small, but an inline image need not be parsed
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None


class Ticket:
    """One attempt's slot: report its answer with ``answered``, give the slot back with ``release``
    (idempotent: the response's close and its finalizer may both call it)."""

    def __init__(self, limiter: Limiter, window: int) -> None:
        self.limiter, self.window, self.released = limiter, window, False

    def answered(self, status: int, retry_after: str | None) -> None:
        if status == RATE_LIMITED:
            self.limiter.on_rate_limited(retry_after, window=self.window)
        elif 200 <= status < 300:
            self.limiter.on_success()

    def release(self) -> None:
        self.limiter.release(self)


class Limiter:
    """One target's limit on requests in flight, its pause, and its figures for the report."""

    def __init__(
        self,
        maximum: int,
        *,
        clock: Callable[[], float],
        wall: Callable[[], float],
        max_pause: float,
        started_at: float,
    ) -> None:
        self.maximum, self.limit = maximum, maximum
        self._clock, self._wall, self._max_pause = clock, wall, max_pause
        self._cond = threading.Condition(threading.RLock())  # RLock: a finalizer may release mid-section
        self.in_flight = self.peak_in_flight = self.rate_limited = 0
        self.waited = 0.0
        self.paused_until = float("-inf")
        self._window = self._successes = 0
        self._start = clock()
        self._started_at = started_at  # wall-clock time of self._start
        self._timeline: list[list[float]] = [[0.0, maximum]]

    def now(self) -> float:
        return self._clock()

    # slots

    def _free(self, now: float) -> bool:
        return now >= self.paused_until and self.in_flight < self.limit

    def _take(self, began: float) -> Ticket:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.waited += max(0.0, self._clock() - began)
        return Ticket(self, self._window)

    def _wait_for(self, now: float) -> float:
        """Seconds to wait before looking again: until the pause ends, else until notified."""
        return max(0.0, min(self.paused_until - now, _POLL)) if now < self.paused_until else _POLL

    def acquire(self, since: float | None = None) -> Ticket:
        """Block until the target is not paused and has a free slot; ``since``: when the request
        began waiting (its 429), if earlier than now, so its whole wait is counted."""
        with self._cond:
            began = self._clock() if since is None else since
            while not self._free(now := self._clock()):
                self._cond.wait(self._wait_for(now))
            return self._take(began)

    async def acquire_async(self, since: float | None = None) -> Ticket:
        """``acquire`` for a coroutine: it looks again after short sleeps instead of blocking its
        event loop (the registry is shared with threads, which a loop's own primitives cannot wait on)."""
        import asyncio

        began = self._clock() if since is None else since
        while True:
            with self._cond:
                now = self._clock()
                if self._free(now):
                    return self._take(began)
                pause = self._wait_for(now)
            await asyncio.sleep(pause)

    def release(self, ticket: Ticket) -> None:
        with self._cond:
            if not ticket.released:
                ticket.released = True
                self.in_flight -= 1
                self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[Ticket]:
        ticket = self.acquire()
        try:
            yield ticket
        finally:
            ticket.release()

    @asynccontextmanager
    async def aslot(self) -> AsyncIterator[Ticket]:
        ticket = await self.acquire_async()
        try:
            yield ticket
        finally:
            ticket.release()

    # adapting

    def _set(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self._timeline.append([round(self._clock() - self._start, 3), limit])
            self._cond.notify_all()

    def on_rate_limited(self, retry_after: str | None = None, *, window: int | None = None) -> None:
        """A 429: halve the limit unless this window already did (``window``: the one the attempt
        started in; None: the current one), and pause the target for its ``Retry-After``."""
        from .resilience import parse_retry_after  # loaded by then: only its transports call this

        with self._cond:
            self.rate_limited += 1
            self._successes = 0
            if window is None or window == self._window:
                self._window += 1
                self._set(max(1, self.limit // 2))
            seconds = parse_retry_after(retry_after, now=self._wall()) if retry_after else None
            if seconds:
                until = self._clock() + min(seconds, self._max_pause)
                self.paused_until = max(self.paused_until, until)

    def on_success(self) -> None:
        """A 2xx: after ``limit`` of them in a row, one more slot (up to the maximum)."""
        with self._cond:
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self._set(min(self.maximum, self.limit + 1))

    def stats(self) -> dict[str, Any]:
        """The report's figures: 429s, seconds attempts waited (for a slot or a pause), the limit
        at each change (seconds since ``started_at``) and the most attempts in flight at once."""
        with self._cond:
            return {
                "started_at": _iso(self._started_at),
                "rate_limited": self.rate_limited,
                "waited_s": round(self.waited, 3),
                "concurrency": [list(point) for point in self._timeline],
                "peak_in_flight": self.peak_in_flight,
            }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


class Pace:
    """The run's limiters, one per target, made on first use with ``concurrency`` slots."""

    def __init__(
        self,
        concurrency: int = DEFAULT_CONCURRENCY,
        *,
        max_pause: float = DEFAULT_MAX_PAUSE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError(f"concurrency must be a whole number of at least 1, not {concurrency!r}")
        self.concurrency, self.max_pause = concurrency, max_pause
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._limiters: dict[str, Limiter] = {}

    def limiter(self, target: str) -> Limiter:
        with self._lock:
            found = self._limiters.get(target)
            if found is None:
                found = self._limiters[target] = Limiter(
                    self.concurrency,
                    clock=self._clock,
                    wall=self._wall,
                    max_pause=self.max_pause,
                    started_at=self._wall(),
                )
            return found

    def for_request(self, request: Any) -> Limiter:
        """The limiter of an httpx (or httpx2) request's target; its body must have been read."""
        try:
            path, content = str(request.url.path), bytes(request.content)
        except Exception:  # a request of odd make still gets a target: the "?" one
            path, content = "", b""
        return self.limiter(target_of(path, content))

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            limiters = dict(self._limiters)
        return {target: limiter.stats() for target, limiter in sorted(limiters.items())}


_registry: Pace | None = None


def configure(registry: Pace | None) -> None:
    """Make ``registry`` the one every retrying transport of this process obeys (None: none)."""
    global _registry
    _registry = registry


def current() -> Pace | None:
    return _registry


def from_config(cfg: Any) -> Pace:
    """The run's registry: ``cfg.concurrency`` slots per target where the configuration has that
    setting (else the default), pauses capped by its ``--max-retry-wait``."""
    concurrency = getattr(cfg, "concurrency", None) or DEFAULT_CONCURRENCY
    return Pace(concurrency, max_pause=getattr(cfg, "max_retry_wait", DEFAULT_MAX_PAUSE))


# --- what the retrying transports call -----------------------------------------------------------


def send(handle: Callable[[Any], Any], request: Any) -> Any:
    """``handle(request)`` (one attempt) inside a slot of the request's target; the slot is held
    until the response is closed, and its status feeds the target's limit."""
    registry = _registry
    if registry is None:
        return handle(request)
    ticket = registry.for_request(request).acquire(request.extensions.pop(_LIMITED_AT, None))
    try:
        response = handle(request)
    except BaseException:
        ticket.release()
        raise
    return _held(response, request, ticket, asynchronous=False)


async def asend(handle: Callable[[Any], Awaitable[Any]], request: Any) -> Any:
    """``send`` for the async transports."""
    registry = _registry
    if registry is None:
        return await handle(request)
    limiter = registry.for_request(request)
    ticket = await limiter.acquire_async(request.extensions.pop(_LIMITED_AT, None))
    try:
        response = await handle(request)
    except BaseException:
        ticket.release()
        raise
    return _held(response, request, ticket, asynchronous=True)


def _held(response: Any, request: Any, ticket: Ticket, *, asynchronous: bool) -> Any:
    """Report the answer, and tie the slot to the response: released when it is closed (or, should
    nobody close it, when it is collected)."""
    ticket.answered(response.status_code, response.headers.get("retry-after"))
    if response.status_code == RATE_LIMITED:  # its retry's wait counts from now
        request.extensions[_LIMITED_AT] = ticket.limiter.now()
    wrapper = _wrapper(response.stream, asynchronous)
    if wrapper is None:  # a stream of no library this knows: give the slot back now
        ticket.release()
        return response
    response.stream = wrapper(response.stream, ticket)
    weakref.finalize(response, ticket.release)
    return response


class _HeldStream:
    def __init__(self, inner: Any, ticket: Ticket) -> None:
        self._inner, self._ticket = inner, ticket

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._ticket.release()


class _AsyncHeldStream(_HeldStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._ticket.release()


@functools.cache
def _wrappers() -> dict[tuple[Any, bool], type]:
    """The stream wrappers per HTTP library, sync and async: httpx's responses accept only streams
    of their own library's base classes. Made on first use: the report's readers (``merge``,
    ``summary``) must not import an HTTP stack."""
    import httpx
    import httpx2

    made: dict[tuple[Any, bool], type] = {}
    for library in (httpx, httpx2):
        name = library.__name__.capitalize()
        sync, asynchronous = library.SyncByteStream, library.AsyncByteStream
        made[sync, False] = type(f"Held{name}Stream", (_HeldStream, sync), {})
        made[asynchronous, True] = type(f"AsyncHeld{name}Stream", (_AsyncHeldStream, asynchronous), {})
    return made


def _wrapper(stream: Any, asynchronous: bool) -> type | None:
    for (base, is_async), wrapper in _wrappers().items():
        if is_async is asynchronous and isinstance(stream, base):
            return wrapper
    return None


# --- the report ----------------------------------------------------------------------------------


def merge(parts: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One run's figures from its processes' (xdist workers) or shards': per target, the 429s and
    the seconds waited summed, the peaks summed (each part's own peak: the run's is at most that),
    and the timelines added as step functions on the wall clock from the earliest start."""
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for part in parts:
        for target, figures in part.items():
            by_target.setdefault(target, []).append(figures)
    return {target: _merged(figures) for target, figures in sorted(by_target.items())}


def _merged(figures: list[Mapping[str, Any]]) -> dict[str, Any]:
    if len(figures) == 1:
        return dict(figures[0])
    starts = [datetime.fromisoformat(f["started_at"]).timestamp() for f in figures]
    origin = min(starts)
    changes = sorted(
        (round(start - origin + t, 3), index, limit)
        for index, (start, f) in enumerate(zip(starts, figures, strict=True))
        for t, limit in f["concurrency"]
    )
    current = [0] * len(figures)
    timeline: list[list[float]] = []
    for moment, index, limit in changes:
        current[index] = limit
        if timeline and timeline[-1][0] == moment:
            timeline[-1][1] = sum(current)
        elif not timeline or timeline[-1][1] != sum(current):
            timeline.append([moment, sum(current)])
    return {
        "started_at": _iso(origin),
        "rate_limited": sum(f["rate_limited"] for f in figures),
        "waited_s": round(sum(f["waited_s"] for f in figures), 3),
        "concurrency": timeline,
        "peak_in_flight": sum(f["peak_in_flight"] for f in figures),
    }


def summary(figures: Mapping[str, Mapping[str, Any]]) -> str | None:
    """``429s: n, waited x s`` over every target, when a 429 came at all."""
    count = sum(f["rate_limited"] for f in figures.values())
    if not count:
        return None
    return f"429s: {count}, waited {sum(f['waited_s'] for f in figures.values()):.1f} s"
