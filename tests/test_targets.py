"""Target URLs, compared with the exact URLs of docs/spec.md#endpoints (as the raw lane completes them)."""

from __future__ import annotations

import pytest

from vertex_conformance.config import RunConfig
from vertex_conformance.lanes import Call
from vertex_conformance.recording import with_placeholders
from vertex_conformance.replay_server import route_path
from vertex_conformance.targets import endpoint_base_url, openapi_base_url, wire_model


def live(**options) -> RunConfig:
    return RunConfig.from_sources({"mode": "live", "project": "my-proj", **options}, {})


def chat_url(base: str) -> str:
    """The URL the raw lane posts to under a base URL (the SDK lanes append the same suffix)."""
    return Call(base, {}).url


def test_regional_gemini_url():
    cfg = live(location="europe-west4")

    assert chat_url(openapi_base_url(cfg)) == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4"
        "/endpoints/openapi/chat/completions"
    )


def test_v1beta1_gemini_url_matches_the_documented_curl_example():
    cfg = live(api_version="v1beta1", location="us-central1")

    assert chat_url(openapi_base_url(cfg)) == (
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/us-central1"
        "/endpoints/openapi/chat/completions"
    )


def test_api_version_override_pins_v1beta1():
    assert openapi_base_url(live(), api_version="v1beta1") == (
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/us-central1"
        "/endpoints/openapi"
    )


def test_global_location_has_no_region_prefix_on_the_host():
    assert chat_url(openapi_base_url(live(location="global"), api_version="v1beta1")) == (
        "https://aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/global"
        "/endpoints/openapi/chat/completions"
    )


def test_location_override_selects_the_global_host():
    assert openapi_base_url(live(location="asia-east1"), location="global") == (
        "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/endpoints/openapi"
    )


def test_self_deployed_endpoint_url_matches_the_documented_example():
    cfg = live(target="endpoint", endpoint_id="1234567890", location="global", api_version="v1beta1")

    assert chat_url(endpoint_base_url(cfg)) == (
        "https://aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/global"
        "/endpoints/1234567890/chat/completions"
    )


def test_self_deployed_endpoint_on_a_regional_host():
    cfg = live(target="endpoint", endpoint_id="1234567890")

    assert endpoint_base_url(cfg) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1"
        "/endpoints/1234567890"
    )


def test_endpoint_url_without_an_endpoint_id_is_a_programming_error():
    with pytest.raises(ValueError, match=r"needs cfg\.endpoint_id"):
        endpoint_base_url(live())


def test_replay_urls_use_the_placeholders():
    cfg = RunConfig.from_sources({}, {})

    assert endpoint_base_url(cfg) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/PROJECT/locations/us-central1"
        "/endpoints/ENDPOINT_ID"
    )


@pytest.mark.parametrize("location", ["us-central1", "global"])
def test_base_url_replaces_scheme_and_host_and_keeps_the_documented_path(location):
    cfg = live(base_url="http://127.0.0.1:8080/", location=location)

    assert chat_url(openapi_base_url(cfg)) == (
        f"http://127.0.0.1:8080/v1/projects/my-proj/locations/{location}/endpoints/openapi/chat/completions"
    )


def test_chat_url_tolerates_a_trailing_slash():
    assert (
        chat_url("https://h/v1/x/endpoints/openapi/") == "https://h/v1/x/endpoints/openapi/chat/completions"
    )


@pytest.mark.parametrize("model", ["gemini-2.0-flash-001", "google/gemini-2.0-flash-001"])
def test_wire_model_has_exactly_one_google_prefix(model):
    assert wire_model(live(model=model)) == "google/gemini-2.0-flash-001"


@pytest.mark.parametrize("given", ["https://gw.example/proxy/vertex", "https://gw.example/proxy/vertex/"])
def test_a_base_url_keeps_a_gateway_path_prefix_before_the_documented_path(given):
    cfg = live(base_url=given)

    assert cfg.base_url == "https://gw.example/proxy/vertex"
    assert chat_url(openapi_base_url(cfg)) == (
        "https://gw.example/proxy/vertex/v1/projects/my-proj/locations/us-central1/endpoints/openapi"
        "/chat/completions"
    )


def test_a_gateway_prefix_that_ends_in_an_api_version_is_still_only_a_prefix():
    cfg = live(base_url="https://gw.example/api/v1", api_version="v1beta1")

    assert chat_url(openapi_base_url(cfg)) == (
        "https://gw.example/api/v1/v1beta1/projects/my-proj/locations/us-central1/endpoints/openapi"
        "/chat/completions"
    )
    assert with_placeholders(chat_url(openapi_base_url(cfg))) == (
        "https://gw.example/v1beta1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
    )


def test_cassettes_hold_the_documented_path_without_the_gateway_prefix():
    prefixed = chat_url(endpoint_base_url(live(base_url="http://127.0.0.1:9/proxy/vertex", endpoint_id="42")))

    assert with_placeholders(prefixed) == (
        "http://127.0.0.1:9/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/{ENDPOINT}/chat/completions"
    )
    assert route_path(prefixed) == route_path(chat_url(endpoint_base_url(live(endpoint_id="42"))))
