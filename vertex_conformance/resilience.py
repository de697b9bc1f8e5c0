"""Live runs that survive the real world: retries, timeouts and the ``infra`` verdict.

A live run meets rate limits, overloaded backends, dropped connections and stalled streams. None
of them says anything about conformance, so none may turn into a pass or a failure: they are
retried where a retry is safe, bounded in time everywhere, and what is left is classified
``infra`` with evidence (the last status and the start of its body).

What is retried (``RetryPolicy``):

- statuses 429 (RESOURCE_EXHAUSTED), 502, 503 (UNAVAILABLE) and 504 (DEADLINE_EXCEEDED): they
  say "not now", and a later identical request may succeed. 500 is not retried by default: Vertex
  answers some request shapes with a deterministic 500 INTERNAL, and repeating it spends quota for
  the same evidence. It is still classified ``infra``. Other 4xx are the server's verdict on the
  request and are never retried;
- a connection refused, reset or closed before the response started (before its status line and
  headers were complete: httpx gives no response object earlier, so that is the boundary). Once a
  response exists nothing is retried: a stream dropped half-way is evidence, classified ``infra``;
- not a read timeout: it already spent the whole read timeout, and a retry would double the wait.

Waits use full jitter (a random delay between 0 and the exponential cap) unless the server sent
``Retry-After`` (seconds or an HTTP date), which is honoured; every wait is capped by
``max_delay`` and by what is left of ``max_total_wait``, so a run never sleeps unboundedly.

The retry decisions are one ``RetryState`` shared by four transports: ``RetryTransport`` for plain
httpx, ``Httpx2RetryTransport`` for the openai SDK (openai >= 3 runs on httpx2; pass it as
``openai.DefaultHttpxClient(transport=...)``), and their async twins ``AsyncRetryTransport`` and
``Httpx2AsyncRetryTransport`` (``openai.DefaultAsyncHttpxClient``). ``retry_transport(library,
asynchronous=...)`` picks one by name.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any, ClassVar

import httpx
import httpx2
import openai

from .redaction import find_secrets
from .scrub import Scrubber

INFRA = "infra"
EVIDENCE_CHARS = 500
_ERROR_CHARS = 200
_LIBRARIES: dict[str, ModuleType] = {"httpx": httpx, "httpx2": httpx2}
# 408 (request timeout) and 429 (rate limit) are the only 4xx that say nothing about the request.
_INFRA_4XX = frozenset({408, 429})


# --- the policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``rng`` and ``clock`` are injectable for tests."""

    max_attempts: int = 4  # the first try included
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total_wait: float = 30.0  # all waits of one request together
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    rng: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        for name in ("base_delay", "max_delay", "max_total_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")
        bad = sorted(s for s in self.retry_statuses if s < 500 and s not in _INFRA_4XX)
        if bad:
            raise ValueError(f"retry_statuses may hold 408, 429 and 5xx only; {bad} judge the request")

    def delay(self, attempt: int, retry_after: str | None = None, waited: float = 0.0) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), ``waited`` seconds
        having been spent waiting already: ``Retry-After`` when it parses, else full jitter."""
        requested = parse_retry_after(retry_after, now=self.clock()) if retry_after else None
        if requested is None:
            requested = self.rng(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        return max(0.0, min(requested, self.max_delay, self.max_total_wait - waited))


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds from ``now`` (a delay or an HTTP date), or None when it is neither."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:  # an HTTP date is GMT; a date without a zone is malformed
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None


# --- the transports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One try of a request: its status or the exception it ended in, and the wait before it."""

    number: int
    status: int | None
    error: str | None
    waited: float

    def __str__(self) -> str:
        what = str(self.status) if self.status is not None else self.error
        return f"{what} (after waiting {self.waited:.2f} s)" if self.waited else str(what)


def describe_attempts(attempts: Iterable[Attempt]) -> str:
    """One line for a report: ``3 attempts: 503; 503 (after waiting 0.41 s); ...``."""
    attempts = list(attempts)
    noun = "attempt" if len(attempts) == 1 else "attempts"
    return f"{len(attempts)} {noun}: " + "; ".join(map(str, attempts))


