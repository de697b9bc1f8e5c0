"""Lanes: the clients that send a case's request and turn what happened into an ``Exchange``.

``httpx`` sends the body as given and keeps the bytes it received: the lane that sees the wire.
``sdk`` drives the ``openai`` SDK the way its users do (``base_url`` ending in ``endpoints/...``,
the token as ``api_key``, non-OpenAI body keys through ``extra_body=``) and keeps both the wire
traffic (a tee on the SDK's own HTTP client) and what the SDK's typed objects held; ``sdk-async``
does the same with ``openai.AsyncOpenAI``. Every lane yields the same kind of exchange, so every
check serves them all.

The SDK lanes work with both SDK generations: openai 1.x/2.x (on ``httpx``) and openai 3.x (on
``httpx2``); ``http_library()`` says which one a run used.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import openai

from . import resilience
from .auth import BearerAuth, TokenSource
from .exchange import Exchange, WireRequest
from .redaction import redact_headers
from .resilience import RetryPolicy, Timeouts

REPLAY_TOKEN = "replay-no-credentials"  # replay sends a bearer header of the right shape, never a real token
_OMIT = getattr(openai, "omit", openai.NOT_GIVEN)  # `omit` is newer than openai 1.x's NOT_GIVEN
_ERROR_CHARS = 300


class TransportError(Exception):
    """No HTTP response came back (connection failed, request refused by the recorder…)."""


@dataclass(frozen=True)
class Call:
    """One request to make: the base URL the SDK would be given, the JSON body for the wire, and how
    patient to be (timeouts, retries of 429/5xx and of connections that fail before any byte)."""

    base_url: str
    body: dict[str, Any]
    parse_with: type | None = None  # SDK lanes: call ``parse(response_format=<this Pydantic model>)``
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

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


def _notes(exchange: Exchange, clock: _Clock, attempts: list[Any]) -> None:
    clock.mark("total_s")
    exchange.notes["timing"] = clock.figures
    if len(attempts) > 1:
        exchange.notes["attempts"] = resilience.describe_attempts(attempts)


def run_httpx(call: Call, tokens: TokenSource | None) -> Exchange:
    """Send ``call`` with plain httpx and keep the response text exactly as decoded off the wire.
    A stream that stalls or drops keeps what arrived, with the interruption noted (infra)."""
    auth = BearerAuth(tokens) if tokens is not None else None
    headers = {} if auth is not None else {"authorization": f"Bearer {REPLAY_TOKEN}"}
    transport = resilience.RetryTransport(httpx.HTTPTransport(verify=_tls("httpx")), call.retry)
    clock, parts, interrupted = _Clock(), [], None
    try:
        with (
            httpx.Client(
                auth=auth, timeout=call.timeouts.for_client(), headers=headers, transport=transport
            ) as client,
            client.stream("POST", call.url, json=call.body) as response,
        ):
            clock.mark("ttfb_s")
            try:
                for part in resilience.iter_text(response, call.timeouts):
                    clock.mark("first_chunk_s")
                    parts.append(part)
            except resilience.StreamInterrupted as exc:
                interrupted = exc
            request = response.request
            exchange = Exchange(
                request=_wire_request(request.method, request.url, request.headers, request.content),
                status=response.status_code,
                headers=_response_headers(response.headers),
                lane="httpx",
            )
    except httpx.TransportError as exc:
        attempts = resilience.describe_attempts(transport.attempts)
        raise TransportError(f"{resilience.evidence(exc)} ({attempts})") from exc
    _notes(exchange, clock, transport.attempts)
    if interrupted is not None:
        exchange.notes["interrupted"] = resilience.evidence(interrupted)
    _attach_body(exchange, call, interrupted.partial_text if interrupted else "".join(parts))
    return exchange


def _attach_body(exchange: Exchange, call: Call, text: str) -> None:
    """A successful answer to a streamed request is judged as a stream whatever its content type (a
    JSON answer then fails the stream checks, as it should); anything else as a body."""
    if call.streamed and 200 <= exchange.status < 300:
        exchange.stream_text = text
    else:
        exchange.body_text = text


# --- the SDK lanes ----------------------------------------------------------------------------


def http_library() -> str:
    """Which HTTP library the installed SDK runs on (``httpx`` or ``httpx2``): the report names it."""
    client_class = next(c for c in openai.DefaultHttpxClient.__mro__ if c.__name__ == "Client")
    return client_class.__module__.split(".")[0]


def _library_of(response: Any) -> str:
    return type(response).__module__.split(".")[0]


@cache
def _tee_class(library: str, asynchronous: bool) -> type:
    """A byte-stream wrapper of the HTTP library the SDK runs on (``httpx`` or ``httpx2``): the
    library insists that a response's stream is its own ``SyncByteStream``/``AsyncByteStream``.

    It passes the raw (still encoded) bytes through and hands a copy of each to ``sink``. When the response is
    closed it first reads whatever the SDK left unread (it stops at ``[DONE]``, or at an exception
    of its own), so the exchange holds the whole answer the server sent. A connection that breaks
    while draining leaves the answer cut short, which the stream checks report."""
    module = importlib.import_module(library)
    broken = (module.HTTPError, module.StreamError)
    if asynchronous:

        class AsyncTee(module.AsyncByteStream):  # type: ignore[misc,name-defined]
            def __init__(self, stream: Any, sink: Callable[[bytes], None]) -> None:
                self._stream, self._sink = stream, sink
                self._parts = stream.__aiter__()  # one iterator: draining continues where the SDK stopped

            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for part in self._parts:
                    self._sink(part)
                    yield part

            async def aclose(self) -> None:
                with contextlib.suppress(*broken):
                    async for part in self._parts:
                        self._sink(part)
                await self._stream.aclose()

        return AsyncTee

    class Tee(module.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, stream: Any, sink: Callable[[bytes], None]) -> None:
            self._stream, self._sink = stream, sink
            self._parts = iter(stream)

        def __iter__(self) -> Iterator[bytes]:
            for part in self._parts:
                self._sink(part)
                yield part

        def close(self) -> None:
            with contextlib.suppress(*broken):
                for part in self._parts:
                    self._sink(part)
            self._stream.close()

    return Tee


@dataclass
class _Wiretap:
    """Event hooks for the SDK's own HTTP client: the requests it sent and a tee on the response."""

    requests: list[Any] = field(default_factory=list)
    response: Any = None
    raw: bytearray = field(default_factory=bytearray)
    clock: _Clock = field(default_factory=_Clock)

    def _on_request(self, request: Any) -> None:
        self.requests.append(request)

    def _on_response(self, response: Any, asynchronous: bool) -> None:
        self.clock.mark("ttfb_s")
        self.response = response
        response.stream = _tee_class(_library_of(response), asynchronous)(response.stream, self._received)

    def _received(self, part: bytes) -> None:
        self.clock.mark("first_chunk_s")
        self.raw.extend(part)

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
        self, lane: str, call: Call, sdk_view: Any, sdk_error: str | None, attempts: list[Any]
    ) -> Exchange:
        """The exchange as the wire saw it, plus what the SDK made of it."""
        if not self.requests or self.response is None:
            raise TransportError(
                f"the SDK got no response: {sdk_error} ({resilience.describe_attempts(attempts)})"
            )
        response, request = self.response, self.requests[-1]
        decoded = type(response)(response.status_code, headers=response.headers, content=bytes(self.raw))
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
        _attach_body(exchange, call, decoded.read().decode("utf-8", "replace"))
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


