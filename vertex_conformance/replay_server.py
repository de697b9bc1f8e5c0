"""``vertex-conformance serve``: recorded Vertex traffic on loopback, for SDKs in any language.

An SDK release gate runs the SDK's own tests against this server instead of Vertex. It loads every
cassette under a directory (default: the shipped ``fixtures/cassettes/vertex``) and answers each
request with the response recorded for it:

- **Matching.** A request matches a recorded one when the method, the path and the body agree.
  Paths are compared after ``recording.with_placeholders``, so any project, location and endpoint
  id matches (``global`` and ``openapi`` stay literal: a regional request never gets a global
  recording). Bodies are compared as parsed JSON by their meaning (``matching``: the token limit's
  three names, ``"stream": false``, ``stream_options``, an empty model on a self-deployed endpoint;
  ``--match exact`` compares them as they are), with ``json_equality``'s rule underneath (``true``
  is not ``1``, ``1`` is ``1.0``). The query string is not compared. Identical requests recorded in
  several cassettes (both lanes of one form) get the answer of the first cassette in path order.
- **Answers.** The recorded status, headers and body. Hop-by-hop and framing headers are not
  replayed (the body is framed anew) and neither are ``date`` and ``server`` (uvicorn sends its
  own); ``x-conformance-cassette`` names the recording that answered. An SSE body goes out one
  event per write, each flushed before the next (``--event-delay`` pauses between them). A stream
  is never reshaped: a request asking ``stream_options.include_usage`` gets the recorded usage
  (Vertex's, on the last chunk), and ``x-conformance-warning`` when its recording holds none.
- **Misses.** A request nothing matches gets a 404 in Google's error shape whose message and
  ``details`` (a ``google.rpc.ErrorInfo``) name the closest recording and every place (JSON path)
  where its body differs by the rule in force, up to ``MAX_SHOWN_DIFFERENCES``, and a recording of
  the same body on another path if there is one. Closest means, in this order: the same
  ``messages`` (the conversation is what a client means; fewest differing leaves), the same method
  and path (else the most similar one), the fewest differing leaves in the whole body. Misses are
  also logged on stderr, since an SDK may hide the body of a 404.
- **Auth.** Like Vertex, every request needs ``Authorization: Bearer <token>`` (any token), else 401.
- **Bounds.** One client must not stall or exhaust the server that every other client shares. A body
  longer than ``--max-body-bytes`` (default 8 MiB) gets a 413 as soon as its ``content-length`` or
  the bytes read so far pass the limit; the rest is never read and the connection is closed. A body
  nested more than ``MAX_DEPTH`` arrays and objects deep gets a 400 (recorded bodies go 8 deep; deeper
  ones would exhaust Python's recursion in the parser or the matcher). Parsing and matching run in a
  worker thread, off the event loop, and cost one pass over the body plus work bounded by the
  recordings: the near-miss ranking never walks the request once per recording.
- **Bad cassettes stop the server** (exit 2, one line naming the file) rather than being skipped: a
  skipped recording would come back as 404s that read like an SDK regression.
- **Loopback only.** ``--host`` must be a loopback address; the recordings are not for a network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from vcr.persisters.filesystem import CassetteNotFoundError

from .exchange import nesting_depth
from .json_equality import differences as json_differences
from .json_equality import same
from .loopback import is_loopback, serve
from .matching import Rule, asks_for_usage, counterpart, matches, prepare
from .matching import differences as meaning_differences
from .paths import CASSETTES
from .recording import (
    SAMPLE_HEADER,
    AtomicPersister,
    CassetteError,
    CassetteSerializer,
    describe_difference,
    parse_body,
    with_placeholders,
)
from .stand_in import google_error, sse_events, unauthenticated

PROG = "vertex-conformance"  # cli.py imports this module, so its constants cannot be imported here
EXIT_OK, EXIT_UNUSABLE = 0, 2
DEFAULT_DIRECTORY = CASSETTES / "vertex"
CASSETTE_HEADER = "x-conformance-cassette"
WARNING_HEADER = "x-conformance-warning"
CHAT_SUFFIX = "/chat/completions"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_REPLAYED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server", SAMPLE_HEADER}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MEANING_SUMMARY = (
    'one token limit under three names; "stream": false is no stream; stream_options is ignored; '
    '"model": "" is no model on endpoints/{ENDPOINT}; all else exact'
)
MAX_SHOWN_DIFFERENCES = 100  # a near miss differs in a few places; more would only echo a huge body
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # recorded bodies are a few KiB; inline media stays far below
MAX_DEPTH = 64  # arrays and objects within each other; the shipped recordings go 8 deep


class ReplayError(Exception):
    """The directory cannot be served: it is missing or holds no cassette."""


@dataclass(frozen=True)
class Recording:
    """One recorded interaction: what it matches and what it answers."""

    cassette: str  # the file, relative to the served directory
    index: int  # the interaction's place in the file
    method: str
    path: str  # with placeholders
    body: Any  # parsed JSON; bytes when not JSON; None when empty
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def name(self) -> str:
        return f"{self.cassette} (interaction {self.index})"

    @property
    def streamed(self) -> bool:
        return any(
            name.lower() == "content-type" and value.lower().startswith("text/event-stream")
            for name, value in self.headers
        )


# --- loading -------------------------------------------------------------------------------------


def load_recordings(directory: Path) -> list[Recording]:
    """Every interaction of every cassette under ``directory``, cassettes in path order.

    Raises ``ReplayError`` when there is nothing to serve and ``recording.CassetteError`` (naming the
    file) for a cassette that cannot be read."""
    if not directory.is_dir():
        raise ReplayError(f"{directory} is not a directory of cassettes")
    files = sorted(directory.rglob("*.yaml"))
    if not files:
        raise ReplayError(f"no cassettes (*.yaml) under {directory}")
    return [
        recording
        for file in files
        for recording in load_cassette(file, file.relative_to(directory).as_posix())
    ]


def load_cassette(file: Path, name: str) -> list[Recording]:
    """Every interaction of one cassette, named ``name`` in the answers' ``x-conformance-cassette``.
    Raises ``recording.CassetteError`` (naming the file) when it cannot be read."""
    try:
        requests, responses = AtomicPersister.load_cassette(file, CassetteSerializer)[:2]
    except CassetteNotFoundError as exc:  # vcrpy's word for an empty file
        raise CassetteError(file, "the file is empty") from exc
    except OSError as exc:
        raise CassetteError(file, exc.strerror or str(exc)) from exc
    recordings = []
    for index, (request, response) in enumerate(zip(requests, responses, strict=True)):
        headers = tuple(
            (header, str(value))
            for header, values in response["headers"].items()
            if header.lower() not in _NOT_REPLAYED
            for value in values
        )
        recordings.append(
            Recording(
                name,
                index,
                request.method.upper(),
                route_path(request.uri),
                parse_body(request.body),
                response["status"]["code"],
                headers,
                response["body"]["string"] or b"",
            )
        )
    return recordings


def route_path(url: str) -> str:
    """The path of ``url`` with project, location and endpoint ids replaced by placeholders."""
    return urlsplit(with_placeholders(url)).path


# --- matching ------------------------------------------------------------------------------------


def differences(recorded: Any, live: Any) -> list[str]:
    """Every place where two parsed bodies differ (``<JSON path>: <what>``); empty when they match.

    The rule is ``json_equality``'s, as in the replay matcher: ``true`` is not ``1``, ``1`` is ``1.0``."""
    return [describe_difference(difference) for difference in json_differences(recorded, live)]


