"""Recording and replay over real loopback HTTP: the file format, matching, provenance and the
guards that keep credentials and the project id out of cassettes. Nothing leaves 127.0.0.1:
Google hosts are only ever reached through httpx's MockTransport, which vcrpy records too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.auth.transport.requests
import google.oauth2.credentials
import httpx
import openai
import pytest
import requests
import yaml
from pytest_recording.network import blocking_context
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from vcr import VCR
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.patch import PATCHER_NAMES
from vcr.request import Request
from vcr.serialize import deserialize, serialize

from tools.sample_server import create_app, serve_samples
from vertex_conformance import recording
from vertex_conformance.loopback import serve
from vertex_conformance.paths import SAMPLES
from vertex_conformance.recording import (
    SAMPLE_HEADER,
    CassetteError,
    CassetteSerializer,
    SecretInCassetteError,
    configure_vcr,
    read_meta,
    vcr_config,
    with_placeholders,
)

PROJECT_ID = "my-secret-proj-123"
TOKEN = "test-token"
LEAKED_TOKEN = "ya29.a0AfB_" + "q" * 80
BASE_PATH = f"/v1/projects/{PROJECT_ID}/locations/us-central1/endpoints/openapi"
PLAIN = {"model": "google/gemini-2.0-flash-001", "messages": [{"role": "user", "content": "Tell a story."}]}
STREAMED = {**PLAIN, "stream": True}
PLACEHOLDER_PATH = "/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
REGIONAL = f"https://us-central1-aiplatform.googleapis.com{BASE_PATH}/chat/completions"


def cassette(path: Path, record_mode: str = "once", **overrides: Any) -> Any:
    """``use_cassette`` exactly as the suite configures it (vcr_config + configure_vcr)."""
    vcr = VCR()
    configure_vcr(vcr)
    return vcr.use_cassette(
        str(path), **{**vcr_config(secrets=[PROJECT_ID]), "record_mode": record_mode, **overrides}
    )


def httpx_lane(base_url: str) -> tuple[Any, bytes, dict[str, str]]:
    """A plain and a streamed call with raw httpx: (plain JSON, streamed bytes, streamed headers)."""
    url = base_url + BASE_PATH + "/chat/completions"
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        plain = client.post(url, json=PLAIN)
        with client.stream("POST", url, json=STREAMED) as response:
            streamed = response.read()
    assert plain.status_code == response.status_code == 200
    return plain.json(), streamed, dict(response.headers)


def sdk_lane(base_url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A plain and a streamed call through the openai SDK, as its users see them."""
    client = openai.OpenAI(base_url=base_url + BASE_PATH, api_key=TOKEN, max_retries=0)
    with client:
        plain = client.chat.completions.create(**PLAIN)
        chunks = [chunk.model_dump() for chunk in client.chat.completions.create(**STREAMED)]
    return plain.model_dump(), chunks


@dataclass
class Recorded:
    path: Path
    text: str
    live: Any
    base_url: str


def record(path: Path, lane: Callable[[str], Any], test: str) -> Recorded:
    recording.set_current_test(test)
    with serve_samples() as base_url, cassette(path):
        live = lane(base_url)
    return Recorded(path, path.read_text(encoding="utf-8"), live, base_url)


@pytest.fixture(scope="module")
def httpx_recording(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    path = tmp_path_factory.mktemp("httpx") / "httpx_lane.yaml"
    return record(path, httpx_lane, "tests/test_recording.py::httpx_lane")


@pytest.fixture(scope="module")
def sdk_recording(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    path = tmp_path_factory.mktemp("sdk") / "sdk_lane.yaml"
    return record(path, sdk_lane, "tests/test_recording.py::sdk_lane")


@pytest.fixture
def offline() -> Iterator[None]:
    with blocking_context():
        yield


def serve_app(routes: list[Any], middleware: list[Middleware] | None = None) -> Any:
    return serve(Starlette(routes=routes, middleware=middleware))


# --- the serializer ------------------------------------------------------------------------------


def round_trip(body: bytes, content_type: str) -> tuple[str, list[Request], list[dict[str, Any]]]:
    request = Request(
        "POST", "http://h/v1/x", json.dumps(PLAIN).encode(), {"content-type": "application/json"}
    )
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type], "content-length": [str(len(body))]},
        "body": {"string": body},
    }
    text = serialize({"requests": [request], "responses": [response]}, CassetteSerializer)
    requests, responses = deserialize(text, CassetteSerializer)
    return text, requests, responses


