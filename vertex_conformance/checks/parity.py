"""Lane parity: the SDK lane must put the same JSON on the wire as the raw lane.

This compares two exchanges, so it is a comparison the suite calls, not a per-exchange check. The
documented SDK form of extra_body (``extra_body={"extra_body": {...}}``) only works because the SDK
merges ``extra_body`` into the top level of the body; a release that changed that would send
something else, and this is where it shows."""

from __future__ import annotations

from typing import Any

from ..exchange import Exchange
from ..findings import Finding, json_path
from ..requirements import Source, requirement

SAME_WIRE_BODY = requirement(
    "lanes.same-wire-body",
    "The SDK lane sends the same request JSON as the raw lane for the same form.",
    Source.SEED,
    "extra_body mit dem SDK hinzufügen: REST and SDK forms of extra_body",
)


def _differences(raw: Any, sdk: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(raw, dict) and isinstance(sdk, dict):
        out = []
        for key in sorted(set(raw) | set(sdk)):
            if key not in sdk:
                out.append((json_path(path, key), f"raw lane sent {raw[key]!r:.80}; the SDK sent nothing"))
            elif key not in raw:
                out.append((json_path(path, key), f"the SDK added {sdk[key]!r:.80}"))
            else:
                out.extend(_differences(raw[key], sdk[key], json_path(path, key)))
        return out
    if isinstance(raw, list) and isinstance(sdk, list) and len(raw) == len(sdk):
        pairs = enumerate(zip(raw, sdk, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{path}[{i}]")]
    if raw != sdk or type(raw) is not type(sdk):
        return [(path, f"raw lane sent {raw!r:.80}, the SDK sent {sdk!r:.80}")]
    return []


def compare_wire_bodies(raw: Exchange, sdk: Exchange) -> dict[str, list[Finding]]:
    """``{"lanes.same-wire-body": findings}`` for two exchanges of one form (raw lane first)."""
    if raw.lane != "httpx" or sdk.lane not in ("sdk", "sdk-async"):
        raise ValueError("compare_wire_bodies takes the raw-lane exchange first, then the SDK lane's")
    raw_body = raw.request.body if raw.request else None
    sdk_body = sdk.request.body if sdk.request else None
    findings = [
        Finding(SAME_WIRE_BODY.id, path, message)
        for path, message in _differences(raw_body, sdk_body, "$.request.body")
    ]
    return {SAME_WIRE_BODY.id: findings}
