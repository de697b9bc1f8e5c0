"""Lanes: the clients that send a case's request and turn what happened into an ``Exchange``.

``httpx`` sends the body as given and keeps the bytes it received: the lane that sees the wire.
``sdk`` drives the ``openai`` SDK the way its users do (``base_url`` ending in ``endpoints/...``,
the token as ``api_key``, non-OpenAI body keys through ``extra_body=``) and keeps both the wire
traffic (a tee on the SDK's own HTTP client) and what the SDK's typed objects held; ``sdk-async``
does the same with ``openai.AsyncOpenAI``. Every lane yields the same kind of exchange, so every
check serves them all.

The SDK lanes work with both SDK generations: openai 1.x/2.x (on ``httpx``) and openai 3.x (on
``httpx2``); ``http_library()`` says which one a run used.

Every lane builds its transport the same way: the HTTP library's own transport guarded by the
call's limits (``guard``: the deadline and the decoded size, enforced below any recorder), under
the retrying transport (``resilience``), with the bearer auth that refreshes once after a 401. An
answer that does not arrive whole raises ``TransportError`` with ``resilience.transport_fault``'s
one line, whatever the lane and whatever its client made of the part that did arrive: a timeout,
a reset or a body cut short is never judged, in no lane.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openai

from . import guard, resilience
from .auth import TokenSource, bearer_auth
from .config import ConfigError
from .exchange import Exchange, WireRequest, decode_utf8
from .redaction import redact_headers
from .resilience import Arrival, Attempt, RetryPolicy, Timeouts

REPLAY_TOKEN = "replay-no-credentials"  # replay sends a bearer header of the right shape, never a real token
_OMIT = getattr(openai, "omit", openai.NOT_GIVEN)  # `omit` is newer than openai 1.x's NOT_GIVEN
_ERROR_CHARS = 300
_TAIL_BYTES = 400  # of the last bytes to arrive, for a transport fault's evidence


class TransportError(Exception):
    """No whole answer came back: no connection, a timeout, a reset, a body cut short, an answer past
    a limit. The message is ``resilience.transport_fault``'s line with the attempts (infra)."""


@dataclass(frozen=True)
class Call:
    """One request to make: the base URL the SDK would be given, the JSON body for the wire, and how
    patient to be (timeouts, retries of 429/5xx and of connections that fail before any byte)."""

    base_url: str
    body: dict[str, Any]
    parse_with: type | None = None  # SDK lanes: call ``parse(response_format=<this Pydantic model>)``
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int = guard.DEFAULT_MAX_BYTES
    content: bytes | None = None  # the exact bytes to send, not ``body`` serialised (a client's, relayed)
    replay_from: Path | None = None  # client lanes in replay: the raw lane's cassette the gateway answers

    @property
    def limits(self) -> guard.Limits:
        """What the lane's transport holds every answer to: the whole-response deadline
        (``timeouts.stream``) and the decoded size."""
        return guard.Limits(self.timeouts.stream, self.max_response_bytes)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))


def _wire_request(method: str, url: Any, headers: Any, content: bytes) -> WireRequest:
    return WireRequest(method, str(url), redact_headers(dict(headers)), content.decode("utf-8", "replace"))


def _response_headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in redact_headers(dict(headers)).items()}


def check_tls() -> None:
    """Build the TLS contexts up front: an unreadable SSL_CERT_FILE or SSL_CERT_DIR is one line
    before any test (``ConfigError``), not a traceback in the first request."""
    for library in ("httpx", "httpx2"):
        try:
            _tls(library)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"the TLS trust store could not be read ({exc}): check SSL_CERT_FILE and SSL_CERT_DIR"
            ) from None


@cache
def _tls(library: str) -> Any:
    """One verifying TLS context per HTTP library for the whole run (building one costs tens of
    milliseconds; every call makes a client). It honours SSL_CERT_FILE / SSL_CERT_DIR like the
    libraries' own default, and verification is never turned off."""
    return importlib.import_module(library).create_ssl_context(trust_env=True)


