"""Checks of the request as it went on the wire: the URL, the auth header and the body shape
that the documented target expects. They catch a lane (or an SDK) that sends the wrong thing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from ..requirements import Source
from . import Context, Violation, check

_GEMINI_PATH = re.compile(r"/v1(beta1)?/projects/[^/]+/locations/([^/]+)/endpoints/openapi/chat/completions$")
_ENDPOINT_PATH = re.compile(
    r"/v1(beta1)?/projects/[^/]+/locations/([^/]+)/endpoints/(?!openapi/)[^/]+/chat/completions$"
)


def _path(ctx: Context) -> str:
    return urlsplit(ctx.exchange.request.url).path if ctx.exchange.request else ""


def _googleapis(ctx: Context) -> bool:
    host = urlsplit(ctx.exchange.request.url).hostname if ctx.exchange.request else None
    return bool(host and host.endswith("aiplatform.googleapis.com"))


@check(
    "request.model-prefixed",
    "Requests to endpoints/openapi name the Gemini model as google/<MODEL_ID>.",
    Source.SEED,
    'curl samples: "model": "google/${MODEL_ID}"',
    applies=lambda ctx: bool(_GEMINI_PATH.search(_path(ctx))) and isinstance(ctx.request, dict),
)
def model_prefixed(ctx: Context) -> Iterator[Violation]:
    model = ctx.request.get("model")
    if not (isinstance(model, str) and model.startswith("google/") and len(model) > len("google/")):
        yield "$.request.body.model", f"expected 'google/<MODEL_ID>', sent {model!r}"


@check(
    "request.endpoint-no-model",
    "Requests to a self-deployed endpoints/{ENDPOINT} carry no model field.",
    Source.SEED,
    "Selbst bereitgestelltes Modell: the body has only messages (and stream)",
    applies=lambda ctx: bool(_ENDPOINT_PATH.search(_path(ctx))) and isinstance(ctx.request, dict),
)
def endpoint_no_model(ctx: Context) -> Iterator[Violation]:
    if "model" in ctx.request:
        yield "$.request.body.model", f"self-deployed endpoints take no model; sent {ctx.request['model']!r}"


@check(
    "request.host-matches-location",
    "locations/global goes to aiplatform.googleapis.com, a region to {LOCATION}-aiplatform.googleapis.com.",
    Source.SEED,
    "Globalen Endpunkt verwenden; REST samples",
    applies=lambda ctx: (
        _googleapis(ctx) and bool(_GEMINI_PATH.search(_path(ctx)) or _ENDPOINT_PATH.search(_path(ctx)))
    ),
)
def host_matches_location(ctx: Context) -> Iterator[Violation]:
    match = _GEMINI_PATH.search(_path(ctx)) or _ENDPOINT_PATH.search(_path(ctx))
    location = match.group(2)
    host = urlsplit(ctx.exchange.request.url).hostname
    expected = (
        "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
    )
    if host != expected:
        yield "$.request.url", f"locations/{location} must go to {expected}, went to {host}"


@check(
    "request.bearer-auth",
    "Requests authenticate with Authorization: Bearer <access token>.",
    Source.SEED,
    'curl samples: -H "Authorization: Bearer $(gcloud auth print-access-token)"',
    applies=lambda ctx: ctx.exchange.request is not None and bool(ctx.exchange.request.headers),
)
def bearer_auth(ctx: Context) -> Iterator[Violation]:
    value = ctx.exchange.request.headers.get("authorization", "")
    if not value.startswith("Bearer "):
        yield "$.request.headers.authorization", "no 'Authorization: Bearer …' header was sent"
