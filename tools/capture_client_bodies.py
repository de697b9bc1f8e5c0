"""Capture the request bodies real clients send for every recorded form (tests/client_bodies/).

``vertex-conformance serve`` matches request bodies by meaning (``vertex_conformance.matching``)
because LiteLLM and LangChain do not send the bytes the suite recorded. The test that holds
``serve`` to that (``tests/test_serve_matching.py``) needs what those clients really send, so this
script runs each client against a capture server on 127.0.0.1 that stores the body and answers
with the recorded answer, and writes one file per client and form:
``tests/client_bodies/<client>/<case>.json`` with the client's name and version, the call that
produced it, whether the client read the recorded answer, a digest of the recorded request (a
rebuilt cassette makes the capture stale: the test says so), and the request (method, path with
placeholders, body). The files are data: ``make test`` reads them without the clients installed.

    pip install -e '.[dev,clients]'
    make client-bodies   # = .venv/bin/python -m tools.capture_client_bodies [--client NAME] [--case NAME]

The clients are called by their client lanes' drivers (``vertex_conformance.client_litellm``,
``vertex_conformance.client_langchain``: the one place that knows how to call each, the way its
documentation calls an OpenAI-compatible endpoint), given the recorded body and, for the
structured-output form, the seed's Pydantic model:

- ``litellm-openai``: LiteLLM's ``openai/<model>`` route (``api_base``, ``api_key``).
- ``litellm-vertex``: LiteLLM's ``vertex_ai/openai/<model or endpoint id>`` route with ``api_base``
  and a service-account key (made by the driver, thrown away) whose ``token_uri`` is the capture
  server; where ``google-cloud-aiplatform`` is not installed an empty ``vertexai`` module stands in
  for the import check the route makes (the body is LiteLLM's own either way).
- ``langchain-openai``: ``ChatOpenAI(base_url=..., api_key=..., model=...)`` with ``.invoke`` or
  ``.stream``, ``.bind_tools`` for tools, ``.bind`` for other parameters and
  ``.with_structured_output(..., method="json_schema")``.

Nothing leaves 127.0.0.1: every connection and name lookup to another host is refused (the clients
look up model prices and telemetry hosts otherwise), and the drivers switch LiteLLM to its bundled
price list.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vertex_conformance import client_langchain, client_litellm, loopback
from vertex_conformance.atomic import write_text
from vertex_conformance.client_call import ClientCall, ClientResult
from vertex_conformance.paths import ROOT
from vertex_conformance.recording import parse_body, with_placeholders
from vertex_conformance.replay_server import DEFAULT_DIRECTORY, Recording, answer, load_recordings

OUTPUT = ROOT / "tests" / "client_bodies"
CHAT_SUFFIX = "/chat/completions"
PROJECT, LOCATION, ENDPOINT_ID = "example-project", "us-central1", "1234567890"  # made up, never secret
API_KEY = "capture-placeholder-key"  # the capture server accepts any bearer token; this is not a credential


@dataclass(frozen=True)
class Case:
    """One recorded form a client is asked to send: the httpx lane's recording holds the documented body."""

    name: str  # the file name under tests/client_bodies/<client>/
    form: str  # vocabulary.FORMS id
    cassette: str  # relative to the shipped cassette directory; its first interaction
    include_usage: bool = False  # also ask the client for stream_options.include_usage


def _pair(name: str, form: str, test: str, variant: str = "httpx") -> list[Case]:
    """A form sent both ways: ``<name>`` from ``<test>[<variant>-plain]``, ``<name>-stream`` from
    ``<test>[<variant>-stream]``."""
    return [
        Case(name, form, f"{test}[{variant}-plain].yaml"),
        Case(f"{name}-stream", form, f"{test}[{variant}-stream].yaml"),
    ]


_INPUT = "test_multimodal_input/test_multimodal_input[httpx-{}].yaml"
CASES: tuple[Case, ...] = (
    Case("plain", "plain", "test_plain/test_plain_chat[httpx].yaml"),
    Case("streaming", "streaming", "test_streaming/test_streaming_chat[httpx].yaml"),
    Case("streaming-include-usage", "streaming", "test_streaming/test_streaming_chat[httpx].yaml", True),
    *_pair("self-deployed", "self-deployed", "test_self_deployed/test_self_deployed_endpoint"),
    *_pair("global", "global", "test_global/test_global_endpoint"),
    *_pair("v1beta1", "v1beta1", "test_v1beta1/test_v1beta1_path"),
    *_pair("extra-body", "extra-body", "test_extra_body/test_extra_body_thought_tag_marker"),
    *(
        case
        for where in ("message", "part", "tool-call")
        for case in _pair(
            f"extra-content-{where}",
            "extra-content",
            "test_extra_content/test_extra_content_placement",
            f"httpx-{where}",
        )
    ),
    *_pair("thinking", "thinking", "test_thinking/test_thinking_with_tag_marker"),
    *_pair(
        "function-call-arguments",
        "function-call-arguments",
        "test_function_call_arguments/test_function_call_arguments",
    ),
    Case("image-output", "image-output", "test_image_output/test_image_output[httpx].yaml"),
    *(
        Case(f"multimodal-input-{variant}", "multimodal-input", _INPUT.format(variant))
        for variant in (
            "image-url-gcs-string",
            "image-url-object",
            "image-url-data-url",
            "input-audio-gcs",
            "input-audio-base64",
        )
    ),
    Case(
        "multimodal-function-response",
        "multimodal-function-response",
        "test_multimodal_function_response/test_multimodal_function_response[httpx].yaml",
    ),
    Case(
        "structured-output", "structured-output", "test_structured_output/test_structured_output[httpx].yaml"
    ),
)