@pytest.mark.parametrize("sample", ["streaming_chat.sse", "stream_function_call_arguments.sse"])
def test_sse_body_replays_byte_identical(sample: str) -> None:
    data = (SAMPLES / sample).read_bytes()
    text, _, responses = round_trip(data, "text/event-stream")
    assert responses[0]["body"]["string"] == data
    assert "sse: |" in text


def test_crlf_sse_body_replays_byte_identical() -> None:
    data = b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n'
    text, _, responses = round_trip(data, "text/event-stream; charset=utf-8")
    assert responses[0]["body"]["string"] == data
    assert yaml.safe_load(text)["interactions"][0]["response"]["body"]["newline"] == "\r\n"


@pytest.mark.parametrize(
    "data", [b"data: trailing space \n\n", b"data: a\rdata: b\r\r", b"data: a\r\n\ndata: b\n\n"]
)
def test_sse_a_literal_block_cannot_hold_is_kept_as_string_and_still_identical(data: bytes) -> None:
    text, _, responses = round_trip(data, "text/event-stream")
    assert responses[0]["body"]["string"] == data
    assert "string" in yaml.safe_load(text)["interactions"][0]["response"]["body"]


def test_json_body_replays_as_equivalent_json_with_a_matching_content_length() -> None:
    data = (SAMPLES / "plain_chat.json").read_bytes()
    _, requests, responses = round_trip(data, "application/json; charset=UTF-8")
    replayed = responses[0]["body"]["string"]
    assert json.loads(replayed) == json.loads(data)
    assert responses[0]["headers"]["content-length"] == [str(len(replayed))]
    assert json.loads(requests[0].body) == PLAIN


@pytest.mark.parametrize("data", [b'{"a": 1, "a": 2}', b'{"a": NaN}', b'{"a": 1e400}', b"not json"])
def test_json_that_would_not_survive_yaml_is_kept_as_string(data: bytes) -> None:
    _, _, responses = round_trip(data, "application/json")
    assert responses[0]["body"]["string"] == data


def test_binary_body_round_trips() -> None:
    data = bytes(range(256))
    _, _, responses = round_trip(data, "application/octet-stream")
    assert responses[0]["body"]["string"] == data


def test_recorded_yaml_is_readable(httpx_recording: Recorded) -> None:
    document = yaml.safe_load(httpx_recording.text)
    plain, streamed = document["interactions"]
    assert plain["request"]["body"]["json"] == PLAIN
    assert plain["response"]["body"]["json"] == json.loads((SAMPLES / "plain_chat.json").read_bytes())
    lines = httpx_recording.text.splitlines()
    sse_line = next(n for n, line in enumerate(lines) if line.strip().startswith("sse: |"))
    block = [line.strip() for line in lines[sse_line + 1 :] if line.strip()][:4]
    expected = [line for line in (SAMPLES / "streaming_chat.sse").read_text().splitlines() if line]
    assert block == expected  # one data: line per event, as written in the sample
    assert streamed["response"]["body"]["sse"] == (SAMPLES / "streaming_chat.sse").read_text()


# --- record and replay ---------------------------------------------------------------------------


def test_httpx_replay_without_server_or_network_gives_identical_data(
    httpx_recording: Recorded, offline: None
) -> None:
    with cassette(httpx_recording.path, "none") as played:
        plain, streamed, headers = httpx_lane(httpx_recording.base_url)
    assert played.all_played
    assert (plain, streamed) == httpx_recording.live[:2]
    assert streamed == (SAMPLES / "streaming_chat.sse").read_bytes()
    assert headers["content-type"] == "text/event-stream"
    assert headers[SAMPLE_HEADER] == "streaming_chat.sse"  # restored from the provenance on load


def test_sdk_replay_without_server_or_network_gives_identical_data(
    sdk_recording: Recorded, offline: None
) -> None:
    with cassette(sdk_recording.path, "none") as played:
        replayed = sdk_lane(sdk_recording.base_url)
    assert played.all_played
    assert replayed == sdk_recording.live
    assert replayed[0]["choices"][0]["message"]["content"].startswith("Once upon a time")
    assert len(replayed[1]) == 3


def test_replay_matches_any_host_port_project_and_region(httpx_recording: Recorded, offline: None) -> None:
    base = "https://europe-west4-aiplatform.googleapis.com"
    url = base + "/v1/projects/another-project/locations/europe-west4/endpoints/openapi/chat/completions"
    with cassette(httpx_recording.path, "none"):
        response = httpx.post(url, json=PLAIN, headers={"Authorization": "Bearer other"})
    assert response.json() == httpx_recording.live[0]


