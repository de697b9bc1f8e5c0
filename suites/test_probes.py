"""The probe tier: behaviour users reported (docs/spec.md#reported-behaviour), none of it
documented. Each probe sends the request that takes the reported path and holds the answer to
OpenAI's contract; what Vertex is known to do instead is listed in expectations/gemini.yaml.
Requests that are wrong on purpose name the requirement they break in ``by_design``."""

import json

import pytest

from vertex_conformance.paths import FIXTURES
from vertex_conformance.vocabulary import SUITE_LANES

pytestmark = pytest.mark.probe


def _request(name: str, **changes) -> dict:
    return {**json.loads((FIXTURES / "requests" / f"{name}.json").read_text()), **changes}


@pytest.mark.form("probe-error-body")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_probe_error_body_shape(conformance, lane):
    call = conformance.gemini(_request("plain", temperature="hot"), stream=False)
    conformance.verify(conformance.send(lane, call), by_design=("request.schema",))


@pytest.mark.form("probe-n-choices")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_probe_n_greater_than_one(conformance, lane):
    conformance.verify(conformance.send(lane, conformance.gemini(_request("plain", n=2), stream=False)))


@pytest.mark.form("probe-unknown-field")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_probe_unknown_openai_field(conformance, lane):
    call = conformance.gemini(_request("plain", service_tier="auto"), stream=False)
    conformance.verify(conformance.send(lane, call))


@pytest.mark.form("probe-model-prefix")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_probe_model_without_google_prefix(conformance, lane):
    call = conformance.gemini(_request("plain", model=conformance.config.model), stream=False)
    conformance.verify(conformance.send(lane, call), by_design=("request.model-prefixed",))


@pytest.mark.form("probe-thought-signature")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_probe_follow_up_without_thought_signature(conformance, lane):
    body = _request("extra_content_tool_call")
    for message in body["messages"]:
        for call in message.get("tool_calls", []):
            call.pop("extra_content", None)
    call = conformance.gemini(body, stream=False)
    conformance.verify(conformance.send(lane, call), by_design=("request.thought-signature-kept",))
