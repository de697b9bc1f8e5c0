"""How an error answer is quoted in one line of a finding, an infra verdict or a preflight stop.

Why not simply its first N characters: a Google error says what went wrong at the end as often as
at the start ("Invalid JSON payload received. Unknown name …" names the field last), and its
``details`` fill the rest with help links. So a Google error body (``{"error": {...}}``, also the
one-element array Vertex sometimes sends) is quoted as its ``status`` and its whole ``message``;
any other body keeps its head and its tail, with ``…`` where the middle was cut.
"""

from __future__ import annotations

import json
from typing import Any

LIMIT = 500  # characters of a body quoted head and tail
MESSAGE_LIMIT = 1000  # characters of a Google error's message: whole, unless it is extraordinarily long
_ELLIPSIS = "…"


def error_excerpt(text: str, limit: int = LIMIT) -> str:
    """``text`` in one line: a Google error's ``STATUS: message``, else its head and tail within
    ``limit`` characters. Scrub secrets before calling: a cut could split one beyond recognition."""
    error = _google_error(text)
    if error is not None:
        message = _cut(" ".join(str(error.get("message", "")).split()), MESSAGE_LIMIT)
        status = error.get("status")
        return f"{status}: {message}" if isinstance(status, str) and status else message
    return _cut(" ".join(text.split()), limit)


def _cut(text: str, limit: int) -> str:
    """The first two fifths and the last three fifths of ``limit``: the explanation is usually last."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head - len(_ELLIPSIS)
    return text[:head] + _ELLIPSIS + text[len(text) - tail :]


def _google_error(text: str) -> dict[str, Any] | None:
    """The ``error`` object of a Google error body, or None when ``text`` is not one."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) and isinstance(error.get("message"), str) else None