def run_sdk(call: Call, tokens: TokenSource | None) -> Exchange:
    """Send ``call`` through ``openai.OpenAI`` and keep the wire traffic and the SDK's typed view.

    Whatever the SDK raises while reading an answer is evidence (``notes["sdk_error"]``, judged by
    ``sdk.parses``), not a crash of the harness; the view is then ``None``."""
    tap = _Wiretap()
    library = http_library()
    inner = importlib.import_module(library).HTTPTransport(verify=_tls(library))
    transport = resilience.retry_transport(library, inner, policy=call.retry)
    client = openai.OpenAI(
        base_url=call.base_url,
        api_key=_api_key(tokens),
        http_client=openai.DefaultHttpxClient(
            timeout=call.timeouts.for_client(library), event_hooks=tap.hooks(), transport=transport
        ),
        max_retries=0,  # retries are the transport's, the same policy as the raw lane's
    )
    sdk_view: Any = None
    sdk_error: str | None = None
    try:
        result = _send(client, call)
        sdk_view = [_dump(chunk) for chunk in result] if call.streamed else _dump(result)
    except Exception as exc:
        sdk_error = _describe(exc)
    finally:
        tap.close()
        client.close()
    return tap.exchange("sdk", call, sdk_view, sdk_error, transport.attempts)


async def _run_sdk_async(call: Call, tokens: TokenSource | None) -> Exchange:
    tap = _Wiretap()
    library = http_library()
    inner = importlib.import_module(library).AsyncHTTPTransport(verify=_tls(library))
    transport = resilience.retry_transport(library, inner, policy=call.retry, asynchronous=True)
    client = openai.AsyncOpenAI(
        base_url=call.base_url,
        api_key=_api_key(tokens),
        http_client=openai.DefaultAsyncHttpxClient(
            timeout=call.timeouts.for_client(library), event_hooks=tap.async_hooks(), transport=transport
        ),
        max_retries=0,
    )
    sdk_view: Any = None
    sdk_error: str | None = None
    try:
        result = await _send(client, call)
        sdk_view = [_dump(chunk) async for chunk in result] if call.streamed else _dump(result)
    except Exception as exc:
        sdk_error = _describe(exc)
    finally:
        await tap.aclose()
        await client.close()
    return tap.exchange("sdk-async", call, sdk_view, sdk_error, transport.attempts)


def run_sdk_async(call: Call, tokens: TokenSource | None) -> Exchange:
    """``run_sdk`` through ``openai.AsyncOpenAI``: the SDK's async client, on the async byte stream of
    the same HTTP library. Runs its own event loop, so the (synchronous) suites can call it."""
    return asyncio.run(_run_sdk_async(call, tokens))
