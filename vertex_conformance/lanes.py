"""Lanes: the clients that send a case's request and turn what happened into an ``Exchange``.

``httpx`` sends the body as given and keeps the bytes it received: the lane that sees the wire.
``sdk`` drives the ``openai`` SDK the way its users do (``base_url`` ending in ``endpoints/...``,
the token as ``api_key``, non-OpenAI body keys through ``extra_body=``) and keeps both the wire
traffic (a tee on the SDK's own HTTP client) and what the SDK's typed objects held. Both lanes
yield the same kind of exchange, so every check serves both.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import openai

from .auth import TokenSource
from .exchange import Exchange, WireRequest
from .redaction import redact_headers

LANES = ("httpx", "sdk")
REPLAY_TOKEN = "replay-no-credentials"  # replay sends a bearer header of the right shape, never a real token


class TransportError(Exception):
    """No HTTP response came back (connection failed, request refused by the recorder…)."""


@dataclass(frozen=True)
class Call:
    """One request to make: the base URL the SDK would be given, and the JSON body for the wire."""

    base_url: str
    body: dict[str, Any]
    timeout: float = 120.0
    parse_with: type | None = None  # SDK lane: call ``parse(response_format=<this Pydantic model>)``

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


def run_httpx(call: Call, auth: httpx.Auth | None) -> Exchange:
    """Send ``call`` with plain httpx and keep the response text exactly as decoded off the wire."""
    headers = {} if auth is not None else {"authorization": f"Bearer {REPLAY_TOKEN}"}
    with (
        httpx.Client(auth=auth, timeout=call.timeout, headers=headers) as client,
        client.stream("POST", call.url, json=call.body) as response,
    ):
        text = "".join(response.iter_text())
        request = response.request
        exchange = Exchange(
            request=_wire_request(request.method, request.url, request.headers, request.content),
            status=response.status_code,
            headers=_response_headers(response.headers),
            lane="httpx",
        )
    _attach_body(exchange, call, text)
    return exchange


def _attach_body(exchange: Exchange, call: Call, text: str) -> None:
    """A successful answer to a streamed request is judged as a stream whatever its content type (a
    JSON answer then fails the stream checks, as it should); anything else as a body."""
    if call.streamed and 200 <= exchange.status < 300:
        exchange.stream_text = text
    else:
        exchange.body_text = text


@cache
def _tee_class(library: str) -> type:
    """A byte-stream wrapper of the HTTP library the SDK runs on (``httpx`` or ``httpx2``): the
    library insists that a sync response's stream is its own ``SyncByteStream``."""
    base = importlib.import_module(library).SyncByteStream

    class Tee(base):  # type: ignore[misc,valid-type]
        """Passes the raw (still encoded) bytes through and keeps a copy of each."""

        def __init__(self, stream: Any, sink: bytearray) -> None:
            self._stream, self._sink = stream, sink

        def __iter__(self) -> Iterator[bytes]:
            for part in self._stream:
                self._sink.extend(part)
                yield part

        def close(self) -> None:
            self._stream.close()

    return Tee


_CREATE_PARAMS = set(inspect.signature(openai.OpenAI(api_key="x").chat.completions.create).parameters)


def sdk_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Map a wire body onto ``chat.completions.create`` arguments the way SDK users write them.

    Keys the SDK knows become keyword arguments; every other key goes through ``extra_body``, which
    the SDK merges into the top level of the JSON. A wire key that is itself named ``extra_body``
    therefore becomes ``extra_body={"extra_body": {...}}`` -- exactly the documented SDK form."""
    kwargs: dict[str, Any] = {"model": openai.omit}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key in _CREATE_PARAMS and key not in ("extra_body", "extra_headers", "extra_query", "timeout"):
            kwargs[key] = value
        else:
            extra[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def http_library() -> str:
    """Which HTTP library the installed SDK runs on (``httpx`` or ``httpx2``): the report names it."""
    return type(openai.DefaultHttpxClient()).__mro__[1].__module__.split(".")[0]


def run_sdk(call: Call, tokens: TokenSource | None) -> Exchange:
    """Send ``call`` through ``openai.OpenAI`` and keep the wire traffic and the SDK's typed view.

    The SDK gets the token source itself as a callable ``api_key``, so a long run refreshes."""
    sent: list[Any] = []
    received: dict[str, Any] = {}
    raw = bytearray()

    def on_request(request: Any) -> None:
        sent.append(request)

    def on_response(response: Any) -> None:
        received["response"] = response
        response.stream = _tee_class(type(response).__module__.split(".")[0])(response.stream, raw)

    http_client = openai.DefaultHttpxClient(
        timeout=call.timeout, event_hooks={"request": [on_request], "response": [on_response]}
    )
    client = openai.OpenAI(
        base_url=call.base_url,
        api_key=tokens.token if tokens else REPLAY_TOKEN,
        http_client=http_client,
        max_retries=0,
    )
    sdk_view: Any = None
    sdk_error: str | None = None
    try:
        if call.parse_with is not None:
            kwargs = {**sdk_kwargs(call.body), "response_format": call.parse_with}
            result = client.chat.completions.parse(**kwargs)
        else:
            result = client.chat.completions.create(**sdk_kwargs(call.body))
        if call.streamed:
            sdk_view = [chunk.model_dump(mode="json", exclude_unset=True) for chunk in result]
        else:  # a parsed message's `parsed` is typed by the caller's model: no serializer warnings
            sdk_view = result.model_dump(mode="json", exclude_unset=True, warnings=False)
    except openai.APIStatusError as exc:
        sdk_error = f"{type(exc).__name__}: {exc.status_code}"
    except openai.APIError as exc:
        cause = f" (caused by {type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ else ""
        sdk_error = f"{type(exc).__name__}: {exc}{cause}"
    finally:
        client.close()
    if not sent or "response" not in received:
        raise TransportError(f"the SDK got no response: {sdk_error}")
    response = received["response"]
    request = sent[-1]
    decoded = type(response)(response.status_code, headers=response.headers, content=bytes(raw))
    text = decoded.read().decode("utf-8", "replace")
    exchange = Exchange(
        request=_wire_request(request.method, request.url, request.headers, request.content),
        status=response.status_code,
        headers=_response_headers(response.headers),
        lane="sdk",
        sdk_view=sdk_view,
    )
    if sdk_error:
        exchange.notes["sdk_error"] = sdk_error
    _attach_body(exchange, call, text)
    return exchange
