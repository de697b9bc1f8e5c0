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
``max_delay`` and by what is left of ``max_total_wait``, so a run never sleeps unboundedly. A
``Retry-After`` longer than what is left of ``max_total_wait`` (``--max-retry-wait``) is not
retried at all: retrying sooner than the server asked spends an attempt on a certain refusal, so
the answer goes back at once and the attempt says why (infra).

What ends an answer below HTTP is classified once, here, for every lane (``transport_fault``): a
timeout (connect, read, the whole response), a reset, a body shorter than its ``content-length``,
a chunked body never terminated, a connection closed before the answer's end, an answer past
``--max-response-bytes``. It reads the exception chain by type (the SDK's ``APITimeoutError`` and
``APIConnectionError``, httpx's and httpx2's exceptions, the guard's limits), never its text, and
says what arrived, where it stopped and which limit ended it.

The retry decisions are one ``RetryState`` shared by four transports: ``RetryTransport`` for plain
httpx, ``Httpx2RetryTransport`` for the openai SDK (openai >= 3 runs on httpx2; pass it as
``openai.DefaultHttpxClient(transport=...)``), and their async twins ``AsyncRetryTransport`` and
``Httpx2AsyncRetryTransport`` (``openai.DefaultAsyncHttpxClient``). ``retry_transport(library,
asynchronous=...)`` picks one by name. Each attempt takes a slot of its target (``pace``: the run's
limit on requests in flight per model and location, which a 429 halves) and tells it how it went.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any, ClassVar

import httpx
import httpx2
import openai

from . import pace
from .error_excerpt import error_excerpt
from .guard import LimitExceeded
from .redaction import find_secrets
from .scrub import Scrubber

INFRA = "infra"
EVIDENCE_CHARS = 500
_ERROR_CHARS = 200
_TAIL_CHARS = 120  # of what arrived last, in a transport fault's evidence
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
    """One try of a request: its status or the exception it ended in, the wait before it, and why
    no further try followed when the policy stopped early (``gave_up``)."""

    number: int
    status: int | None
    error: str | None
    waited: float
    gave_up: str | None = None

    def __str__(self) -> str:
        what = str(self.status) if self.status is not None else str(self.error)
        if self.waited:
            what += f" (after waiting {self.waited:.2f} s)"
        return f"{what} (not retried: {self.gave_up})" if self.gave_up else what


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
        attempt = Attempt(self.number, response.status_code, None, self._pause)
        if response.status_code not in self.policy.retry_statuses:
            self.attempts.append(attempt)
            return None
        retry_after = response.headers.get("retry-after")
        asked = parse_retry_after(retry_after, now=self.policy.clock()) if retry_after else None
        left = self.policy.max_total_wait - self.waited
        if asked is not None and asked > left and self.number < self.policy.max_attempts:
            why = f"Retry-After asks {asked:g} s, more than the {left:g} s --max-retry-wait leaves"
            self.attempts.append(replace(attempt, gave_up=why))
            return None
        self.attempts.append(attempt)
        return self._next_pause(retry_after)

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
                    response = pace.send(self.inner.handle_request, request)  # in its target's slot
                except (self._library.TransportError, LimitExceeded) as exc:
                    if (pause := state.on_error(exc)) is None:
                        raise
                else:
                    if (pause := state.on_response(response)) is None:
                        return response
                    with suppress(self._library.TransportError, LimitExceeded):  # its body is not evidence
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
                    response = await pace.asend(self.inner.handle_async_request, request)
                except (self._library.TransportError, LimitExceeded) as exc:
                    if (pause := state.on_error(exc)) is None:
                        raise
                else:
                    if (pause := state.on_response(response)) is None:
                        return response
                    with suppress(self._library.TransportError, LimitExceeded):
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
    timeout between two reads of a stream. ``stream`` is the wall-clock deadline on a whole
    response, from the request on (``--stream-timeout``): the lanes' transports enforce it
    (``guard``), below any recorder, so it holds in every lane and mode."""

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


# --- what ended an answer below HTTP ------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """What had arrived when an answer broke off: its status and headers (none when no response
    started), the bytes received as the lane counts them, the seconds since the request, and the
    last text to arrive."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    received: int = 0
    elapsed: float | None = None
    tail: str = ""

    def __str__(self) -> str:
        if self.status is None:
            return "no response"
        where = f"HTTP {self.status}, {self.received} bytes"
        where += f" in {self.elapsed:.2f} s" if self.elapsed is not None else ""
        tail = " ".join(self.tail.split())[-_TAIL_CHARS:]
        return where + (f"; the last to arrive: {tail!r}" if tail else "")


def _limited(what: str, timeouts: Timeouts | None, name: str, option: str) -> str:
    return f"{what} {getattr(timeouts, name):g} s ({option})" if timeouts else f"{what} {option}"


def _fault(exc: BaseException, arrival: Arrival, timeouts: Timeouts | None) -> str | None:
    """What ``exc`` (one link of a chain) says ended the answer, or None when it says nothing."""
    libraries = tuple(_LIBRARIES.values())
    if isinstance(exc, LimitExceeded):
        return str(exc)
    if any(isinstance(exc, lib.ConnectTimeout) for lib in libraries):
        return _limited("no connection within", timeouts, "connect", "--connect-timeout")
    if any(isinstance(exc, lib.ReadTimeout) for lib in libraries):
        return _limited("no byte for", timeouts, "read", "--read-timeout")
    if any(isinstance(exc, lib.TimeoutException) for lib in libraries):
        return _limited("the request could not be sent or queued within", timeouts, "read", "--read-timeout")
    if any(isinstance(exc, lib.ConnectError) for lib in libraries):
        return "no connection"
    if any(isinstance(exc, lib.DecodingError) for lib in libraries):
        return "the body's content-encoding could not be decoded"
    if any(isinstance(exc, (lib.NetworkError, lib.RemoteProtocolError)) for lib in libraries):
        reset = any(isinstance(e, ConnectionResetError) for e in _origins(exc))
        if arrival.status is None:
            return f"the connection was {'reset' if reset else 'closed'} before a response"
        if reset:
            return "the connection was reset mid-answer"
        if "content-length" in arrival.headers:
            return f"the body ended short of its content-length ({arrival.headers['content-length']} bytes)"
        if "chunked" in arrival.headers.get("transfer-encoding", "").lower():
            return "the connection closed before the chunked body's last chunk (never terminated)"
        return "the connection closed mid-answer"
    if isinstance(exc, openai.APITimeoutError):
        return "the SDK timed out"
    if isinstance(exc, openai.APIConnectionError) and _from_the_network(exc):
        return "the SDK lost the connection"
    return None


def _from_the_network(exc: BaseException) -> bool:
    """Whether an SDK connection error comes from the network: older SDKs wrap ANY exception raised
    while sending (a harness bug too) as ``APIConnectionError``; only one caused by an HTTP
    library's transport error or an OS socket error is a network fault."""
    network = tuple(
        kind
        for lib in _LIBRARIES.values()
        for kind in (lib.TimeoutException, lib.NetworkError, lib.RemoteProtocolError)
    )
    return any(isinstance(e, (*network, OSError, LimitExceeded)) for e in _origins(exc) if e is not exc)


def transport_fault(
    exc: BaseException, arrival: Arrival | None = None, timeouts: Timeouts | None = None
) -> str | None:
    """The one classification of what ended an answer below HTTP, for every lane: one line naming
    the fault and the limit that ended it, what had arrived and the exceptions (``infra``); None
    when ``exc`` is no transport fault (a malformed event the SDK choked on, a harness error).

    The chain of causes is read by type, innermost first, so the SDK's ``APITimeoutError`` says
    what its cause, an httpx2 ``ReadTimeout``, says; a guard's limit wins wherever it sits."""
    arrival = arrival or Arrival()
    chain = list(_chain(exc))
    limits = [e for e in chain if isinstance(e, LimitExceeded)]
    found = next((what for e in [*limits, *reversed(chain)] if (what := _fault(e, arrival, timeouts))), None)
    if found is None:
        return None
    causes = " <- ".join(dict.fromkeys(_short_error(e) for e in chain))  # each library repeats it
    return f"{found}; {arrival}; {causes}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its explicit causes (``raise ... from``: how httpx and the SDK wrap a transport
    error). Not the implicit context: an error raised while handling a timeout is not a timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _origins(exc: BaseException) -> Iterator[BaseException]:
    """Where a library error came from: its causes, and the OS error it wraps (httpcore keeps that
    as the context and the argument of its ``ReadError``, not always as the cause)."""
    for link in _chain(exc):
        yield link
        yield from (e for e in (link.__context__, *link.args) if isinstance(e, BaseException))


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
        if transport_fault(subject) or any(_infra_status(_status(e)) for e in _chain(subject)):
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
    """A short account of ``subject`` for the report: the status and an excerpt of the body (a Google
    error's status and message, else its head and tail: ``error_excerpt``), or the exception (what
    ``transport_fault`` says of it, else its chain). The run's ``secrets`` (a Scrubber, or project
    ids) become their placeholders; an excerpt that still holds a credential is withheld."""
    scrubber = Scrubber.of(secrets)
    if isinstance(subject, BaseException) and _status(subject) is None:
        text = transport_fault(subject) or " <- ".join(_short_error(e) for e in _chain(subject))
    else:  # the body is scrubbed before it is cut: the cut could leave half a value unrecognised
        status, body = _status(subject), scrubber.scrub(_body(subject) or "")
        text = f"HTTP {status}" + (f": {error_excerpt(body, EVIDENCE_CHARS)}" if body else "")
    text = scrubber.scrub(text)
    kinds = find_secrets(text)
    return f"(evidence withheld: it held {' and '.join(kinds)})" if kinds else text