class _Clock:
    """Time to the response headers, to the first body bytes and to the end, from the request on:
    the live latency record (meaningless under a recorder, which buffers whole answers)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.figures: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.figures.setdefault(name, round(time.monotonic() - self.started, 4))


def _notes(exchange: Exchange, clock: _Clock, attempts: list[Attempt]) -> None:
    clock.mark("total_s")
    exchange.notes["timing"] = clock.figures
    if len(attempts) > 1 or any(a.gave_up for a in attempts):
        exchange.notes["attempts"] = resilience.describe_attempts(attempts)


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items()}


def _arrival(response: Any, received: bytes | bytearray, clock: _Clock) -> Arrival:
    """What had arrived of ``response`` (None: no response started) when it broke off."""
    if response is None:
        return Arrival(elapsed=round(time.monotonic() - clock.started, 2))
    return Arrival(
        status=response.status_code,
        headers=_lower(response.headers),
        received=len(received),
        elapsed=round(time.monotonic() - clock.started, 2),
        tail=bytes(received[-_TAIL_BYTES:]).decode("utf-8", "replace"),
    )


def _fault(
    exc: BaseException, arrival: Arrival, call: Call, attempts: list[Attempt]
) -> TransportError | None:
    """``exc`` as the lane's ``TransportError`` when it is a transport fault (None otherwise)."""
    line = resilience.transport_fault(exc, arrival, call.timeouts)
    return None if line is None else TransportError(f"{line} ({resilience.describe_attempts(attempts)})")


