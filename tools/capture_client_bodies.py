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

The clients and how each is called (the way their documentation calls an OpenAI-compatible
endpoint, with the recorded body's parameters as keyword arguments, ``extra_body`` as the
``openai`` SDK passes it, ``{"extra_body": {...}}``, and the structured-output form with the seed's
Pydantic model):

- ``litellm-openai``: ``litellm.completion(model="openai/<model>", api_base=..., api_key=...)``.
- ``litellm-vertex``: LiteLLM's ``vertex_ai/openai/<model or endpoint id>`` route with ``api_base``
  and a service-account key (made here, thrown away) whose ``token_uri`` is the capture server. The
  route checks that ``google-cloud-aiplatform`` imports and never uses it; where it is not
  installed an empty ``vertexai`` module stands in (the body is LiteLLM's own either way).
- ``langchain-openai``: ``ChatOpenAI(base_url=..., api_key=..., model=...)`` with ``.invoke`` or
  ``.stream``, ``.bind_tools`` for tools, ``.bind`` for other parameters and
  ``.with_structured_output(..., method="json_schema")``.

Nothing leaves 127.0.0.1: every connection and name lookup to another host is refused (the clients
look up model prices and telemetry hosts otherwise), and LiteLLM is told to use its bundled price
list.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import socket
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vertex_conformance import loopback
from vertex_conformance.atomic import write_text
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


@dataclass(frozen=True)
class Call:
    """What a client is asked: the recorded body taken apart into the parameters a client names."""

    model: str | None  # None: a self-deployed endpoint, where the path names the model
    messages: list[Any]
    stream: bool
    params: dict[str, Any]  # every other field of the recorded body
    structured: bool  # the structured-output form: sent from the seed's Pydantic model
    include_usage: bool

    @classmethod
    def of(cls, case: Case, body: dict[str, Any]) -> Call:
        params = {key: value for key, value in body.items() if key not in ("model", "messages", "stream")}
        structured = case.form == "structured-output"
        if structured:
            del params["response_format"]
        return cls(
            body.get("model"),
            body["messages"],
            bool(body.get("stream")),
            params,
            structured,
            case.include_usage,
        )

    def keywords(self) -> dict[str, Any]:
        """The parameters as the openai SDK's keyword arguments (``extra_body`` nested, as it must be)."""
        keywords = dict(self.params)
        if "extra_body" in keywords:
            keywords["extra_body"] = {"extra_body": keywords["extra_body"]}
        return keywords


def _calendar_event() -> type:
    from suites.calendar_event import CalendarEvent

    return CalendarEvent


# --- the clients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A client's call, ready: how the file describes it, and the call itself (reads the whole answer)."""

    description: str
    send: Callable[[], object]


@dataclass(frozen=True)
class Client:
    """A client under capture: its directory name, the package whose version it reports, how it calls."""

    name: str
    package: str
    prepare: Callable[[Call, str, str], Prepared]  # (call, base URL, token URL)


# Arguments whose value the files show; every other one is written ``name=…``: the capture server's
# URL changes with its port, and the throwaway key (vertex_credentials) has no place in a file.
_SHOWN_ARGUMENTS = frozenset(
    {"model", "max_tokens", "stream", "stream_usage", "max_retries", "vertex_project", "vertex_location"}
)


def _described(function: str, keywords: dict[str, Any]) -> str:
    """A call as a person would write it, other values elided: ``f(model='x', messages=…)``."""
    shown = [f"{key}={value!r}" if key in _SHOWN_ARGUMENTS else f"{key}=…" for key, value in keywords.items()]
    return f"{function}({', '.join(shown)})"


def _litellm_completion(call: Call, keywords: dict[str, Any], model: str) -> Prepared:
    import litellm

    if call.structured:
        keywords["response_format"] = _calendar_event()
    if call.include_usage:
        keywords["stream_options"] = {"include_usage": True}
    keywords = {"model": model, "messages": call.messages, **keywords, **call.keywords()}
    if call.stream:
        keywords["stream"] = True

    def send() -> object:
        reply = litellm.completion(**keywords)
        return list(reply) if call.stream else reply

    return Prepared(_described("litellm.completion", keywords), send)


def litellm_openai(call: Call, base_url: str, token_url: str) -> Prepared:
    model = f"openai/{call.model or ''}"
    return _litellm_completion(call, {"api_base": base_url, "api_key": API_KEY}, model)


def litellm_vertex(call: Call, base_url: str, token_url: str) -> Prepared:
    location = "global" if "/locations/global/" in base_url else LOCATION
    keywords = {
        "api_base": base_url,
        "vertex_project": PROJECT,
        "vertex_location": location,
        "vertex_credentials": json.dumps(_service_account(token_url)),
    }
    return _litellm_completion(call, keywords, f"vertex_ai/openai/{call.model or ENDPOINT_ID}")


def langchain(call: Call, base_url: str, token_url: str) -> Prepared:
    from langchain_openai import ChatOpenAI

    params = call.keywords()
    settings: dict[str, Any] = {
        "base_url": base_url,
        "api_key": API_KEY,
        "model": call.model or "",
        "max_retries": 0,
    }
    for name in ("max_tokens", "extra_body"):
        if name in params:
            settings[name] = params.pop(name)
    if call.include_usage:
        settings["stream_usage"] = True
    model: Any = ChatOpenAI(**settings)
    steps = [_described("ChatOpenAI", settings)]
    if "tools" in params:
        model = model.bind_tools(params.pop("tools"))
        steps.append(".bind_tools(tools)")
    if params:
        model = model.bind(**params)
        steps.append(_described(".bind", params))
    if call.structured:
        model = model.with_structured_output(_calendar_event(), method="json_schema", strict=True)
        steps.append(".with_structured_output(CalendarEvent, method='json_schema', strict=True)")
    steps.append(".stream(messages)" if call.stream else ".invoke(messages)")
    # LangChain refuses a message dict without "content"; the documented tool-call turn has none
    messages = [{"content": "", **message} for message in call.messages]
    if messages != call.messages:
        steps.append(' (messages without "content" given "content": "", which LangChain requires)')

    def send() -> object:
        return list(model.stream(messages)) if call.stream else model.invoke(messages)

    return Prepared("".join(steps), send)


CLIENTS = {
    client.name: client
    for client in (
        Client("litellm-openai", "litellm", litellm_openai),
        Client("litellm-vertex", "litellm", litellm_vertex),
        Client("langchain-openai", "langchain-openai", langchain),
    )
}


def _service_account(token_url: str) -> dict[str, str]:
    """A throwaway service-account key whose token endpoint is the capture server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "capture",
        "private_key": pem,
        "client_email": f"capture@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_url,
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
    prepared = client.prepare(Call.of(case, recording.body), base_url, url + "/token")
    read: bool | str = True
    try:
        prepared.send()
    except Exception as exc:  # the client could not read the recorded answer: kept as a finding
        # without the traceback some clients put in the message: it names this machine's paths
        reason = " ".join(str(exc).split("Traceback")[0].split())
        read = f"{type(exc).__name__}: {reason[:300]}"
    if len(server.captured) != 1:
        raise SystemExit(
            f"{client.name} {case.name}: {len(server.captured)} requests reached the server ({read})"
        )
    method, sent_path, body = server.captured[0]
    return {
        "client": client.name,
        "package": client.package,
        "version": importlib.metadata.version(client.package),
        "form": case.form,
        "recording": f"{case.cassette} (interaction 0)",
        "recorded_request_sha256": recorded_digest(recording.body),
        "captured_with": "tools/capture_client_bodies.py: the client against a loopback server that stored "
        "the body and answered with the recording",
        "call": prepared.description,
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


def _prepare_clients() -> None:
    """No price-list download, no telemetry; ``vertexai`` for LiteLLM's import check (see the docstring)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LANGSMITH_TRACING", "false")
    if "vertexai" not in sys.modules and importlib.util.find_spec("vertexai") is None:
        stand_in = types.ModuleType("vertexai")
        stand_in.preview = types.ModuleType("vertexai.preview")  # type: ignore[attr-defined]
        sys.modules["vertexai"] = stand_in


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
    missing = sorted(
        {c.package for c in clients if importlib.util.find_spec(c.package.replace("-", "_")) is None}
    )
    if missing:
        install = "pip install -e '.[dev,clients]'"
        parser.exit(2, f"capture_client_bodies: error: {', '.join(missing)} not installed: {install}\n")
    _prepare_clients()
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
