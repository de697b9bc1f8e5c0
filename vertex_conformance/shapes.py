"""The shape of an answer, for snapshots: every key kept, volatile values masked by their type.

A snapshot of the shape shows a new or vanished field as a diff, while ids, timestamps, token
counts and generated text (which differ on every live call) do not. Enum-like values (``object``,
``role``, ``finish_reason``, ``traffic_type`` …) are kept: a changed one is drift worth seeing.
"""

from __future__ import annotations

import json
from typing import Any

from .assembly import assemble
from .exchange import Exchange

KEPT = frozenset(
    {"object", "role", "type", "finish_reason", "traffic_type", "mime_type", "system_fingerprint"}
)


def mask(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if value is None or (key in KEPT and isinstance(value, str)):
        return value
    return f"<{type(value).__name__}>"


def of(exchange: Exchange) -> dict[str, Any]:
    """The shape of an exchange's answer: the body, or for a stream its distinct chunk shapes (in
    first-seen order) and the assembled message."""
    if not exchange.streamed:
        return {"status": exchange.status, "body": mask(exchange.body)}
    distinct: list[Any] = []
    seen: set[str] = set()
    for _, chunk in exchange.chunks:
        shaped = mask(chunk)
        key = json.dumps(shaped, sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(shaped)
    assembled = assemble(exchange.chunks)
    return {
        "status": exchange.status,
        "chunk_shapes": distinct,
        "assembled": {str(i): mask(c.to_message()) for i, c in sorted(assembled.choices.items())},
        "ends_with_done": bool(exchange.sse.events) and exchange.sse.events[-1].data == "[DONE]",
    }
