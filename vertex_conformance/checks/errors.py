"""Error bodies that agree with themselves and with the HTTP status (Google's error model).

Vertex answers errors as ``google.rpc.Status`` in JSON: ``{"error": {"code", "message", "status",
"details"}}`` (docs/spec.md#known-quirks), where ``code`` is the HTTP status and ``status`` the
canonical name of the error. A client that branches on either must get the same answer from both:
``"code": 400, "status": "OK"`` or a 429 whose body says 500 leaves it guessing. The names each
HTTP status may carry are google.rpc.Code's mapping. The shape itself (keys, types, the reported
array wrapper) is ``schema.error``'s; these checks judge only the values of an object in Google's
shape (an integer ``code``), so OpenAI-shaped errors are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..requirements import Source
from . import NOTHING, Context, Yielded, check
from ._predicates import is_error_body

GOOGLE_ERRORS = (
    "docs/spec.md#known-quirks: errors in Google's shape; google.rpc.Code "
    "(https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto) maps each to an HTTP status"
)

# google.rpc.Code: the canonical names each HTTP status stands for (code.proto, "HTTP Mapping").
CANONICAL_NAMES: dict[int, tuple[str, ...]] = {
    400: ("INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"),
    401: ("UNAUTHENTICATED",),
    403: ("PERMISSION_DENIED",),
    404: ("NOT_FOUND",),
    409: ("ABORTED", "ALREADY_EXISTS"),
    429: ("RESOURCE_EXHAUSTED",),
    499: ("CANCELLED",),
    500: ("INTERNAL", "UNKNOWN", "DATA_LOSS"),
    501: ("UNIMPLEMENTED",),
    503: ("UNAVAILABLE",),
    504: ("DEADLINE_EXCEEDED",),
}


def _google_errors(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """``(path, error object)`` for every error object of the body in Google's shape (an integer
    ``code``): the body's own, or each of the reported array wrapper's."""
    body = ctx.exchange.body
    wrappers = [("$.error_body", body)] if isinstance(body, dict) else []
    if isinstance(body, list):
        wrappers = [(f"$.error_body[{position}]", item) for position, item in enumerate(body)]
    out = []
    for path, wrapper in wrappers:
        error = wrapper.get("error") if isinstance(wrapper, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, int) and not isinstance(code, bool):
            out.append((f"{path}.error", error))
    return out


@check(
    "error.status-name",
    "An error body's status is a google.rpc.Code name its code stands for (400: INVALID_ARGUMENT, "
    "FAILED_PRECONDITION or OUT_OF_RANGE; 404: NOT_FOUND; 429: RESOURCE_EXHAUSTED; …).",
    Source.REPORTED,
    GOOGLE_ERRORS,
    applies=is_error_body,
)
def status_name(ctx: Context) -> Iterator[Yielded]:
    judged = 0
    for path, error in _google_errors(ctx):
        names = CANONICAL_NAMES.get(error["code"])
        if names is None or not isinstance(error.get("status"), str):
            continue  # a code the model does not map, or no status: schema.error reports a missing one
        judged += 1
        if error["status"] not in names:
            meant = " or ".join(names)
            yield f"{path}.status", f"status {error['status']!r} does not name code {error['code']} ({meant})"
    if not judged:
        yield NOTHING


@check(
    "error.code-http",
    "An error body's code equals the HTTP status it was answered with.",
    Source.REPORTED,
    GOOGLE_ERRORS,
    applies=lambda ctx: is_error_body(ctx) and ctx.exchange.status != 0,
)
def code_http(ctx: Context) -> Iterator[Yielded]:
    errors = _google_errors(ctx)
    if not errors:
        yield NOTHING  # no error object in Google's shape: schema.error reports it
    for path, error in errors:
        if error["code"] != ctx.exchange.status:
            yield f"{path}.code", f"code {error['code']} in an answer with HTTP status {ctx.exchange.status}"