def _leaf_counts(value: Any) -> dict[int, int]:
    """The JSON leaves under every array and object of ``value`` (an empty one counts as one leaf),
    keyed by ``id``: counted once, so that ranking never walks a subtree of the request again."""
    containers = []  # parents before their children
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            containers.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    counts: dict[int, int] = {}
    for node in reversed(containers):
        children = node.values() if isinstance(node, dict) else node
        counts[id(node)] = max(1, sum(_weight(child, counts) for child in children))
    return counts


def _weight(value: Any, leaf_counts: dict[int, int]) -> int:
    return leaf_counts[id(value)] if isinstance(value, dict | list) else 1


def _distance(recorded: Any, live: Any, live_leaves: dict[int, int]) -> int:
    """How far apart two bodies are: the JSON leaves their differences involve (those of the larger
    side; for arrays of different length, those of the surplus items), summed.

    The walk follows the recording and looks the request's subtrees up in ``live_leaves``, so one
    recording costs work in proportion to its own size however large the request is: what only the
    request has weighs the request's node less the parts the recording shares with it."""
    recorded_leaves = _leaf_counts(recorded)
    total = 0
    pairs = [(recorded, live)]
    while pairs:
        first, second = pairs.pop()
        if isinstance(first, dict) and isinstance(second, dict):
            shared = [key for key in first if key in second]
            total += sum(_weight(first[key], recorded_leaves) for key in first if key not in second)
            total += _surplus(second, [second[key] for key in shared], live_leaves)
            pairs.extend((first[key], second[key]) for key in shared)
        elif isinstance(first, list) and isinstance(second, list):
            common = min(len(first), len(second))
            total += sum(_weight(item, recorded_leaves) for item in first[common:])
            total += _surplus(second, second[:common], live_leaves)
            pairs.extend(zip(first, second, strict=False))
        elif not same(first, second):
            total += max(_weight(first, recorded_leaves), _weight(second, live_leaves))
    return total


