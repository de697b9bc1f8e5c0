"""Cassettes: how traffic is recorded, matched, stored and replayed (vcrpy + pytest-recording).

The plugin wires this in twice: ``vcr_config(secrets=...)`` is what pytest-recording's
``vcr_config`` fixture returns, and ``configure_vcr(vcr)`` runs in its
``pytest_recording_configure`` hook to register the serializer, persister and matcher named there
(and to make the same configuration the default, in case the fixture is not ours).

Recording never keeps a secret:

- only ``httpx`` and ``httpx2`` are patched (``skip_patchers``), so google-auth's token exchange,
  which goes through ``requests``/``urllib3``, is invisible to the recorder; any token-endpoint
  request that does reach it is dropped as well (``is_token_exchange``);
- credential headers (``redaction.SENSITIVE_HEADERS``) are dropped from requests and responses;
- the run's secret values (``secrets``: a ``scrub.Scrubber``, or the live project ids) are
  replaced by their placeholders (``{PROJECT}``...) in URLs, headers and bodies, in every spelling
  the Scrubber knows (plain, JSON-escaped, URL-encoded), and URLs get placeholders
  (``with_placeholders``);
- ``redaction.find_secrets`` guards twice, raising ``SecretInCassetteError`` (kinds, never values):
  each request and response as it is recorded, so the error surfaces from the HTTP call that
  carried the secret while vcrpy can still unwind cleanly; and, as the last gate, the finished
  cassette text, which also sees what only decoding reveals (a JSON ``\\u002e`` escape, say),
  the run's secret values included.
  vcrpy's ``__exit__`` skips unpatching when saving raises, so after that last gate fires the
  process keeps stale patches: stop the run, fix the filter, record again.

vcrpy runs ``before_record_request`` on the live request before every match, and on each stored
request as a cassette loads, so placeholders apply on both sides of a match. Requests match on
method, the rewritten path, the query and the body compared as parsed JSON (``json_body``), never
on scheme, host or port: a cassette recorded against a local server replays against any base URL,
and a lane or SDK that starts sending a different body stops matching, which is the regression
signal we want. "Parsed JSON" compares by ``json_equality``'s rule (``1`` is ``1.0``, ``true`` is
not ``1``).

The file format (``CassetteSerializer``; files end in ``.yaml``) is meant to be read in review:

    meta: {format, source, recorded_at, recorded_against, samples, test, clients}
    interactions:
    - request:  {method, uri, headers, body}
      response: {status, headers, body}

A body is one of ``json:`` (a JSON body stored parsed, as YAML), ``sse:`` (a ``text/event-stream``
body as a literal block, one ``data:`` line per event, plus ``newline: "\\r\\n"`` when the stream
used CRLF) or ``string:`` (anything else, also any SSE text a literal block cannot hold exactly).
On replay an SSE body is byte-identical to what was recorded; a JSON body is *equivalent* JSON
(same values, compact layout, ``content-length`` recomputed), not the same bytes. JSON that would
not survive that (duplicate keys, NaN, out-of-range numbers) is kept as ``string:`` instead.
Lines are never folded, so a token cannot be split across lines past the secret scan.

``meta.source`` says where the answers came from: ``documented-sample`` when every response
carried the sample server's ``x-conformance-sample`` header (stripped from the stored response;
``samples`` lists the file names, one per interaction, in order; ``reported-behaviour-sample`` when
one of them is a ``reported/`` sample, built from behaviour users reported rather than from the
documentation), ``live-recording`` when a host
ends in ``googleapis.com``, else ``local-server``.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import platform
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import yaml
from vcr import VCR
from vcr.patch import PATCHER_NAMES
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request
from vcr.serialize import deserialize, serialize
from vcr.util import read_body

from .atomic import write_text
from .json_equality import Difference, Why, differences, same
from .redaction import find_secrets, is_sensitive_header
from .resilience import RetryPolicy
from .scrub import ENDPOINT, PROJECT, Scrubber

FORMAT = 1
SAMPLE_HEADER = "x-conformance-sample"
DOCUMENTED_SAMPLE, LIVE_RECORDING, LOCAL_SERVER = "documented-sample", "live-recording", "local-server"
# Answers the sample server builds from docs/spec.md#reported-behaviour (not the seed page):
REPORTED_SAMPLE = "reported-behaviour-sample"
REPORTED_PREFIX = "reported/"
LOCATION = "{LOCATION}"  # not a secret, only a deployment detail: URLs get it, bodies keep theirs

# pytest-recording names cassette files after the serializer (".{name}") and its "rewrite" mode
# deletes that file, so the serializer is registered as "yaml". A forgotten configure_vcr still
# fails loudly: vcrpy rejects the unregistered "json_body" matcher.
SERIALIZER_NAME = "yaml"
MATCH_ON = ("method", "path", "query", "json_body")
PATCHED = ("httpx", "httpx2")
SKIP_PATCHERS = tuple(name for name in PATCHER_NAMES if name not in PATCHED)

_CLIENTS = ("openai", "httpx", "httpx2", "vcrpy")
_WIDTH = 1 << 30  # never fold lines
_current_test: str | None = None


class CassetteError(Exception):
    """A cassette file exists but cannot be read as one of ours."""

    def __init__(self, path: os.PathLike[str] | str, reason: str) -> None:
        self.path = Path(path)
        reason = " ".join(reason.split())
        super().__init__(
            f"cassette {self.path} is unreadable ({reason}); delete it and record it again "
            "(run the test with --mode record)"
        )


class SecretInCassetteError(Exception):
    """A recording would hold a credential; it was not written."""

    def __init__(self, what: str, kinds: list[str]) -> None:
        self.kinds = kinds
        super().__init__(
            f"refusing to record {what}: it would contain {' and '.join(kinds)}. Find where it entered "
            "the recording (a header or body the filters in recording.py miss) and filter it there."
        )


def set_current_test(nodeid: str) -> None:
    """Name the test whose cassette is recorded next (one test at a time per process)."""
    global _current_test
    _current_test = nodeid


# --- the lead's two entry points -----------------------------------------------------------------


def vcr_config(*, secrets: Scrubber | Iterable[str] = ()) -> dict[str, Any]:
    """The ``use_cassette`` arguments for every conformance cassette.

    ``secrets`` (the run's Scrubber, or the live project ids) are replaced by their placeholders
    wherever they appear in a recorded request or response, and the last gate refuses a cassette
    that still holds one. Pass the run's one Scrubber, so a value added later (a refreshed token)
    is scrubbed here too."""
    scrubber = Scrubber.of(secrets)
    return {
        "serializer": SERIALIZER_NAME,
        "match_on": MATCH_ON,
        "decode_compressed_response": True,
        "skip_patchers": SKIP_PATCHERS,
        "before_record_request": functools.partial(filter_request, scrubber=scrubber),
        "before_record_response": functools.partial(filter_response, scrubber=scrubber),
        "persister": AtomicPersister(scrubber),
    }


def configure_vcr(vcr: VCR, *, secrets: Scrubber | Iterable[str] = ()) -> None:
    """Register our serializer and matcher on ``vcr`` (pytest_recording_configure).

    It also makes ``vcr_config(secrets=secrets)`` the instance's defaults (each key is a ``VCR``
    attribute of that name, the persister included), so the filters hold even where the
    ``vcr_config`` fixture is not the one pytest picked: pytest-recording's own empty fixture wins
    over one from a ``-p`` plugin."""
    vcr.register_serializer(SERIALIZER_NAME, CassetteSerializer)
    vcr.register_matcher("json_body", json_body)
    for name, value in vcr_config(secrets=secrets).items():
        setattr(vcr, name, value)


# --- what gets recorded --------------------------------------------------------------------------

_PATH_PLACEHOLDERS = (
    (re.compile(r"/projects/[^/]+(?=/|$)"), f"/projects/{PROJECT}"),
    (re.compile(r"/locations/(?!global(?:/|$))[^/]+(?=/|$)"), f"/locations/{LOCATION}"),
    (re.compile(r"/endpoints/(?!openapi(?:/|$))[^/]+(?=/|$)"), f"/endpoints/{ENDPOINT}"),
)
# Where the documented path starts; whatever precedes it is a gateway's prefix (``--base-url``).
_DOCUMENTED_PATH = re.compile(r"/v1(?:beta1)?/projects/")
_REGIONAL_HOST = re.compile(r"^[A-Za-z0-9-]+(?=-aiplatform\.googleapis\.com(?::\d+)?$)")

_TOKEN_HOSTS = frozenset(
    {
        "oauth2.googleapis.com",
        "accounts.google.com",
        "sts.googleapis.com",
        "iamcredentials.googleapis.com",
        "metadata.google.internal",
        "169.254.169.254",
    }
)
_TOKEN_PATH = re.compile(r"(/token|:generateAccessToken|:generateIdToken)$")


def with_placeholders(url: str) -> str:
    """``url`` with project, location and endpoint id replaced by placeholders, and without the path
    prefix of a gateway (``--base-url https://gw.example/proxy/vertex``): a cassette holds the
    documented path, wherever it was recorded, so it replays against any base URL.

    ``global`` and ``openapi`` stay literal: they are the forms under test, not deployment details."""
    parts = urlsplit(url)
    documented = _DOCUMENTED_PATH.search(parts.path)
    path = parts.path[documented.start() :] if documented else parts.path
    for pattern, placeholder in _PATH_PLACEHOLDERS:
        path = pattern.sub(placeholder, path)
    netloc = _REGIONAL_HOST.sub(LOCATION, parts.netloc)
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def is_token_exchange(request: Request) -> bool:
    """Whether ``request`` is an OAuth token request (it must never be recorded)."""
    if (request.host or "").lower() in _TOKEN_HOSTS or _TOKEN_PATH.search(request.path):
        return True
    content_type = str(request.headers.get("content-type", "")).lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return False
    body = read_body(request) or b""
    return "grant_type" in parse_qs(body.decode("utf-8", "replace"))


def _request_header(name: str, value: str, scrubber: Scrubber) -> str:
    value = scrubber.scrub(value)
    return _REGIONAL_HOST.sub(LOCATION, value) if name.lower() == "host" else value


def _guard(what: str, texts: Iterable[str | bytes | None]) -> None:
    """Raise SecretInCassetteError if any of ``texts`` holds a secret (the recorder's first gate)."""
    joined = "\n".join(t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts if t)
    kinds = find_secrets(joined)
    if kinds:
        raise SecretInCassetteError(f"{what} in the cassette of {_current_test or 'this test'}", kinds)


def filter_request(request: Request, *, scrubber: Scrubber | None = None) -> Request | None:
    """vcrpy's ``before_record_request``: drop token requests, credentials and secrets; add placeholders."""
    if is_token_exchange(request):
        return None
    scrubber = Scrubber() if scrubber is None else scrubber
    request.headers = {
        name: _request_header(name, str(value), scrubber)
        for name, value in request.headers.items()
        if not is_sensitive_header(name)
    }
    request.uri = with_placeholders(scrubber.scrub(request.uri))
    body = request.body if isinstance(request.body, bytes) else None
    if body is not None:
        request.body = body = scrubber.scrub(body)
    _guard(f"the request {request.method} {request.uri}", [request.uri, *request.headers.values(), body])
    return request


def filter_response(response: dict[str, Any], *, scrubber: Scrubber | None = None) -> dict[str, Any] | None:
    """vcrpy's ``before_record_response``: drop credential headers, replace secrets. A rate limit or
    server error the lanes retry (429, 502, 503, 504) is not evidence of the form: it is left out,
    so the cassette holds the answer the retry got (and nothing when every attempt failed: infra)."""
    if response["status"]["code"] in RETRIED_STATUSES:
        return None
    scrubber = Scrubber() if scrubber is None else scrubber
    response["headers"] = {
        name: [scrubber.scrub(str(value)) for value in values]
        for name, values in response["headers"].items()
        if not is_sensitive_header(name)
    }
    body = response["body"].get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = scrubber.scrub(body)
    headers = [f"{name}: {value}" for name, values in response["headers"].items() for value in values]
    _guard("a response", [*headers, response["body"].get("string")])
    return response


RETRIED_STATUSES = RetryPolicy().retry_statuses


# --- matching ------------------------------------------------------------------------------------


def json_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: bodies equal as parsed JSON (raw bytes when not JSON). r1 is the live request."""
    recorded, live = _body_value(r2), _body_value(r1)
    if not same(recorded, live):
        first = describe_difference(differences(recorded, live)[0])
        raise AssertionError(f"the request body differs from the recording at {first}")


def _body_value(request: Request) -> Any:
    return parse_body(read_body(request))


def parse_body(raw: bytes | None) -> Any:
    """A request body as the matcher compares it: parsed JSON, raw bytes when not JSON, None when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return bytes(raw)


def describe_difference(difference: Difference) -> str:
    """A body difference in the words of a replay miss: the recording is the first side, the
    request being matched the second (vcrpy's matcher and the replay server both say it so)."""
    recorded, live, path = difference.first, difference.second, difference.path
    if difference.why is Why.ONLY_FIRST:
        return f"{path}: only in the recording"
    if difference.why is Why.ONLY_SECOND:
        return f"{path}: only in this request"
    if difference.why is Why.LENGTH:
        return f"{path}: {len(recorded)} items recorded, {len(live)} in this request"
    return f"{path}: recorded {_short(recorded)}, this request {_short(live)}"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:80] + "…"


# --- the file format -----------------------------------------------------------------------------


class _Literal(str):
    """A string the dumper writes as a YAML literal block."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # no &anchors: every value is written where it is
        return True


_Dumper.add_representer(
    _Literal, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
)


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=_WIDTH)


def _media_type(headers: Mapping[str, Any]) -> str:
    for name, values in headers.items():
        if name.lower() == "content-type":
            value = values[0] if isinstance(values, list) and values else values
            return str(value).split(";")[0].strip().lower()
    return ""


def _strict_json(text: str) -> Any:
    """Parse JSON that survives a trip through YAML unchanged in meaning, or raise ValueError."""

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    def finite(number: str) -> float:
        if not math.isfinite(value := float(number)):
            raise ValueError("number out of range")
        return value

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, object_pairs_hook=unique_keys, parse_float=finite, parse_constant=no_constants)


def _encode_sse(text: str) -> dict[str, Any] | None:
    """The ``sse:`` form of a stream, or None when a literal block cannot hold it byte for byte."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.replace("\r\n", "\n") if newline == "\r\n" else text
    if "\r" in lines or lines.replace("\n", newline) != text:
        return None
    dumped = _dump(_Literal(lines))
    if not dumped.startswith("|") or yaml.safe_load(dumped) != lines:
        return None
    return {"sse": _Literal(lines), "newline": newline} if newline != "\n" else {"sse": _Literal(lines)}


def _encode_body(body: Any, media_type: str) -> dict[str, Any]:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return {"string": bytes(body)}  # written as !!binary
    if isinstance(body, str):
        if media_type == "text/event-stream" and (sse := _encode_sse(body)):
            return sse
        if "json" in media_type:
            with suppress(ValueError):
                return {"json": _strict_json(body)}
    return {"string": body}


def _decode_body(body: Any, where: str) -> bytes | None:
    if not isinstance(body, dict):
        raise ValueError(f"{where}: body is not a mapping")
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if "sse" in body:
        newline = body.get("newline", "\n")
        if not isinstance(body["sse"], str) or newline not in ("\n", "\r\n"):
            raise ValueError(f"{where}: sse body is not text with a \\n or \\r\\n newline")
        return body["sse"].replace("\n", newline).encode("utf-8")
    if "string" in body:
        value = body["string"]
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise ValueError(f"{where}: string body is neither text nor binary")
    raise ValueError(f"{where}: body has none of json, sse, string")


def _headers_out(headers: Mapping[str, list[str]]) -> dict[str, Any]:
    return {name: values[0] if len(values) == 1 else list(values) for name, values in headers.items()}


def _headers_in(headers: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(headers, dict):
        raise ValueError(f"{where}: headers are not a mapping")
    return {
        str(name): [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for name, value in headers.items()
    }


def _origin(uri: str) -> tuple[str, str]:
    """Scheme and host (no user info, no port) of a recorded URI, placeholders kept."""
    parts = urlsplit(uri)
    host = re.sub(r":\d+$", "", parts.netloc.rpartition("@")[2])
    return parts.scheme, host


@functools.cache
def client_versions() -> dict[str, str | None]:
    """Versions of the Python runtime and the client libraries, for provenance."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _CLIENTS:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _provenance(uris: list[str], samples: list[str | None]) -> dict[str, Any]:
    origins = [_origin(uri) for uri in uris]
    if samples and all(samples):
        reported = any(str(sample).startswith(REPORTED_PREFIX) for sample in samples)
        source = REPORTED_SAMPLE if reported else DOCUMENTED_SAMPLE
    elif any(host.lower().endswith("googleapis.com") for _, host in origins):
        source = LIVE_RECORDING
    else:
        source = LOCAL_SERVER
    meta: dict[str, Any] = {
        "format": FORMAT,
        "source": source,
        "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recorded_against": f"{origins[0][0]}://{origins[0][1]}" if origins else None,
    }
    if source in (DOCUMENTED_SAMPLE, REPORTED_SAMPLE):
        meta["samples"] = samples
    meta["test"] = _current_test
    meta["clients"] = dict(client_versions())
    return meta


class CassetteSerializer:
    """vcrpy serializer for the format described in the module docstring."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        interactions, uris, samples = [], [], []
        for interaction in cassette_dict["interactions"]:
            request, response = interaction["request"], interaction["response"]
            headers = {k: v for k, v in response["headers"].items() if k.lower() != SAMPLE_HEADER}
            sample = next((v for k, v in response["headers"].items() if k.lower() == SAMPLE_HEADER), [None])
            uris.append(request["uri"])
            samples.append(sample[0])
            interactions.append(
                {
                    "request": {
                        "method": request["method"],
                        "uri": request["uri"],
                        "headers": _headers_out(request["headers"]),
                        "body": _encode_body(request["body"], _media_type(request["headers"])),
                    },
                    "response": {
                        "status": response["status"],
                        "headers": _headers_out(headers),
                        "body": _encode_body(response["body"]["string"], _media_type(headers)),
                    },
                }
            )
        document: dict[str, Any] = {"meta": _provenance(uris, samples), "interactions": interactions}
        if cassette_dict.get("metadata"):
            document["metadata"] = cassette_dict["metadata"]
        return _dump(document)

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        document = _load_document(text)
        meta, items = document["meta"], document["interactions"]
        samples = meta.get("samples") if meta.get("source") == DOCUMENTED_SAMPLE else None
        restore = isinstance(samples, list) and len(samples) == len(items)
        interactions = []
        for index, item in enumerate(items):
            where = f"interaction {index}"
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("request"), dict)
                or not isinstance(item.get("response"), dict)
            ):
                raise ValueError(f"{where}: needs a request and a response mapping")
            request, response = item["request"], item["response"]
            if not isinstance(request.get("method"), str) or not isinstance(request.get("uri"), str):
                raise ValueError(f"{where}: the request needs a method and a uri")
            status = response.get("status")
            if not isinstance(status, dict) or not isinstance(status.get("code"), int):
                raise ValueError(f"{where}: the response needs a status code")
            headers = _headers_in(response.get("headers", {}), where)
            body = _decode_body(response.get("body"), f"{where} response")
            if "json" in response["body"]:
                for name in headers:
                    if name.lower() == "content-length":
                        headers[name] = [str(len(body or b""))]
            if restore:  # so a re-recorded cassette keeps the provenance of the interactions it keeps
                headers[SAMPLE_HEADER] = [str(samples[index])]
            interactions.append(
                {
                    "request": {
                        "method": request["method"],
                        "uri": request["uri"],
                        "body": _decode_body(request.get("body", {"string": None}), f"{where} request"),
                        "headers": _headers_in(request.get("headers", {}), where),
                    },
                    "response": {"status": dict(status), "headers": headers, "body": {"string": body}},
                }
            )
        result: dict[str, Any] = {"version": 1, "interactions": interactions}
        if document.get("metadata"):
            result["metadata"] = copy.deepcopy(document["metadata"])
        return result


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: cassettes load on every test


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> Any:
    """Parsed once per text: a replayed test reads its cassette for the report and again for vcrpy."""
    return yaml.load(text, Loader=_LOADER)


def _load_document(text: str) -> dict[str, Any]:
    """The parsed cassette, checked for its three keys. It is the cached object itself, so it is
    read, never changed: what callers hand on, they copy."""
    document = _parse(text)
    if not isinstance(document, dict):
        raise ValueError("the top level is not a mapping")
    if not isinstance(document.get("meta"), dict):
        raise ValueError("no meta mapping (not a vertex-conformance cassette)")
    if not isinstance(document.get("interactions"), list):
        raise ValueError("no interactions list")
    return document


def _reason(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"invalid YAML: {exc.problem} at line {exc.problem_mark.line + 1}"
    if isinstance(exc, yaml.YAMLError):
        return f"invalid YAML: {exc}"
    return str(exc) or type(exc).__name__


def read_meta(path: os.PathLike[str] | str) -> dict[str, Any]:
    """The ``meta`` mapping of a cassette file, for reports. Raises CassetteError if it is not one."""
    try:
        return copy.deepcopy(_load_document(Path(path).read_text(encoding="utf-8"))["meta"])
    except (yaml.YAMLError, ValueError) as exc:
        raise CassetteError(path, _reason(exc)) from exc


# --- the files -----------------------------------------------------------------------------------


class AtomicPersister:
    """vcrpy persister: atomic writes behind the secret gate, and loud errors for corrupt files.

    An instance holds the run's Scrubber for the last gate; loading needs none (a static method,
    which the replay server and maintainer tools call on the class)."""

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        self.scrubber = Scrubber() if scrubber is None else scrubber

    @staticmethod
    def load_cassette(cassette_path: os.PathLike[str] | str, serializer: Any) -> Any:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CassetteError(path, "not UTF-8 text") from exc
        if not text.strip():
            raise CassetteNotFoundError()  # vcrpy's rule: an empty file is recorded again
        try:
            return deserialize(text, serializer)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CassetteError(path, _reason(exc)) from exc

    def save_cassette(
        self, cassette_path: os.PathLike[str] | str, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        path = Path(cassette_path)
        text = serialize(cassette_dict, serializer)
        kinds = find_secrets(text, self.scrubber)
        if kinds:
            raise SecretInCassetteError(f"cassette {path}", kinds)
        write_text(path, text)