def test_replay_keeps_global_literal_so_a_regional_recording_does_not_answer_it(
    httpx_recording: Recorded, offline: None
) -> None:
    url = (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi/chat/completions"
    )
    with cassette(httpx_recording.path, "none"), pytest.raises(CannotOverwriteExistingCassetteException):
        httpx.post(url, json=PLAIN)


def test_a_request_with_a_different_body_does_not_match(httpx_recording: Recorded, offline: None) -> None:
    body = {**PLAIN, "messages": [{"role": "user", "content": "Something else."}]}
    with (
        cassette(httpx_recording.path, "none"),
        pytest.raises(CannotOverwriteExistingCassetteException) as caught,
    ):
        httpx.post(httpx_recording.base_url + BASE_PATH + "/chat/completions", json=body)
    assert "$.messages[0].content" in str(caught.value)


def test_a_boolean_is_not_the_number_one_when_matching_bodies(
    httpx_recording: Recorded, offline: None
) -> None:
    with cassette(httpx_recording.path, "none"), pytest.raises(CannotOverwriteExistingCassetteException):
        httpx.post(httpx_recording.base_url + BASE_PATH + "/chat/completions", json={**PLAIN, "stream": 1})


def test_a_missing_cassette_in_replay_refuses_the_request(tmp_path: Path, offline: None) -> None:
    with cassette(tmp_path / "absent.yaml", "none"), pytest.raises(CannotOverwriteExistingCassetteException):
        httpx.post("http://127.0.0.1:9" + BASE_PATH + "/chat/completions", json=PLAIN)
    assert not (tmp_path / "absent.yaml").exists()


def test_configure_vcr_alone_makes_every_cassette_safe(tmp_path: Path) -> None:
    vcr = VCR()
    configure_vcr(vcr, secrets=[PROJECT_ID])
    path = tmp_path / "defaults.yaml"
    with serve_samples() as base_url, vcr.use_cassette(str(path)):  # no vcr_config arguments at all
        httpx_lane(base_url)
    text = path.read_text()
    assert read_meta(path)["source"] == "documented-sample"
    assert PLACEHOLDER_PATH in text
    for absent in ("authorization", TOKEN, PROJECT_ID):
        assert absent not in text.lower()


def test_vcr_config_needs_configure_vcr(tmp_path: Path) -> None:
    with (
        pytest.raises(KeyError, match="json_body"),
        VCR().use_cassette(str(tmp_path / "c.yaml"), **vcr_config()),
    ):
        pass


