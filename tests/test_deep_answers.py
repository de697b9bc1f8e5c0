"""An answer nested deeper than clients parse is a finding in every lane, never an error of the run.

A 300-level answer used to end every lane as ``error``: jsonschema-rs gave up on it inside
``schema.response``. The exchange's JSON reader now refuses what is nested beyond
``exchange.MAX_DEPTH`` (as serde_json does), so no check ever walks it and the answer fails
``response.json`` or ``sse.event-json``, naming why. Each lane runs against a loopback server.
"""

from __future__ import annotations

import json

import pytest
from lane_params import every_lane
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tools.sample_server import CHAT_PATH
from vertex_conformance import lanes, vocabulary
from vertex_conformance.checks import evaluate, failures
from vertex_conformance.loopback import serve
from vertex_conformance.paths import SAMPLES

OPENAPI = "/v1/projects/p/locations/us-central1/endpoints/openapi"
PLAIN = json.loads((SAMPLES / "plain_chat.json").read_text(encoding="utf-8"))
DEEP = "[" * 300 + "]" * 300


def deep_answer(stream: bool) -> Response:
    """The documented answer with a 300-level value beside its content (as a chunk when streamed)."""
    text = json.dumps({**PLAIN, "nested": "DEEP"}).replace('"DEEP"', DEEP)
    if not stream:
        return Response(text, media_type="application/json")
    chunk = text.replace('"chat.completion"', '"chat.completion.chunk"')
    return Response(f"data: {chunk}\n\ndata: [DONE]\n\n", media_type="text/event-stream")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("lane", every_lane())
def test_a_deep_answer_is_a_json_finding_in_every_lane(lane, stream):
    async def chat(request: Request) -> Response:
        return deep_answer(stream)

    with serve(Starlette(routes=[Route(CHAT_PATH, chat, methods=["POST"])])) as url:
        call = lanes.Call(url + OPENAPI, {"messages": [], "stream": stream})
        exchange = vocabulary.lane(lane).send(call, None)
    requirement = "sse.event-json" if stream else "response.json"
    found = {f.requirement: f.message for f in failures(evaluate(exchange)[0])}
    assert "nested more than" in found[requirement]
