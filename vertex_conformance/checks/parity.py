"""Lane parity: the SDK lane must put the same JSON on the wire as the raw lane.

This compares two exchanges, so it is a comparison the suite calls, not a per-exchange check. The
documented SDK form of extra_body (``extra_body={"extra_body": {...}}``) only works because the SDK
merges ``extra_body`` into the top level of the body; a release that changed that would send
something else, and this is where it shows. Bodies are compared by ``json_equality``'s rule."""

from __future__ import annotations

from ..exchange import Exchange
from ..findings import Finding
from ..json_equality import Difference, Why, differences
from ..requirements import Source, requirement
from ..vocabulary import SDK_LANES

SAME_WIRE_BODY = requirement(
    "lanes.same-wire-body",
    "The SDK lane sends the same request JSON as the raw lane for the same form.",
    Source.SEED,
    "extra_body mit dem SDK hinzufügen: REST and SDK forms of extra_body",
)


def _message(difference: Difference) -> str:
    """A difference in the words of this check: the raw lane is the first side, the SDK the second."""
    raw, sdk = difference.first, difference.second
    if difference.why is Why.ONLY_FIRST:
        return f"raw lane sent {raw!r:.80}; the SDK sent nothing"
    if difference.why is Why.ONLY_SECOND:
        return f"the SDK added {sdk!r:.80}"
    if difference.why is Why.LENGTH:
        return f"raw lane sent {len(raw)} items, the SDK sent {len(sdk)}"
    return f"raw lane sent {raw!r:.80}, the SDK sent {sdk!r:.80}"


def compare_wire_bodies(raw: Exchange, sdk: Exchange) -> dict[str, list[Finding]]:
    """``{"lanes.same-wire-body": findings}`` for two exchanges of one form (raw lane first)."""
    if raw.lane in SDK_LANES or sdk.lane not in SDK_LANES:
        raise ValueError("compare_wire_bodies takes the raw-lane exchange first, then the SDK lane's")
    raw_body = raw.request.body if raw.request else None
    sdk_body = sdk.request.body if sdk.request else None
    findings = [
        Finding(SAME_WIRE_BODY.id, difference.path, _message(difference))
        for difference in differences(raw_body, sdk_body, "$.request.body")
    ]
    return {SAME_WIRE_BODY.id: findings}