# --- what a cassette holds -----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["httpx_recording", "sdk_recording"])
def test_cassette_holds_no_credentials_token_or_project_id(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    text = request.getfixturevalue(fixture).text.lower()
    for absent in ("authorization", TOKEN, PROJECT_ID, SAMPLE_HEADER):
        assert absent not in text


@pytest.mark.parametrize("fixture", ["httpx_recording", "sdk_recording"])
def test_cassette_has_placeholders_and_documented_sample_meta(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    recorded: Recorded = request.getfixturevalue(fixture)
    document = yaml.safe_load(recorded.text)
    assert all(i["request"]["uri"].endswith(PLACEHOLDER_PATH) for i in document["interactions"])
    meta = read_meta(recorded.path)
    assert meta["format"] == 1
    assert meta["source"] == "documented-sample"
    assert meta["samples"] == ["plain_chat.json", "streaming_chat.sse"]
    assert meta["recorded_against"] == "http://127.0.0.1"
    assert meta["test"] == f"tests/test_recording.py::{recorded.path.stem}"
    recorded_at = datetime.strptime(meta["recorded_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - recorded_at).total_seconds()) < 600
    assert set(meta["clients"]) == {"python", "openai", "httpx", "httpx2", "vcrpy"}
    assert meta["clients"]["vcrpy"].startswith("9.")
    assert list(document) == ["meta", "interactions"]


def test_regional_live_traffic_is_recorded_with_placeholders_and_without_secrets(tmp_path: Path) -> None:
    def vertex(request: httpx.Request) -> httpx.Response:
        answer = {"name": f"projects/{PROJECT_ID}/locations/us-central1/endpoints/1234567890"}
        return httpx.Response(200, json=answer, headers={"set-cookie": "NID=secret", "x-goog-trace": "abc"})

    url = REGIONAL.replace("/openapi/", "/1234567890/")
    body = {"messages": [{"role": "user", "content": f"Which project is {PROJECT_ID}?"}]}
    with cassette(tmp_path / "live.yaml"), httpx.Client(transport=httpx.MockTransport(vertex)) as client:
        client.post(
            url, json=body, headers={"Authorization": f"Bearer {TOKEN}", "x-goog-user-project": PROJECT_ID}
        )
    text = (tmp_path / "live.yaml").read_text()
    interaction = yaml.safe_load(text)["interactions"][0]
    assert interaction["request"]["uri"] == (
        "https://{LOCATION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}"
        "/endpoints/{ENDPOINT}/chat/completions"
    )
    assert interaction["request"]["headers"]["host"] == "{LOCATION}-aiplatform.googleapis.com"
    assert interaction["request"]["body"]["json"]["messages"][0]["content"] == "Which project is {PROJECT}?"
    assert interaction["response"]["body"]["json"]["name"].startswith("projects/{PROJECT}/")
    for absent in (PROJECT_ID, "set-cookie", "x-goog", "authorization", TOKEN):
        assert absent not in text
    meta = read_meta(tmp_path / "live.yaml")
    assert (meta["source"], meta["recorded_against"]) == (
        "live-recording",
        "https://{LOCATION}-aiplatform.googleapis.com",
    )
    assert "samples" not in meta


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (REGIONAL, "https://{LOCATION}-aiplatform.googleapis.com" + PLACEHOLDER_PATH),
        (
            "https://aiplatform.googleapis.com/v1beta1/projects/p-1/locations/global/endpoints/openapi/chat/completions",
            "https://aiplatform.googleapis.com/v1beta1/projects/{PROJECT}/locations/global/endpoints/openapi/chat/completions",
        ),
        (
            "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/987/chat/completions",
            "https://aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/global/endpoints/{ENDPOINT}/chat/completions",
        ),
        (
            "http://127.0.0.1:8080/v1/projects/p/locations/globalish/endpoints/openapi2/chat/completions",
            "http://127.0.0.1:8080/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/{ENDPOINT}/chat/completions",
        ),
        (
            "https://{LOCATION}-aiplatform.googleapis.com" + PLACEHOLDER_PATH,
            "https://{LOCATION}-aiplatform.googleapis.com" + PLACEHOLDER_PATH,
        ),
    ],
)
def test_with_placeholders(url: str, expected: str) -> None:
    assert with_placeholders(url) == expected


def test_local_server_traffic_is_decoded_and_says_local_server(tmp_path: Path) -> None:
    async def chat(request: StarletteRequest) -> Response:
        return JSONResponse({"echo": "x" * 600})  # big enough for the gzip middleware

    routes = [Route("/v1/{rest:path}", chat, methods=["POST"])]
    gzipped = [Middleware(GZipMiddleware, minimum_size=10)]
    with serve_app(routes, gzipped) as base_url, cassette(tmp_path / "local.yaml"):
        live = httpx.post(base_url + BASE_PATH + "/chat/completions", json=PLAIN)
    assert live.headers["content-encoding"] == "gzip"
    document = yaml.safe_load((tmp_path / "local.yaml").read_text())
    response = document["interactions"][0]["response"]
    assert response["body"]["json"] == {"echo": "x" * 600}
    assert "content-encoding" not in response["headers"]
    assert document["meta"]["source"] == "local-server"
    with blocking_context(), cassette(tmp_path / "local.yaml", "none"):
        assert httpx.post(base_url + BASE_PATH + "/chat/completions", json=PLAIN).json() == live.json()


def test_rerecording_keeps_the_provenance_of_interactions_it_keeps(
    httpx_recording: Recorded, tmp_path: Path
) -> None:
    path = tmp_path / "again.yaml"
    path.write_text(httpx_recording.text)
    with serve_samples() as base_url, cassette(path, "all"):
        httpx.post(
            base_url + BASE_PATH + "/chat/completions", json=STREAMED, headers={"Authorization": "Bearer t"}
        )
    meta = read_meta(path)
    assert meta["source"] == "documented-sample"
    assert sorted(meta["samples"]) == ["plain_chat.json", "streaming_chat.sse"]


# --- never record secrets ------------------------------------------------------------------------


def test_the_secret_gate_refuses_to_record_a_response_holding_an_access_token(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async def leaky(request: StarletteRequest) -> Response:
        return JSONResponse({"debug": f"token {LEAKED_TOKEN}"})

    recording.set_current_test(request.node.nodeid)
    path = tmp_path / "leak.yaml"
    original = httpx.HTTPTransport.handle_request
    routes = [Route("/v1/{rest:path}", leaky, methods=["POST"])]
    with serve_app(routes) as base_url, pytest.raises(SecretInCassetteError) as caught, cassette(path):
        httpx.post(base_url + BASE_PATH + "/chat/completions", json=PLAIN)
    message = str(caught.value)
    assert request.node.nodeid in message
    assert "access token" in message
    assert LEAKED_TOKEN not in message
    assert not list(tmp_path.iterdir())  # no cassette, no temp file
    assert httpx.HTTPTransport.handle_request is original  # vcrpy unwound cleanly


def test_the_last_gate_refuses_to_write_a_secret_only_the_yaml_reveals(tmp_path: Path) -> None:
    escaped = LEAKED_TOKEN.replace(".", "\\u002e").encode()  # the first gate sees no "ya29." in the raw body
    body = b'{"debug": "' + escaped + b'"}'
    request = Request("POST", "http://h/v1/x", b"{}", {"content-type": "application/json"})
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": body},
    }
    assert recording.filter_response(response) is response  # passes the first gate
    path = tmp_path / "escaped.yaml"
    with pytest.raises(SecretInCassetteError) as caught:
        recording.AtomicPersister().save_cassette(
            path, {"requests": [request], "responses": [response]}, CassetteSerializer
        )
    assert str(path) in str(caught.value)
    assert "access token" in str(caught.value)
    assert LEAKED_TOKEN not in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_only_httpx_and_httpx2_are_patched() -> None:
    assert set(PATCHER_NAMES) - set(vcr_config()["skip_patchers"]) == {"httpx", "httpx2"}


def test_the_token_exchange_is_never_recorded(tmp_path: Path) -> None:
    async def token(request: StarletteRequest) -> Response:
        return JSONResponse({"access_token": LEAKED_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    routes = [
        Route("/token", token, methods=["POST"]),
        Route("/oauth/exchange", token, methods=["POST"]),
        Mount("", app=create_app()),
    ]
    google_token = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"access_token": LEAKED_TOKEN})
    )
    path = tmp_path / "auth.yaml"
    with serve_app(routes) as base_url, cassette(path):
        credentials = google.oauth2.credentials.Credentials(
            None,
            refresh_token="1//0gRefreshTokenValue",
            client_id="id",
            client_secret="GOCSPX-secretvalue",
            token_uri=base_url + "/token",
        )
        credentials.refresh(google.auth.transport.requests.Request())  # through requests: not patched
        url = base_url + BASE_PATH + "/chat/completions"
        assert requests.post(url, json=PLAIN, headers={"Authorization": "Bearer t"}, timeout=5).ok
        form = {"grant_type": "refresh_token", "refresh_token": "1//0gRefreshTokenValue"}
        assert httpx.post(base_url + "/oauth/exchange", data=form).status_code == 200
        with httpx.Client(transport=google_token) as client:
            client.post("https://oauth2.googleapis.com/token", data=form)
        httpx.post(
            base_url + BASE_PATH + "/chat/completions",
            json=PLAIN,
            headers={"Authorization": f"Bearer {credentials.token}"},
        )
    assert credentials.token == LEAKED_TOKEN
    document = yaml.safe_load(path.read_text())
    assert [i["request"]["uri"].rsplit("/", 2)[-2:] for i in document["interactions"]] == [
        ["chat", "completions"]
    ]
    assert "ya29" not in path.read_text()


# --- files ---------------------------------------------------------------------------------------


TOP_LEVEL_DAMAGE = [
    ("meta: [unclosed\n", "invalid YAML"),
    ("- just\n- a list\n", "top level"),
    ("interactions: []\n", "no meta"),
    ("meta: {format: 1}\ninteractions: 3\n", "no interactions"),
]
INTERACTION_DAMAGE = [
    ("meta: {format: 1}\ninteractions:\n- request: {method: POST, uri: 'http://h/'}\n", "interaction 0"),
    (
        "meta: {format: 1}\ninteractions:\n- request: {method: POST, uri: 'http://h/'}\n"
        "  response: {status: {code: 200}, headers: {}, body: {text: x}}\n",
        "none of json, sse, string",
    ),
]


@pytest.mark.parametrize(("content", "reason"), TOP_LEVEL_DAMAGE + INTERACTION_DAMAGE)
def test_a_corrupt_cassette_raises_cassette_error_naming_the_file(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "corrupt.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError) as caught, cassette(path, "none"):
        pass
    message = str(caught.value)
    assert str(path) in message
    assert reason in message
    assert "record it again" in message
    assert "\n" not in message


@pytest.mark.parametrize(("content", "reason"), TOP_LEVEL_DAMAGE)
def test_read_meta_of_a_corrupt_cassette_raises_cassette_error(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "corrupt.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError, match=reason):
        read_meta(path)


def test_a_cassette_that_is_not_utf8_raises_cassette_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CassetteError, match=r"binary\.yaml .*not UTF-8"), cassette(path, "none"):
        pass
    with pytest.raises(CassetteError, match=r"binary\.yaml"):
        read_meta(path)
