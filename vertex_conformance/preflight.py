"""One request before the tests of a live or record run: can the target answer them at all?

Why: when the base URL does not serve the Vertex path, the credentials are refused or the model is
gone, every test fails for that one cause (a server without the path gave 117 failed tests and
about 520 findings), and the cause drowns in them. The plain form's request, sent once to the
documented path before any test, tells these apart, and the run stops with one line that names
the cause and what to do (``PreflightError``, a ``ConfigError``: exit 4, no report touched).

What stops the run: no whole answer (nothing listens, TLS refused, a timeout: infra), a 429 or 5xx that
outlasts the run's own retry policy (infra), 401/403 (credentials), 404 (the path, or the model:
a retired model answers "Publisher Model … not found"), and an answer that is not JSON (not a
Chat Completions server). Any other answer, a 400 with a JSON error included, is left to the tests:
judging it is their job. Replay sends nothing, so it has no preflight.
"""

from __future__ import annotations

import httpx
import orjson

from . import lanes, resilience, targets
from .auth import TokenSource
from .config import ConfigError, RunConfig
from .error_excerpt import error_excerpt
from .exchange import Exchange, parse_json
from .paths import FIXTURES
from .scrub import Scrubber
from .vocabulary import Target

EXCERPT = 300  # characters of a non-Google answer quoted in the line: enough for an HTML title
RETIREMENT = (
    "it may be retired: Vertex announced the Gemini 2.5 models (the old default gemini-2.5-flash) for "
    "discontinuation no earlier than 2026-10-16; pass a current model with --model (or VERTEX_MODEL)"
)


class PreflightError(ConfigError):
    """The target cannot answer the suite's requests; the message is the one line that says why."""


def check(cfg: RunConfig, tokens: TokenSource | None, scrubber: Scrubber) -> None:
    """Send the plain form's request once (live and record runs only) and raise ``PreflightError``,
    scrubbed of the run's secrets, when the answer shows that no test could be judged."""
    if not cfg.mode.sends:
        return
    call = plain_call(cfg)
    try:
        exchange = lanes.run_httpx(call, tokens)
    except (lanes.TransportError, httpx.HTTPError) as exc:
        problem = (
            f"{call.url} gave no whole answer: {' '.join(str(exc).split())} (infra, not a conformance "
            "verdict); check --base-url, the network and the timeouts"
        )
    else:
        problem = diagnose(exchange, cfg, call.url)
    if problem is not None:
        raise PreflightError(scrubber.scrub(f"preflight: {problem}"))


def plain_call(cfg: RunConfig) -> lanes.Call:
    """The plain form's request as the suite sends it: to ``endpoints/openapi`` with the run's model,
    or to the self-deployed endpoint without one, with the run's timeouts and retry policy."""
    body = orjson.loads((FIXTURES / "requests" / "plain.json").read_bytes())
    if cfg.target is Target.GEMINI:
        base, body = targets.openapi_base_url(cfg), {"model": targets.wire_model(cfg), **body}
    else:
        base = targets.endpoint_base_url(cfg)
    body.setdefault("max_tokens", cfg.max_output_tokens)
    return lanes.Call(
        base,
        body,
        timeouts=cfg.timeouts(),
        retry=cfg.retry_policy(),
        max_response_bytes=cfg.max_response_bytes,
    )


def diagnose(exchange: Exchange, cfg: RunConfig, url: str) -> str | None:
    """Why the preflight answer means no test can be judged (one line, not yet scrubbed), or None."""
    status, text = exchange.status, exchange.body_text or exchange.stream_text or ""
    quoted = error_excerpt(text, EXCERPT) or "an empty body"
    if resilience.classify(exchange):
        attempts = exchange.notes.get("attempts", "1 attempt")
        return (
            f"{url} answered {status} ({quoted}; {attempts}): the service is rate-limited or unavailable "
            "(infra, not a conformance verdict); try again later or raise --max-attempts/--max-retry-wait"
        )
    if cfg.target is Target.GEMINI and _model_missing(status, text, cfg.model):
        model = targets.wire_model(cfg)
        return f"the model {model} is not served at {url} ({status}: {quoted}): {RETIREMENT}"
    if status == 404:
        endpoint = " and --endpoint-id" if cfg.target is Target.ENDPOINT else ""
        return (
            f"{url} answered 404 ({quoted}): the server does not serve the documented path; check "
            "--base-url (a gateway's path prefix belongs in it: https://gw.example/proxy/vertex), "
            f"--project, --location, --api-version{endpoint}"
        )
    if status in (401, 403):
        return (
            f"{url} answered {status} ({quoted}): the credentials were refused; run `gcloud auth "
            "application-default login` or set VERTEX_ACCESS_TOKEN, and check that the account may "
            "use Vertex AI in the --project"
        )
    try:
        parse_json(text)
    except ValueError:
        kind = exchange.headers.get("content-type", "no content type")
        return (
            f"{url} answered {status} with a body that is not JSON ({kind}: {quoted}): it does not "
            "look like a Chat Completions server; check --base-url"
        )
    return None


def _model_missing(status: int, text: str, model: str) -> bool:
    """Vertex's answer for a model it does not serve (404, or 400 on some paths): "Publisher Model
    `…/models/<id>` was not found or your project does not have access to it"; or a 404 naming the
    model. A 400 that merely names it ("… is not enabled for models/<id>") is left to the tests."""
    message = error_excerpt(text, len(text)).lower()
    if status in (400, 404) and "publisher model" in message and "not found" in message:
        return True
    return status == 404 and model.lower() in message