def _surplus(node: dict[str, Any] | list[Any], shared: list[Any], leaf_counts: dict[int, int]) -> int:
    """The leaves of ``node``'s children other than the ``shared`` ones, without visiting them."""
    if len(node) == len(shared):
        return 0
    return leaf_counts[id(node)] - sum(_weight(child, leaf_counts) for child in shared)


def find_recording(
    recordings: Sequence[Recording], method: str, path: str, body: Any, rule: Rule = Rule.MEANING
) -> Recording | None:
    """The first recording of ``method`` ``path`` (placeholders applied) that ``body`` matches by ``rule``."""
    request = prepare(body, path, rule)
    return next(
        (
            r
            for r in recordings
            if r.method == method and r.path == path and matches(prepare(r.body, r.path, rule), request)
        ),
        None,
    )


def explain_miss(
    recordings: Sequence[Recording], method: str, path: str, body: Any, rule: Rule = Rule.MEANING
) -> tuple[str, dict[str, str]]:
    """Why no recording answers: a message naming the closest one, and the same facts as metadata.

    Closest ranks the recordings by their ``messages`` first (fewest differing leaves), then by
    their route (the same, else the most similar), then by the whole body (fewest differing leaves,
    compared by ``rule``); the first in path order wins a tie."""
    route = f"{method} {path}"
    metadata = {"request": route, "match": rule.value}
    if not recordings:
        return f"Nothing is recorded for {route}: the server holds no recordings.", metadata
    request = prepare(body, path, rule)
    live_leaves = _leaf_counts(request.value)
    live_messages = _messages(request.value)
    similarity = {
        other: SequenceMatcher(None, other, route).ratio()
        for other in dict.fromkeys(r.route for r in recordings)
        if other != route
    }

    def rank(recording: Recording) -> tuple[int, float, int]:
        recorded = prepare(recording.body, recording.path, rule)
        return (
            _distance(_messages(recorded.value), live_messages, live_leaves),
            1.0 - similarity.get(recording.route, 1.0),
            _distance(counterpart(recorded, request), request.value, live_leaves),
        )

    closest = min(recordings, key=rank)
    if closest.route == route:
        message = f"No recorded request matches {route} with this body. The closest recording of this path is"
    else:
        message = (
            f"Nothing recorded for {route} matches (project, location and endpoint ids may be anything; "
            f"'global' and 'openapi' must be literal). The closest recorded request is {closest.route}:"
        )
    message += f" {closest.name}"
    metadata.update(closest_request=closest.route, closest_cassette=closest.name)
    diffs = [
        describe_difference(difference)
        for difference in meaning_differences(prepare(closest.body, closest.path, rule), request)
    ]
    if diffs:
        shown = "; ".join(diffs[:MAX_SHOWN_DIFFERENCES])
        if len(diffs) > MAX_SHOWN_DIFFERENCES:
            shown += f"; and {len(diffs) - MAX_SHOWN_DIFFERENCES} more"
        message += f", whose body differs (matching by {rule.value}) at {shown}"
        metadata["body_difference"] = shown
    message += "."
    elsewhere = next(
        (r for r in recordings if r.route != route and matches(prepare(r.body, r.path, rule), request)),
        None,
    )
    if elsewhere is not None:
        message += f" This body is recorded for {elsewhere.route} ({elsewhere.name})."
        metadata["same_body_recorded_for"] = f"{elsewhere.route} ({elsewhere.name})"
    return message, metadata


def _messages(body: Any) -> Any:
    """A body's ``messages`` (None when it has none), what the closest recording is ranked by first."""
    return body.get("messages") if isinstance(body, dict) else None


# --- answering -----------------------------------------------------------------------------------