def _calendar_event() -> type:
    from suites.calendar_event import CalendarEvent

    return CalendarEvent


# --- the clients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A client under capture: its directory name, the package whose version it reports, and its
    client lane's driver (the one place that knows how to call it)."""

    name: str
    package: str
    drive: Callable[[ClientCall], ClientResult]
    unavailable: Callable[[], str | None]


CLIENTS = {
    client.name: client
    for client in (
        Client(
            "litellm-openai",
            "litellm",
            functools.partial(client_litellm.drive, route="openai"),
            client_litellm.unavailable,
        ),
        Client(
            "litellm-vertex",
            "litellm",
            functools.partial(client_litellm.drive, route="vertex"),
            client_litellm.unavailable,
        ),
        Client("langchain-openai", "langchain-openai", client_langchain.drive, client_langchain.unavailable),
    )
}


# --- capturing -----------------------------------------------------------------------------------


@dataclass
class CaptureServer:
    """Stores every chat request and answers it with ``recording``'s answer, whatever its body."""

    recording: Recording | None = None
    captured: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, body)

    def app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            if self.recording is None:
                return Response(status_code=503)
            self.captured.append((request.method, request.url.path, parse_body(await request.body())))
            return answer(self.recording)

        async def token(request: Request) -> Response:
            return JSONResponse({"access_token": "capture-token", "expires_in": 3600, "token_type": "Bearer"})

        return Starlette(
            routes=[Route("/token", token, methods=["POST"]), Route("/{path:path}", chat, methods=["POST"])]
        )


def capture(
    client: Client, case: Case, recording: Recording, server: CaptureServer, url: str
) -> dict[str, Any]:
    """Send ``case`` with ``client`` and return the file's content."""
    server.recording = recording
    server.captured.clear()
    path = recording.path.replace("{PROJECT}", PROJECT).replace("{LOCATION}", LOCATION)
    base_url = url + path.replace("{ENDPOINT}", ENDPOINT_ID).removesuffix(CHAT_SUFFIX)
    asked = dict(recording.body)
    if case.include_usage:
        asked["stream_options"] = {"include_usage": True}
    result = client.drive(
        ClientCall(
            base_url=base_url,
            token_url=url + "/token",
            body=asked,
            project=PROJECT,
            location="global" if "/locations/global/" in base_url else LOCATION,
            endpoint_id=ENDPOINT_ID,
            parse_with=_calendar_event() if case.form == "structured-output" else None,
            api_key=API_KEY,
        )
    )
    # the client could not read the recorded answer: kept as a finding
    error = result.error
    read: bool | str = True if error is None else f"{error.type}: {error.message[:300]}"
    if len(server.captured) != 1:
        raise SystemExit(
            f"{client.name} {case.name}: {len(server.captured)} requests reached the server ({read})"
        )
    method, sent_path, body = server.captured[0]
    return {
        "client": client.name,
        "package": client.package,
        "version": result.version,
        "form": case.form,
        "recording": f"{case.cassette} (interaction 0)",
        "recorded_request_sha256": recorded_digest(recording.body),
        "captured_with": "tools/capture_client_bodies.py: the client against a loopback server that stored "
        "the body and answered with the recording",
        "call": result.call,
        "read_answer": read,
        "request": {"method": method, "path": with_placeholders(sent_path), "body": body},
    }


def recorded_digest(body: Any) -> str:
    """A fingerprint of the recorded request a capture was made for: when the cassette changes (a
    new default model, a rebuilt sample), the capture no longer says what the client sends for it."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse every connection and name lookup that is not for a loopback address."""
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not loopback.is_loopback(str(address[0])):
            raise ConnectionRefusedError(f"capture_client_bodies: refused a connection to {address[0]}")
        return connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not loopback.is_loopback(str(host)):
            raise socket.gaierror(f"capture_client_bodies: refused to look up {host}")
        return lookup(host, *args, **kwargs)

    socket.socket.connect, socket.getaddrinfo = guarded_connect, guarded_lookup  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.getaddrinfo = connect, lookup  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.capture_client_bodies", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), action="append", help="only this client (repeatable)"
    )
    parser.add_argument(
        "--case", choices=[case.name for case in CASES], action="append", help="only this form (repeatable)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"where the files go (default: {OUTPUT})")
    args = parser.parse_args(argv)
    clients = [CLIENTS[name] for name in args.client or CLIENTS]
    missing = sorted({why for client in clients if (why := client.unavailable()) is not None})
    if missing:
        parser.exit(2, f"capture_client_bodies: error: {'; '.join(missing)}\n")
    recordings = {r.cassette: r for r in load_recordings(DEFAULT_DIRECTORY) if r.index == 0}
    server = CaptureServer()
    with loopback_only(), loopback.serve(server.app()) as url:
        for client in clients:
            for case in (case for case in CASES if not args.case or case.name in args.case):
                document = capture(client, case, recordings[case.cassette], server, url)
                target = args.output / client.name / f"{case.name}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
                read = document["read_answer"]
                print(f"{client.name} {case.name}: {'answer read' if read is True else read}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