def _credentials(exc: BaseException) -> ConfigError | None:
    """A credential failure (a refresh that failed mid-run) that the SDK let through: it ends the
    run, it is no finding about the SDK."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ConfigError):
        seen = seen.__cause__
    return seen


def run_httpx(call: Call, tokens: TokenSource | None) -> Exchange:
    """Send ``call`` with plain httpx and keep the answer exactly as it came off the wire (decoded
    from its content-encoding, then from UTF-8 as a client decodes it)."""
    auth = bearer_auth("httpx", tokens) if tokens is not None else None
    headers = {} if auth is not None else {"authorization": f"Bearer {REPLAY_TOKEN}"}
    inner = guard.transport("httpx", call.limits, verify=_tls("httpx"))
    transport = resilience.RetryTransport(inner, call.retry)
    clock, received, response = _Clock(), bytearray(), None
    try:
        with (
            httpx.Client(
                auth=auth, timeout=call.timeouts.for_client(), headers=headers, transport=transport
            ) as client,
            client.stream("POST", call.url, **_payload(call)) as response,
        ):
            clock.mark("ttfb_s")
            for part in response.iter_bytes():
                clock.mark("first_chunk_s")
                received.extend(part)
            request = response.request
            exchange = Exchange(
                request=_wire_request(request.method, request.url, request.headers, request.content),
                status=response.status_code,
                headers=_response_headers(response.headers),
                lane="httpx",
            )
    except Exception as exc:
        if (error := _fault(exc, _arrival(response, received, clock), call, transport.attempts)) is not None:
            raise error from exc
        raise
    _notes(exchange, clock, transport.attempts)
    attach_body(exchange, call, bytes(received))
    _closed_before_done(exchange, response, _arrival(response, received, clock), transport.attempts)
    return exchange


def _payload(call: Call) -> dict[str, Any]:
    """What httpx sends: the relayed bytes as they are (with their JSON content type), else the body."""
    if call.content is None:
        return {"json": call.body}
    return {"content": call.content, "headers": {"content-type": "application/json"}}


def attach_body(exchange: Exchange, call: Call, data: bytes) -> None:
    """A successful answer to a streamed request is judged as a stream whatever its content type (a
    JSON answer then fails the stream checks, as it should); anything else as a body. Bytes that
    are not UTF-8 are decoded as a client decodes them and kept as evidence (``undecodable``)."""
    text, exchange.undecodable = decode_utf8(data)
    if call.streamed and 200 <= exchange.status < 300:
        exchange.stream_text = text
    else:
        exchange.body_text = text


def _closed_before_done(exchange: Exchange, response: Any, arrival: Arrival, attempts: list[Attempt]) -> None:
    """A stream with neither a content-length nor chunked framing ends where the connection closes
    (HTTP/1.1 close-delimited): ended before ``[DONE]``, it was cut off as far as anyone can tell,
    so it is a transport fault, not a stream without ``[DONE]``. Only the guard sees the framing of
    live traffic (a replayed answer has none to see)."""
    if not (exchange.streamed and 200 <= exchange.status < 300):
        return
    event_stream = exchange.content_type.split(";")[0].strip().lower() == "text/event-stream"
    if not (event_stream and response.extensions.get(guard.CLOSE_DELIMITED)):
        return  # a JSON answer to a streamed request is judged: the stream checks fail it
    if any(event.data == "[DONE]" for event in exchange.sse.events):
        return
    raise TransportError(
        "the connection closed before [DONE] (the stream had neither a content-length nor chunked "
        f"framing, so the close ended it); {arrival} ({resilience.describe_attempts(attempts)})"
    )


# --- the SDK lanes ----------------------------------------------------------------------------


def http_library() -> str:
    """Which HTTP library the installed SDK runs on (``httpx`` or ``httpx2``): the report names it."""
    client_class = next(c for c in openai.DefaultHttpxClient.__mro__ if c.__name__ == "Client")
    return client_class.__module__.split(".")[0]


def _library_of(response: Any) -> str:
    return type(response).__module__.split(".")[0]


_Sink = Callable[[bytes], None]
_Broke = Callable[[Exception], None]


@cache
def _tee_class(library: str, asynchronous: bool) -> type:
    """A byte-stream wrapper of the HTTP library the SDK runs on (``httpx`` or ``httpx2``): the
    library insists that a response's stream is its own ``SyncByteStream``/``AsyncByteStream``.

    It passes the raw (still encoded) bytes through and hands a copy of each to ``sink``. When the
    response is closed it first reads whatever the SDK left unread (it stops at ``[DONE]``, or at an
    exception of its own), so the exchange holds the whole answer the server sent. Whatever breaks
    a reading (a reset, a body never terminated, a limit of the guard), the SDK's or its own, goes
    to ``broke``: the answer did not arrive whole, whatever the SDK made of it or swallowed."""
    module = importlib.import_module(library)
    if asynchronous:

        class AsyncTee(module.AsyncByteStream):  # type: ignore[misc,name-defined]
            """Each read runs shielded, so a client that gives up waiting (openai's async stream
            drains for 0.1 s after ``[DONE]``, then cancels) leaves it running for ``aclose``."""

            def __init__(self, stream: Any, sink: _Sink, broke: _Broke) -> None:
                self._stream, self._sink, self._broke = stream, sink, broke
                self._parts = stream.__aiter__()  # one iterator: draining continues where the SDK stopped
                self._pending: asyncio.Future[bytes] | None = None

            async def _next(self) -> bytes:
                if self._pending is None:
                    self._pending = asyncio.ensure_future(self._parts.__anext__())
                try:
                    part = await asyncio.shield(self._pending)
                finally:
                    if self._pending.done():
                        self._pending = None
                self._sink(part)
                return part

            async def __aiter__(self) -> AsyncIterator[bytes]:
                while True:
                    try:
                        part = await self._next()
                    except StopAsyncIteration:
                        return
                    except Exception as exc:  # the SDK may swallow it (its drain after [DONE] does)
                        self._broke(exc)
                        raise
                    yield part

            async def aclose(self) -> None:
                try:
                    while True:
                        await self._next()
                except StopAsyncIteration:
                    pass
                except Exception as exc:
                    self._broke(exc)
                await self._stream.aclose()

        return AsyncTee

    class Tee(module.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, stream: Any, sink: _Sink, broke: _Broke) -> None:
            self._stream, self._sink, self._broke = stream, sink, broke
            self._parts = iter(stream)

        def __iter__(self) -> Iterator[bytes]:
            try:
                for part in self._parts:
                    self._sink(part)
                    yield part
            except Exception as exc:
                self._broke(exc)
                raise

        def close(self) -> None:
            try:
                for part in self._parts:
                    self._sink(part)
            except Exception as exc:
                self._broke(exc)
            self._stream.close()

    return Tee


@dataclass
class _Wiretap:
    """Event hooks for the SDK's own HTTP client: the requests it sent and a tee on the response."""

    requests: list[Any] = field(default_factory=list)
    response: Any = None
    raw: bytearray = field(default_factory=bytearray)
    broken: Exception | None = None  # what broke reading the rest of the answer after the SDK stopped
    clock: _Clock = field(default_factory=_Clock)

    def _on_request(self, request: Any) -> None:
        self.requests.append(request)

    def _on_response(self, response: Any, asynchronous: bool) -> None:
        self.clock.mark("ttfb_s")
        self.response, self.raw = response, bytearray()  # a retry after a 401 starts a new answer
        tee = _tee_class(_library_of(response), asynchronous)
        response.stream = tee(response.stream, self._received, self._broke)

    def _received(self, part: bytes) -> None:
        self.clock.mark("first_chunk_s")
        self.raw.extend(part)

    def _broke(self, exc: Exception) -> None:
        self.broken = exc

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self._on_request], "response": [lambda r: self._on_response(r, False)]}

    def async_hooks(self) -> dict[str, list[Any]]:
        async def on_request(request: Any) -> None:
            self._on_request(request)

        async def on_response(response: Any) -> None:
            self._on_response(response, True)

        return {"request": [on_request], "response": [on_response]}

    def close(self) -> None:
        """Close the response (the tee then reads what is left): SDKs before 3.x leave it open when
        they raise mid-stream. Closing twice is a no-op."""
        if self.response is not None:
            self.response.close()

    async def aclose(self) -> None:
        if self.response is not None:
            await self.response.aclose()

    def exchange(
        self, lane: str, call: Call, sdk_view: Any, raised: Exception | None, attempts: list[Attempt]
    ) -> Exchange:
        """The exchange as the wire saw it, plus what the SDK made of it. An answer that did not
        arrive whole is a ``TransportError`` (what the SDK raised, or what broke the tee's reading
        after it, classified once for every lane); a credential failure ends the run."""
        arrival = _arrival(self.response, self.raw, self.clock)
        if raised is not None and (refused := _credentials(raised)) is not None:
            raise refused  # first: older SDKs wrap any error (a failed refresh too) as a connection error
        for exc in (raised, self.broken):
            if exc is not None and (error := _fault(exc, arrival, call, attempts)) is not None:
                raise error from exc
        sdk_error = _describe(raised) if raised is not None else None
        if not self.requests or self.response is None:
            raise TransportError(
                f"the SDK got no response: {sdk_error} ({resilience.describe_attempts(attempts)})"
            )
        response, request = self.response, self.requests[-1]
        exchange = Exchange(
            request=_wire_request(request.method, request.url, request.headers, request.content),
            status=response.status_code,
            headers=_response_headers(response.headers),
            lane=lane,
            sdk_view=sdk_view,
        )
        if sdk_error:
            exchange.notes["sdk_error"] = sdk_error
        _notes(exchange, self.clock, attempts)
        decoded = type(response)(response.status_code, headers=response.headers, content=bytes(self.raw))
        attach_body(exchange, call, decoded.read())
        _closed_before_done(exchange, response, arrival, attempts)
        return exchange