def create_app(
    recordings: Sequence[Recording],
    *,
    event_delay: float = 0.0,
    report_miss: Callable[[str], None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    match: Rule = Rule.MEANING,
) -> Starlette:
    """The replay server's ASGI app, matching bodies by ``match``. ``report_miss`` is told the
    message of every 404 (from the worker thread that matched the request); a body over
    ``max_body_bytes`` gets a 413."""
    recordings = list(recordings)

    def respond(method: str, url: str, raw: bytes) -> Response:
        """Parse, match and answer: the work that grows with the body, so it runs in a worker thread."""
        try:
            body = parse_body(raw)
        except RecursionError:  # json.loads gives up near Python's recursion limit, ~1000 deep
            return _too_deep(None)
        depth = nesting_depth(body)
        if depth > MAX_DEPTH:
            return _too_deep(depth)
        path = route_path(url)
        found = find_recording(recordings, method, path, body, match)
        if found is None:
            message, metadata = explain_miss(recordings, method, path, body, match)
            if report_miss is not None:
                report_miss(message)
            return _not_found(message, metadata)
        response = answer(found, event_delay)
        if asks_for_usage(body) and found.streamed and not reports_usage(found.content):
            response.headers[WARNING_HEADER] = (
                "stream_options.include_usage is true but the recorded stream reports no usage; "
                "it is replayed as recorded"
            )
        return response

    async def replay(request: Request) -> Response:
        refused = unauthenticated(request)
        if refused is not None:
            return refused
        try:
            raw = await read_body(request, max_body_bytes)
        except ClientDisconnect:  # gone mid-body: nobody reads the answer (nginx's 499), and it is no 500
            return Response(status_code=499)
        if raw is None:
            return _too_large(max_body_bytes)
        return await run_in_threadpool(respond, request.method, str(request.url), raw)

    return Starlette(routes=[Route("/{path:path}", replay, methods=_METHODS)])


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be longer than ``limit`` bytes.

    A ``content-length`` over the limit is refused before any byte is read; otherwise the body is
    read as it arrives and reading stops at the chunk that passes the limit, so a huge body never
    sits in memory (uvicorn itself buffers at most 64 KiB ahead of the app)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _too_large(limit: int) -> Response:
    """Google's error shape with 413, and ``connection: close``: uvicorn then stops reading the
    rest of the body instead of reading and discarding it for the next request on the connection."""
    response = google_error(
        413,
        f"The request body is larger than {limit} bytes, the most this replay server reads "
        "(serve --max-body-bytes).",
    )
    response.headers["connection"] = "close"
    return response


def _too_deep(depth: int | None) -> Response:
    """Google's 400 for a payload it cannot take, naming the depth (None: past what json.loads parses)."""
    nested = "too deep to parse" if depth is None else f"{depth} levels deep"
    return google_error(
        400,
        f"Invalid JSON payload received. The request body is nested {nested}; this replay server "
        f"accepts at most {MAX_DEPTH} levels of arrays and objects within each other.",
    )


def answer(recording: Recording, event_delay: float = 0.0) -> Response:
    """The recorded answer: status, headers (less those not replayed), the body; SSE event by event."""
    response: Response
    if recording.streamed:
        events = _events(recording.content)
        response = StreamingResponse(_paced(events, event_delay), status_code=recording.status)
    else:
        response = Response(recording.content, status_code=recording.status)
    for name, value in recording.headers:
        response.headers.append(name, value)
    response.headers[CASSETTE_HEADER] = quote(recording.name, safe="/[]() -_.,:=")
    return response


def reports_usage(stream: bytes) -> bool:
    """Whether any event of a recorded SSE stream carries a ``usage`` object."""
    for line in stream.splitlines():
        if line.startswith(b"data:"):
            try:
                event = json.loads(line[len(b"data:") :])
            except ValueError:  # [DONE], or a malformed event the recording kept as it came
                continue
            if isinstance(event, dict) and isinstance(event.get("usage"), dict):
                return True
    return False


def _events(data: bytes) -> list[bytes]:
    """One item per SSE event. A CRLF stream (the serializer keeps it as such) is cut at CRLF blank lines."""
    if b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n"):
        return [event.replace(b"\n", b"\r\n") for event in sse_events(data.replace(b"\r\n", b"\n"))]
    return sse_events(data)


async def _paced(events: list[bytes], delay: float) -> AsyncIterator[bytes]:
    for index, event in enumerate(events):
        if index and delay:
            await asyncio.sleep(delay)
        yield event


def _not_found(message: str, metadata: dict[str, str]) -> JSONResponse:
    detail = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "NO_RECORDED_INTERACTION",
        "domain": "vertex-conformance",
        "metadata": metadata,
    }
    error = {"code": 404, "message": message, "status": "NOT_FOUND", "details": [detail]}
    return JSONResponse({"error": error}, status_code=404)