def _short_error(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"


class RetryState:
    """The retry decisions for one request, whichever HTTP library (and sync or async) carries it.

    ``begin`` starts an attempt; each ``on_*`` call records it and returns the seconds to wait
    before the next one, or None to stop (return the response, or re-raise the exception)."""

    def __init__(self, policy: RetryPolicy, library: ModuleType, attempts: list[Attempt]) -> None:
        self.policy, self.attempts, self.waited, self._pause = policy, attempts, 0.0, 0.0
        self.number, self.response_started = 0, False
        self._retryable = (
            library.ConnectError,
            library.ConnectTimeout,
            library.ReadError,
            library.WriteError,
            library.RemoteProtocolError,
        )

    def begin(self) -> None:
        self.number += 1
        self.response_started = False

    def saw(self, event: str) -> None:
        """An httpcore trace event of the current attempt: note when the response headers are in."""
        if event.endswith("receive_response_headers.complete"):
            self.response_started = True

    def _next_pause(self, retry_after: str | None) -> float | None:
        if self.number >= self.policy.max_attempts or self.waited >= self.policy.max_total_wait:
            return None
        self._pause = self.policy.delay(self.number, retry_after, self.waited)
        self.waited += self._pause
        return self._pause

    def on_response(self, response: Any) -> float | None:
        self.attempts.append(Attempt(self.number, response.status_code, None, self._pause))
        if response.status_code not in self.policy.retry_statuses:
            return None
        return self._next_pause(response.headers.get("retry-after"))

    def on_error(self, exc: Exception) -> float | None:
        self.attempts.append(Attempt(self.number, None, _short_error(exc), self._pause))
        if self.response_started or not isinstance(exc, self._retryable):
            return None
        return self._next_pause(None)


@contextmanager
def _watching(request: Any, state: RetryState, asynchronous: bool) -> Iterator[None]:
    """Install an httpcore ``trace`` hook on ``request`` that tells ``state`` when the response
    headers are complete, passing every event on to the caller's own hook; put that back after.

    Under vcrpy's recorder the inner transport reads the whole body before it returns, so an error
    it raises may come from the middle of a stream: this is how the transport still tells "before
    the response" from "mid-stream"."""
    own = request.extensions.get("trace")

    def hook(name: str, info: dict[str, Any]) -> None:
        state.saw(name)
        if own is not None:
            own(name, info)

    async def async_hook(name: str, info: dict[str, Any]) -> None:
        state.saw(name)
        if own is not None:
            await own(name, info)

    request.extensions["trace"] = async_hook if asynchronous else hook
    try:
        yield
    finally:
        if own is None:
            request.extensions.pop("trace", None)
        else:
            request.extensions["trace"] = own


class _Retrying:
    """What the four transports share (``_library`` names httpx or httpx2).

    ``attempts`` lists every attempt of every request sent through the transport, in order: give
    each call its own transport for per-call evidence."""

    _library: ClassVar[ModuleType]

    def __init__(self, inner: Any, policy: RetryPolicy | None, sleep: Callable[[float], Any]) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.attempts: list[Attempt] = []
        self._sleep = sleep

    def _state(self) -> RetryState:
        return RetryState(self.policy, self._library, self.attempts)


class _SyncRetrying(_Retrying):
    def __init__(
        self,
        inner: Any = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        super().__init__(inner if inner is not None else self._library.HTTPTransport(), policy, sleep)

    def handle_request(self, request: Any) -> Any:
        request.read()  # a generator body could be sent once only; a retry needs it again
        state = self._state()
        with _watching(request, state, asynchronous=False):
            while True:
                state.begin()
                try:
                    response = self.inner.handle_request(request)
                except self._library.TransportError as exc:
                    if (pause := state.on_error(exc)) is None:
                        raise
                else:
                    if (pause := state.on_response(response)) is None:
                        return response
                    with suppress(self._library.TransportError):  # its body is not evidence
                        response.read()  # read to the end, so the connection goes back to the pool
                    response.close()
                self._sleep(pause)

    def close(self) -> None:
        self.inner.close()


class _AsyncRetrying(_Retrying):
    def __init__(
        self,
        inner: Any = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__(inner if inner is not None else self._library.AsyncHTTPTransport(), policy, sleep)

    async def handle_async_request(self, request: Any) -> Any:
        await request.aread()
        state = self._state()
        with _watching(request, state, asynchronous=True):
            while True:
                state.begin()
                try:
                    response = await self.inner.handle_async_request(request)
                except self._library.TransportError as exc:
                    if (pause := state.on_error(exc)) is None:
                        raise
                else:
                    if (pause := state.on_response(response)) is None:
                        return response
                    with suppress(self._library.TransportError):
                        await response.aread()
                    await response.aclose()
                await self._sleep(pause)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RetryTransport(_SyncRetrying, httpx.BaseTransport):
    """An httpx transport that retries what ``RetryPolicy`` says is safe (the raw httpx lane)."""

    _library = httpx


class Httpx2RetryTransport(_SyncRetrying, httpx2.BaseTransport):
    """The same over httpx2, for ``openai.DefaultHttpxClient(transport=...)`` (openai >= 3)."""

    _library = httpx2


class AsyncRetryTransport(_AsyncRetrying, httpx.AsyncBaseTransport):
    """The async httpx transport (``openai.DefaultAsyncHttpxClient`` of openai < 3)."""

    _library = httpx


class Httpx2AsyncRetryTransport(_AsyncRetrying, httpx2.AsyncBaseTransport):
    """The async httpx2 transport, for ``openai.DefaultAsyncHttpxClient(transport=...)`` (openai >= 3)."""

    _library = httpx2


AnyRetryTransport = RetryTransport | Httpx2RetryTransport | AsyncRetryTransport | Httpx2AsyncRetryTransport
_TRANSPORTS: dict[tuple[str, bool], type[AnyRetryTransport]] = {
    ("httpx", False): RetryTransport,
    ("httpx2", False): Httpx2RetryTransport,
    ("httpx", True): AsyncRetryTransport,
    ("httpx2", True): Httpx2AsyncRetryTransport,
}


def retry_transport(
    library: str = "httpx",
    inner: Any = None,
    policy: RetryPolicy | None = None,
    *,
    asynchronous: bool = False,
    sleep: Callable[[float], Any] | None = None,
) -> AnyRetryTransport:
    """The retrying transport for ``library`` (``"httpx"`` or ``"httpx2"``, as ``lanes.http_library()``
    names the one the installed SDK runs on), sync or async. ``sleep`` defaults to ``time.sleep``
    (``asyncio.sleep`` when async)."""
    if (library, asynchronous) not in _TRANSPORTS:
        raise ValueError(f"no retrying transport for {library!r}; choose 'httpx' or 'httpx2'")
    transport = _TRANSPORTS[library, asynchronous]
    default_sleep = asyncio.sleep if asynchronous else time.sleep
    return transport(inner, policy, sleep=sleep or default_sleep)


# --- timeouts and streams ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """``connect`` and ``read`` go to the HTTP client (``for_client``); ``read`` is also the stall
    timeout between two reads of a stream. ``stream`` caps a whole stream; it is checked as each
    piece arrives, so a stream ends within ``stream + read`` seconds at worst."""

    connect: float = 10.0
    read: float = 60.0
    stream: float = 300.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "stream"):
            if not getattr(self, name) > 0:
                raise ValueError(f"timeout {name} must be positive, not {getattr(self, name)}")

    def for_client(self, library: str = "httpx") -> Any:
        """The ``timeout=`` for an httpx (or httpx2) client: ``read`` for reads, writes and the pool."""
        return _LIBRARIES[library].Timeout(self.read, connect=self.connect)


class StreamInterrupted(Exception):
    """A stream ended early. ``partial_text`` is everything received before, kept as evidence."""

    def __init__(self, message: str, partial_text: str, elapsed: float) -> None:
        super().__init__(message)
        self.partial_text, self.elapsed = partial_text, elapsed


class StreamStalled(StreamInterrupted):
    """No byte arrived for the read timeout, or the whole stream outran its ceiling."""


class StreamDropped(StreamInterrupted):
    """The connection closed (or was reset) before the stream ended."""


def iter_text(
    response: Any, timeouts: Timeouts | None = None, *, clock: Callable[[], float] = time.monotonic
) -> Iterator[str]:
    """Yield the decoded text of an httpx/httpx2 ``response`` as it arrives, enforcing the stream
    ceiling; a read timeout becomes ``StreamStalled``, a closed connection ``StreamDropped``."""
    timeouts = timeouts or Timeouts()
    library = _LIBRARIES.get(type(response).__module__.split(".")[0], httpx)
    started, parts = clock(), []

    def interrupted(kind: type[StreamInterrupted], why: str) -> StreamInterrupted:
        elapsed = clock() - started
        return kind(f"{why} ({elapsed:.1f} s into the stream)", "".join(parts), elapsed)

    try:
        for part in response.iter_text():
            parts.append(part)
            if clock() - started > timeouts.stream:
                raise interrupted(StreamStalled, f"the stream ran past its {timeouts.stream} s ceiling")
            yield part
    except library.ReadTimeout as exc:
        raise interrupted(StreamStalled, f"no byte for {timeouts.read} s") from exc
    except (library.RemoteProtocolError, library.ReadError) as exc:
        raise interrupted(StreamDropped, f"the connection closed mid-stream ({_short_error(exc)})") from exc


# --- the verdict ---------------------------------------------------------------------------------

_INFRA_ERRORS: tuple[type[BaseException], ...] = (
    StreamInterrupted,
    openai.APIConnectionError,  # APITimeoutError included
    *(
        error
        for library in _LIBRARIES.values()
        for error in (library.TimeoutException, library.NetworkError, library.RemoteProtocolError)
    ),
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its explicit causes (``raise ... from``: how httpx and the SDK wrap a transport
    error). Not the implicit context: an error raised while handling a timeout is not a timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _status(subject: Any) -> int | None:
    """The HTTP status of a response, an ``Exchange``, an ``openai.APIStatusError`` or a bare int."""
    if isinstance(subject, int) and not isinstance(subject, bool):
        return subject
    for name in ("status_code", "status"):
        value = getattr(subject, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _infra_status(status: int | None) -> bool:
    return status is not None and (status in _INFRA_4XX or status >= 500)


def classify(subject: Any) -> str | None:
    """``"infra"`` when ``subject`` (a response, an ``Exchange``, a status or an exception) is a
    rate limit, a server error, a timeout or a dropped connection; None when it is conformance
    evidence (any other status, a malformed body, an error of the harness itself)."""
    if isinstance(subject, BaseException):
        if any(_infra_status(_status(e)) or isinstance(e, _INFRA_ERRORS) for e in _chain(subject)):
            return INFRA
        return None
    return INFRA if _infra_status(_status(subject)) else None


def _body(subject: Any) -> str | None:
    for holder in (subject, getattr(subject, "response", None)):  # APIStatusError keeps .response
        if holder is None:
            continue
        if isinstance(getattr(holder, "body_text", None), str):  # an Exchange
            return holder.body_text
        if isinstance(getattr(holder, "stream_text", None), str):
            return holder.stream_text
        try:
            text = holder.text
        except (httpx.ResponseNotRead, httpx2.ResponseNotRead):
            return "(body not read)"
        except AttributeError:
            continue
        if isinstance(text, str):
            return text
    return None


def evidence(subject: Any, secrets: Scrubber | Iterable[str] = ()) -> str:
    """A short account of ``subject`` for the report: the status and up to 500 characters of the
    body, or the exception (with its partial stream size). The run's ``secrets`` (a Scrubber, or
    project ids) become their placeholders; an excerpt that still holds a credential is withheld."""
    scrubber = Scrubber.of(secrets)
    if isinstance(subject, StreamInterrupted):
        text = f"{type(subject).__name__}: {subject} ({len(subject.partial_text)} characters received)"
    elif isinstance(subject, BaseException) and _status(subject) is None:
        text = " <- ".join(_short_error(e) for e in _chain(subject))
    else:  # the body is scrubbed before it is cut: the cut could leave half a value unrecognised
        status, body = _status(subject), scrubber.scrub(_body(subject) or "")
        text = f"HTTP {status}" + (f": {' '.join(body.split())[:EVIDENCE_CHARS]}" if body else "")
    text = scrubber.scrub(text)
    kinds = find_secrets(text)
    return f"(evidence withheld: it held {' and '.join(kinds)})" if kinds else text