@cache
def _create_params() -> frozenset[str]:
    return frozenset(inspect.signature(openai.resources.chat.Completions.create).parameters)


def sdk_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Map a wire body onto ``chat.completions.create`` arguments the way SDK users write them.

    Keys the SDK knows become keyword arguments; every other key goes through ``extra_body``, which
    the SDK merges into the top level of the JSON. A wire key that is itself named ``extra_body``
    therefore becomes ``extra_body={"extra_body": {...}}`` -- exactly the documented SDK form."""
    kwargs: dict[str, Any] = {"model": _OMIT}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key in _create_params() and key not in ("extra_body", "extra_headers", "extra_query", "timeout"):
            kwargs[key] = value
        else:
            extra[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def _send(client: openai.OpenAI | openai.AsyncOpenAI, call: Call) -> Any:
    """Call the SDK the way its users do: ``parse`` for a Pydantic response format (on ``beta.chat``
    in older SDKs, before it moved to ``chat``), ``create`` otherwise. Returns the
    result, or for the async client the awaitable."""
    kwargs = sdk_kwargs(call.body)
    if call.parse_with is None:
        return client.chat.completions.create(**kwargs)
    completions = client.chat.completions
    if not hasattr(completions, "parse"):
        completions = client.beta.chat.completions
    return completions.parse(**{**kwargs, "response_format": call.parse_with})


def _dump(result: Any) -> Any:
    # a parsed message's `parsed` is typed by the caller's model: no serializer warnings
    return result.model_dump(mode="json", exclude_unset=True, warnings=False)


def _describe(exc: Exception) -> str:
    """One line naming what the SDK raised. A status error keeps only the status: its message quotes
    the response body, which the exchange already holds."""
    if isinstance(exc, openai.APIStatusError):
        return f"{type(exc).__name__}: {exc.status_code}"
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}" + (f" (caused by {type(cause).__name__}: {cause})" if cause else "")
    line = " ".join(text.split())
    return line if len(line) <= _ERROR_CHARS else line[: _ERROR_CHARS - 1] + "…"


def _api_key(tokens: TokenSource | None) -> str:
    """A token fetched for this call (each call gets its own client, so a long run still refreshes;
    openai 1.x takes only a string)."""
    return tokens.token() if tokens else REPLAY_TOKEN


def _http_client(
    library: str, call: Call, tokens: TokenSource | None, tap: _Wiretap, asynchronous: bool
) -> tuple[Any, resilience.AnyRetryTransport]:
    """The SDK's own HTTP client, built as every lane's is: the guarded transport under the retrying
    one, the bearer auth that refreshes once after a 401, and the tap. Returns it with the retrying
    transport (its attempts are the evidence of the call)."""
    inner = guard.transport(library, call.limits, asynchronous=asynchronous, verify=_tls(library))
    transport = resilience.retry_transport(library, inner, policy=call.retry, asynchronous=asynchronous)
    options: dict[str, Any] = {"timeout": call.timeouts.for_client(library), "transport": transport}
    if tokens is not None:
        options["auth"] = bearer_auth(library, tokens)
    if asynchronous:
        return openai.DefaultAsyncHttpxClient(event_hooks=tap.async_hooks(), **options), transport
    return openai.DefaultHttpxClient(event_hooks=tap.hooks(), **options), transport


def run_sdk(call: Call, tokens: TokenSource | None) -> Exchange:
    """Send ``call`` through ``openai.OpenAI`` and keep the wire traffic and the SDK's typed view.

    Whatever the SDK raises while reading a whole answer is evidence (``notes["sdk_error"]``,
    judged by ``sdk.parses``), not a crash of the harness; the view is then ``None``."""
    tap, library = _Wiretap(), http_library()
    http_client, transport = _http_client(library, call, tokens, tap, asynchronous=False)
    client = openai.OpenAI(
        base_url=call.base_url,
        api_key=_api_key(tokens),
        http_client=http_client,
        max_retries=0,  # retries are the transport's, the same policy as the raw lane's
    )
    sdk_view: Any = None
    raised: Exception | None = None
    try:
        result = _send(client, call)
        sdk_view = [_dump(chunk) for chunk in result] if call.streamed else _dump(result)
    except Exception as exc:
        raised = exc
    finally:
        tap.close()
        client.close()
    return tap.exchange("sdk", call, sdk_view, raised, transport.attempts)


async def _run_sdk_async(call: Call, tokens: TokenSource | None) -> Exchange:
    tap, library = _Wiretap(), http_library()
    http_client, transport = _http_client(library, call, tokens, tap, asynchronous=True)
    client = openai.AsyncOpenAI(
        base_url=call.base_url, api_key=_api_key(tokens), http_client=http_client, max_retries=0
    )
    sdk_view: Any = None
    raised: Exception | None = None
    try:
        result = await _send(client, call)
        sdk_view = [_dump(chunk) async for chunk in result] if call.streamed else _dump(result)
    except Exception as exc:
        raised = exc
    finally:
        await tap.aclose()
        await client.close()
    return tap.exchange("sdk-async", call, sdk_view, raised, transport.attempts)


def run_sdk_async(call: Call, tokens: TokenSource | None) -> Exchange:
    """``run_sdk`` through ``openai.AsyncOpenAI``: the SDK's async client, on the async byte stream of
    the same HTTP library. Runs its own event loop, so the (synchronous) suites can call it."""
    return asyncio.run(_run_sdk_async(call, tokens))
