"""Lane parity: for every documented request body, the SDK lanes (sync and async clients) put the
same JSON on the wire as the raw lane. A difference is a named finding (lanes.same-wire-body) with
the JSON path, so an SDK release that changes what it sends shows up here first."""

import pytest
from calendar_event import CalendarEvent

from vertex_conformance.checks.parity import compare_wire_bodies
from vertex_conformance.paths import FIXTURES
from vertex_conformance.vocabulary import SDK_LANES

BODIES = sorted(p.stem for p in (FIXTURES / "requests").glob("*.json"))


@pytest.mark.form("lane-parity")
@pytest.mark.parametrize("body", BODIES)
def test_sdk_lanes_send_what_the_raw_lane_sends(conformance, body):
    image, parse_with = body == "image_output", CalendarEvent if body == "structured_output" else None
    raw = conformance.send("httpx", conformance.gemini(body, stream=False, image=image))
    found: dict = {}
    exchanges = [raw]
    for lane in SDK_LANES:
        sdk = conformance.send(
            lane, conformance.gemini(body, stream=False, image=image, parse_with=parse_with)
        )
        for rid, findings in compare_wire_bodies(raw, sdk).items():
            found.setdefault(rid, []).extend(findings)
        exchanges.append(sdk)
    conformance.verify(*exchanges, also=found)
