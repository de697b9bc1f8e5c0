"""Lane parity: a client lane must put the same JSON on the wire as the raw lane.

This compares two bodies, so it is a comparison the suite calls, not a per-exchange check: the lane
parity suite compares the SDK lanes' exchanges with the raw lane's, and every client lane's exchange
is compared with the documented body the raw lane sends (``Exchange.expected_body``). The
documented SDK form of extra_body (``extra_body={"extra_body": {...}}``) only works because the SDK
merges ``extra_body`` into the top level of the body; a release that changed that would send
something else, and this is where it shows. Bodies are compared by ``json_equality``'s rule."""

from __future__ import annotations

from typing import Any

from ..exchange import Exchange
from ..findings import Finding
from ..json_equality import Difference, Why, differences
from ..requirements import Source, requirement
from ..vocabulary import SDK_LANES

SAME_WIRE_BODY = requirement(
    "lanes.same-wire-body",
    "Every lane that is a client (the SDK lanes, openai-node, LiteLLM, LangChain) sends the same request "
    "JSON as the raw lane for the same form.",
    Source.SEED,
    "extra_body mit dem SDK hinzufügen: REST and SDK forms of extra_body",
)


def _message(difference: Difference, who: str) -> str:
    """A difference in this check's words: the raw lane is the first side, the client ``who`` the second."""
    raw, sent = difference.first, difference.second
    if difference.why is Why.ONLY_FIRST:
        return f"raw lane sent {raw!r:.80}; {who} sent nothing"
    if difference.why is Why.ONLY_SECOND:
        return f"{who} added {sent!r:.80}"
    if difference.why is Why.LENGTH:
        return f"raw lane sent {len(raw)} items, {who} sent {len(sent)}"
    return f"raw lane sent {raw!r:.80}, {who} sent {sent!r:.80}"


def body_findings(raw_body: Any, sent_body: Any, who: str) -> dict[str, list[Finding]]:
    """``{"lanes.same-wire-body": findings}``: where the body ``who`` sent differs from ``raw_body``."""
    findings = [
        Finding(SAME_WIRE_BODY.id, difference.path, _message(difference, who))
        for difference in differences(raw_body, sent_body, "$.request.body")
    ]
    return {SAME_WIRE_BODY.id: findings}


def compare_wire_bodies(raw: Exchange, sdk: Exchange) -> dict[str, list[Finding]]:
    """``{"lanes.same-wire-body": findings}`` for two exchanges of one form (raw lane first)."""
    if raw.lane in SDK_LANES or sdk.lane not in SDK_LANES:
        raise ValueError("compare_wire_bodies takes the raw-lane exchange first, then the SDK lane's")
    sent = sdk.request.body if sdk.request else None
    return body_findings(raw.request.body if raw.request else None, sent, "the SDK")