# --- the command ---------------------------------------------------------------------------------


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 60")
    return value


def _byte_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of bytes")
    return int(text)


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the CLI's subcommands; its handler is ``run``."""
    parser = subparsers.add_parser(
        "serve",
        help="serve recorded Vertex exchanges on loopback, for SDK tests in any language",
        description="Answer requests with the responses recorded in cassettes until Ctrl-C or SIGTERM. "
        "Exit 0 after a clean stop; 2 for unreadable cassettes, a non-loopback host or a busy port.",
    )
    parser.add_argument(
        "cassettes",
        nargs="?",
        default=str(DEFAULT_DIRECTORY),
        metavar="CASSETTE_DIR",
        help="directory searched for *.yaml cassettes (default: the shipped fixtures/cassettes/vertex)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default: 0, a free one)")
    parser.add_argument(
        "--event-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="pause between SSE events, to see a client handle a stream as it arrives (default: 0)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_byte_count,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help=f"answer 413 to a request body longer than this, without reading the rest "
        f"(default: {DEFAULT_MAX_BODY_BYTES}, 8 MiB); bodies nested more than {MAX_DEPTH} arrays "
        "and objects deep get 400",
    )
    parser.add_argument(
        "--match",
        type=Rule,
        choices=list(Rule),
        default=Rule.MEANING,
        help=f"how request bodies are compared with the recorded ones: meaning (default: "
        f"{MEANING_SUMMARY}) or exact (as parsed JSON, nothing else)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve ``args.cassettes`` on ``args.host``:``args.port`` until SIGINT or SIGTERM."""
    if not is_loopback(args.host):
        _error(f"--host {args.host} is not a loopback address; the replay server listens on loopback only")
        return EXIT_UNUSABLE
    directory = Path(args.cassettes)
    try:
        recordings = load_recordings(directory)
    except (ReplayError, CassetteError) as exc:
        _error(str(exc))
        return EXIT_UNUSABLE
    app = create_app(
        recordings,
        event_delay=args.event_delay,
        report_miss=_log_miss,
        max_body_bytes=args.max_body_bytes,
        match=args.match,
    )
    with _stop_on_signals() as stopped, ExitStack() as server:
        try:
            url = server.enter_context(serve(app, host=args.host, port=args.port))
        except (OSError, RuntimeError) as exc:
            _error(f"cannot listen on {args.host} port {args.port}: {exc}")
            return EXIT_UNUSABLE
        print("\n".join(announcement(url, directory, recordings, args.match)), flush=True)
        stopped.wait()
    return EXIT_OK


def announcement(
    url: str, directory: Path, recordings: Iterable[Recording], match: Rule = Rule.MEANING
) -> list[str]:
    """What ``serve`` prints on start: where to send which requests, and how bodies are matched."""
    recordings = list(recordings)
    cassettes = len({r.cassette for r in recordings})
    lines = [
        f"Serving {len(recordings)} recorded requests from {cassettes} cassettes in {directory}",
        f"Base URL: {url} (send 'Authorization: Bearer <any token>'; Ctrl-C to stop)",
        f"Bodies match by meaning: {MEANING_SUMMARY}"
        if match is Rule.MEANING
        else "Bodies match exactly: as parsed JSON, nothing else",
    ]
    for route, count in Counter(r.route for r in recordings).items():
        method, path = route.split(" ", 1)
        if path.endswith(CHAT_SUFFIX):
            lines.append(
                f"  base_url {url}{path.removesuffix(CHAT_SUFFIX)}  ({method} {CHAT_SUFFIX}: {count})"
            )
        else:
            lines.append(f"  {method} {url}{path}  ({count})")
    lines.append("{PROJECT}, {LOCATION} and {ENDPOINT} stand for any id; 'global' and 'openapi' are literal.")
    return lines


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT and SIGTERM set, instead of a KeyboardInterrupt traceback or a hard kill."""
    stopped = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stopped.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stopped
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _log_miss(message: str) -> None:
    print(f"{PROG} serve: 404: {message}", file=sys.stderr, flush=True)
