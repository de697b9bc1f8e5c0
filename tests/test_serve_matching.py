"""``serve`` matches request bodies by meaning (``vertex_conformance.matching``): what real clients send
for every recorded form (tests/client_bodies/, captured from LiteLLM and LangChain) gets the recorded
answer, and nothing beyond the rule's equivalences is forgiven, above all where ``extra_body`` and
``extra_content`` sit."""

from __future__ import annotations

import importlib.metadata
import json
import socket
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tools import capture_client_bodies
from vertex_conformance.loopback import serve
from vertex_conformance.matching import Rule, asks_for_usage, differences, matches, prepare
from vertex_conformance.paths import CASSETTES, ROOT
from vertex_conformance.replay_server import (
    CASSETTE_HEADER,
    WARNING_HEADER,
    Recording,
    create_app,
    load_recordings,
)
from vertex_conformance.secrets_scan import scan
from vertex_conformance.vocabulary import FORMS

VERTEX = CASSETTES / "vertex"
CLIENT_BODIES = ROOT / "tests" / "client_bodies"
CAPTURES = sorted(CLIENT_BODIES.glob("*/*.json"))
AUTH = {"Authorization": "Bearer test-token"}
REGIONAL = "/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
SELF_DEPLOYED = "/v1beta1/projects/{PROJECT}/locations/global/endpoints/{ENDPOINT}/chat/completions"
STORY = [{"role": "user", "content": "Write a story about a magic backpack."}]
RECORDED = {"model": "google/gemini-2.5-flash", "messages": STORY, "max_tokens": 2048}
EXTRA_BODY = {"google": {"thought_tag_marker": "think"}}

# What the captured clients change beyond the rule, so serve must not answer: (client, case) -> every
# JSON path where the body differs from the form's recording. Each is a client finding, not a serve bug.
_TOOL_CALL_TURN = [
    "$.messages[1].content",  # LangChain sends "content": "" with tool calls; the documented turn has none
    "$.messages[1].tool_calls[0].extra_content",  # LangChain drops the thought signature of a tool call
    "$.messages[1].tool_calls[0].function.arguments",  # and re-serializes the arguments with spaces
]
_GEMINI_TOOLS = ["$.tools[0].function", "$.tools[0].function_declarations", "$.tools[0].type"]
CHANGED_BY_THE_CLIENT: dict[tuple[str, str], list[str]] = {
    **{
        ("langchain-openai", f"extra-content-message{s}"): ["$.messages[1].extra_content"]
        for s in ("", "-stream")
    },
    **{
        ("langchain-openai", f"extra-content-part{s}"): ["$.messages[1].content[0].extra_content"]
        for s in ("", "-stream")
    },
    **{("langchain-openai", f"extra-content-tool-call{s}"): _TOOL_CALL_TURN for s in ("", "-stream")},
    ("langchain-openai", "multimodal-function-response"): [*_TOOL_CALL_TURN, "$.messages[2].extra_content"],
    # LangChain turns the documented MIME type ("audio/mp3") into a bare extension ("mp3")
    **{
        ("langchain-openai", f"multimodal-input-input-audio-{source}"): [
            "$.messages[0].content[1].input_audio.format"
        ]
        for source in ("gcs", "base64")
    },
    # LiteLLM's vertex_ai/openai/ route translates OpenAI parameters into Gemini's native ones
    **{
        ("litellm-vertex", case): _GEMINI_TOOLS
        for case in (
            "extra-content-tool-call",
            "extra-content-tool-call-stream",
            "function-call-arguments",
            "function-call-arguments-stream",
            "multimodal-function-response",
        )
    },
    ("litellm-vertex", "image-output"): ["$.modalities", "$.responseModalities"],
    ("litellm-vertex", "structured-output"): [
        "$.response_format",
        "$.response_json_schema",
        "$.response_mime_type",
    ],
}
# A client that turns one documented form into another that is recorded too gets that one's answer.
SENT_AS_ANOTHER_FORM = {
    # LiteLLM's openai/ route wraps the documented bare gs:// string in OpenAI's {"url": ...}
    ("litellm-openai", "multimodal-input-image-url-gcs-string"): (
        "test_multimodal_input/test_multimodal_input[httpx-image-url-object].yaml (interaction 0)"
    ),
}


def _capture(file: Path) -> dict[str, Any]:
    return json.loads(file.read_text(encoding="utf-8"))


def _key(file: Path) -> tuple[str, str]:
    return file.parent.name, file.stem


def _means(recorded: Any, request: Any, path: str = REGIONAL, rule: Rule = Rule.MEANING) -> bool:
    return matches(prepare(recorded, path, rule), prepare(request, path, rule))


def _paths(recorded: Any, request: Any, path: str = REGIONAL) -> list[str]:
    found = differences(prepare(recorded, path, Rule.MEANING), prepare(request, path, Rule.MEANING))
    return [difference.path for difference in found]


def _url(base_url: str, path: str) -> str:
    """``path`` with its placeholders replaced by ids no recording holds: any id must do."""
    for placeholder, value in (("{PROJECT}", "p-7"), ("{LOCATION}", "europe-west4"), ("{ENDPOINT}", "987")):
        path = path.replace(placeholder, value)
    return base_url + path


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return load_recordings(VERTEX)


@pytest.fixture(scope="module")
def base_url(recordings: list[Recording]) -> Iterator[str]:
    with serve(create_app(recordings)) as url:
        yield url


# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "max_output_tokens"])
def test_each_name_of_the_token_limit_matches_the_recorded_max_tokens(name: str) -> None:
    request = {"model": RECORDED["model"], "messages": STORY, name: 2048}
    assert _means(RECORDED, request)
    assert not _means(RECORDED, {**request, name: 2047})
    # the miss is told in the client's own spelling
    assert _paths(RECORDED, {**request, name: 2047}) == [f"$.{name}"]


def test_a_request_without_a_token_limit_matches_a_recording_with_one_but_not_the_reverse() -> None:
    unlimited = {"model": RECORDED["model"], "messages": STORY}
    assert _means(RECORDED, unlimited)
    assert not _means(unlimited, RECORDED)
    assert _paths(unlimited, {**unlimited, "max_completion_tokens": 2048}) == ["$.max_completion_tokens"]


def test_two_names_of_the_token_limit_match_only_when_they_agree() -> None:
    assert _means(RECORDED, {**RECORDED, "max_completion_tokens": 2048})
    conflicting = {**RECORDED, "max_completion_tokens": 100}
    assert not _means(RECORDED, conflicting)
    assert _paths(RECORDED, conflicting) == ["$.max_completion_tokens"]


def test_stream_false_is_no_stream_but_stream_true_is_a_stream() -> None:
    assert _means(RECORDED, {**RECORDED, "stream": False})
    assert _means({**RECORDED, "stream": False}, RECORDED)
    assert not _means(RECORDED, {**RECORDED, "stream": True})
    assert not _means({**RECORDED, "stream": True}, {**RECORDED, "stream": False})


@pytest.mark.parametrize("options", [{"include_usage": True}, {"include_usage": False}, {}, None])
def test_stream_options_are_not_compared(options: Any) -> None:
    streamed = {**RECORDED, "stream": True}
    assert _means(streamed, {**streamed, "stream_options": options})


def test_an_empty_model_is_no_model_on_a_self_deployed_endpoint_only() -> None:
    self_deployed = {"messages": STORY, "max_tokens": 2048}
    assert _means(self_deployed, {**self_deployed, "model": ""}, SELF_DEPLOYED)
    assert not _means(self_deployed, {**self_deployed, "model": "any"}, SELF_DEPLOYED)
    assert not _means(self_deployed, {**self_deployed, "model": ""}, REGIONAL)
    assert not _means(RECORDED, {**RECORDED, "model": ""}, REGIONAL)


def test_a_moved_extra_body_does_not_match_either_way() -> None:
    documented = {**RECORDED, "extra_body": EXTRA_BODY}  # what the suite records: extra_body on the wire
    flattened = {**RECORDED, **EXTRA_BODY}  # what extra_body={"google": ...} in the SDK puts there
    assert _means(documented, {**documented, "max_completion_tokens": 2048, "stream": False})
    assert not _means(documented, flattened)
    assert not _means(flattened, documented)
    assert _paths(documented, flattened) == ["$.extra_body", "$.google"]


def test_a_moved_extra_content_does_not_match() -> None:
    signature = {"google": {"thought_signature": "sig"}}
    on_message = [{"role": "assistant", "content": "Hi", "extra_content": signature}]
    on_part = [{"role": "assistant", "content": [{"type": "text", "text": "Hi", "extra_content": signature}]}]
    dropped = [{"role": "assistant", "content": "Hi"}]
    assert not _means({**RECORDED, "messages": on_message}, {**RECORDED, "messages": on_part})
    assert not _means({**RECORDED, "messages": on_part}, {**RECORDED, "messages": on_message})
    assert _paths({**RECORDED, "messages": on_message}, {**RECORDED, "messages": dropped}) == [
        "$.messages[0].extra_content"
    ]


def test_the_rule_applies_to_top_level_fields_only() -> None:
    nested = {**RECORDED, "extra_body": {"google": {"max_tokens": 5, "stream": True}}}
    assert not _means(
        nested, {**RECORDED, "extra_body": {"google": {"max_completion_tokens": 5, "stream": True}}}
    )
    assert not _means(nested, {**RECORDED, "extra_body": {"google": {"max_tokens": 5}}})


def test_exact_compares_the_bodies_as_they_are() -> None:
    for request in (
        {**RECORDED, "stream": False},
        {"model": RECORDED["model"], "messages": STORY, "max_completion_tokens": 2048},
        {"model": RECORDED["model"], "messages": STORY},
        {**RECORDED, "stream_options": {"include_usage": True}},
    ):
        assert _means(RECORDED, request) and not _means(RECORDED, request, rule=Rule.EXACT)
    assert _means(RECORDED, {**RECORDED, "max_tokens": 2048.0}, rule=Rule.EXACT)  # json_equality's rule


def test_a_body_that_is_not_an_object_is_compared_as_it_is() -> None:
    assert _means([1, 2], [1, 2]) and not _means([1, 2], [1, 2, 3])
    assert _means(b"raw", b"raw") and _means(None, None)


@pytest.mark.parametrize(
    ("body", "asks"),
    [
        ({"stream_options": {"include_usage": True}}, True),
        ({"stream_options": {"include_usage": False}}, False),
        ({"stream_options": {"include_usage": 1}}, False),
        ({}, False),
        ([], False),
    ],
)
def test_only_include_usage_true_asks_for_usage(body: Any, asks: bool) -> None:
    assert asks_for_usage(body) is asks


# --- real clients' bodies over HTTP --------------------------------------------------------------


def test_there_is_a_capture_for_every_recorded_form_of_every_client() -> None:
    clients = {file.parent.name for file in CAPTURES}
    assert clients == set(capture_client_bodies.CLIENTS)
    cases = {case.name for case in capture_client_bodies.CASES}
    for client in clients:
        captured = {file.stem for file in CAPTURES if file.parent.name == client}
        assert captured == cases, client
    assert {case.form for case in capture_client_bodies.CASES} == set(FORMS)


@pytest.mark.parametrize("file", CAPTURES, ids=lambda file: "/".join(_key(file)))
def test_every_capture_names_its_client_version_recording_and_how_it_was_captured(
    file: Path, recordings: list[Recording]
) -> None:
    capture = _capture(file)
    assert capture["client"] == file.parent.name
    assert capture["version"][0].isdigit() and capture["package"] in ("litellm", "langchain-openai")
    assert capture["captured_with"].startswith("tools/capture_client_bodies.py")
    assert capture["call"]
    assert capture["read_answer"] is True or isinstance(capture["read_answer"], str)  # str: why it failed
    assert capture["recording"] in {r.name for r in recordings}
    assert capture["request"]["method"] == "POST" and capture["request"]["path"].endswith("/chat/completions")


def test_every_capture_was_made_for_the_request_its_recording_holds_now(recordings: list[Recording]) -> None:
    by_name = {r.name: r for r in recordings}
    stale = sorted(
        "/".join(_key(file))
        for file in CAPTURES
        if _capture(file)["recorded_request_sha256"]
        != capture_client_bodies.recorded_digest(by_name[_capture(file)["recording"]].body)
    )
    assert not stale, f"recordings changed since these captures; run `make client-bodies`: {stale}"


def test_no_capture_holds_a_secret() -> None:
    assert CAPTURES and scan([CLIENT_BODIES]) == []


@pytest.mark.parametrize(
    "file", [f for f in CAPTURES if _key(f) not in CHANGED_BY_THE_CLIENT], ids=lambda f: "/".join(_key(f))
)
def test_serve_answers_what_a_real_client_sends_with_the_recorded_answer(
    file: Path, base_url: str, recordings: list[Recording]
) -> None:
    capture = _capture(file)
    request = capture["request"]
    meant = SENT_AS_ANOTHER_FORM.get(_key(file), capture["recording"])
    recording = next(r for r in recordings if r.name == meant)
    reply = httpx.post(_url(base_url, request["path"]), json=request["body"], headers=AUTH)
    assert reply.status_code == 200, reply.text
    # the answer of the recorded request itself: the same cassette, the same bytes
    recorded = httpx.post(_url(base_url, recording.path), json=recording.body, headers=AUTH)
    assert recorded.status_code == 200
    assert reply.headers[CASSETTE_HEADER] == recorded.headers[CASSETTE_HEADER]
    assert reply.content == recorded.content
    assert WARNING_HEADER not in reply.headers


@pytest.mark.parametrize(
    ("key", "changed"),
    CHANGED_BY_THE_CLIENT.items(),
    ids=lambda v: "/".join(v) if isinstance(v, tuple) else "",
)
def test_serve_refuses_what_a_client_changed_beyond_the_rule_naming_every_difference(
    key: tuple[str, str], changed: list[str], base_url: str, recordings: list[Recording]
) -> None:
    capture = _capture(CLIENT_BODIES / key[0] / f"{key[1]}.json")
    request = capture["request"]
    own = next(r for r in recordings if r.name == capture["recording"])
    assert _paths(own.body, request["body"], own.path) == changed
    reply = httpx.post(_url(base_url, request["path"]), json=request["body"], headers=AUTH)
    assert reply.status_code == 404
    error = reply.json()["error"]
    metadata = error["details"][0]["metadata"]
    closest = next(r for r in recordings if r.name == metadata["closest_cassette"])
    named = [part.split(": ")[0] for part in metadata["body_difference"].split("; ")]
    assert named == _paths(closest.body, request["body"], closest.path)  # every one, not only the first
    assert all(path in error["message"] for path in named)


def test_a_tool_call_turn_without_its_signature_is_pointed_at_the_recording_without_one(
    base_url: str,
) -> None:
    # LangChain drops the tool call's extra_content: the recording with the same conversation is the
    # probe that sends no signature, not the extra_content form's recording of the same path.
    request = _capture(CLIENT_BODIES / "langchain-openai" / "extra-content-tool-call.json")["request"]
    reply = httpx.post(_url(base_url, request["path"]), json=request["body"], headers=AUTH)
    metadata = reply.json()["error"]["details"][0]["metadata"]
    assert metadata["closest_cassette"].startswith(
        "test_probes/test_probe_follow_up_without_thought_signature["
    )
    assert metadata["body_difference"].split("; ")[0] == "$.messages[1].content: only in this request"


def test_exact_matching_answers_only_what_is_sent_as_recorded(recordings: list[Recording]) -> None:
    litellm = _capture(CLIENT_BODIES / "litellm-openai" / "plain.json")["request"]
    langchain = _capture(CLIENT_BODIES / "langchain-openai" / "plain.json")["request"]
    with serve(create_app(recordings, match=Rule.EXACT)) as url:
        sent_as_recorded = httpx.post(_url(url, litellm["path"]), json=litellm["body"], headers=AUTH)
        reworded = httpx.post(_url(url, langchain["path"]), json=langchain["body"], headers=AUTH)
    assert sent_as_recorded.status_code == 200
    assert reworded.status_code == 404
    error = reworded.json()["error"]
    assert error["details"][0]["metadata"]["match"] == "exact"
    assert "$.max_completion_tokens: only in this request" in error["message"]
    assert "$.stream: only in this request" in error["message"]


def test_a_stream_asked_for_usage_is_replayed_as_recorded_with_usage_on_its_last_chunk(base_url: str) -> None:
    request = _capture(CLIENT_BODIES / "langchain-openai" / "streaming-include-usage.json")["request"]
    assert asks_for_usage(request["body"])
    reply = httpx.post(_url(base_url, request["path"]), json=request["body"], headers=AUTH)
    recorded = yaml.safe_load((VERTEX / "test_streaming/test_streaming_chat[httpx].yaml").read_text())
    assert reply.text == recorded["interactions"][0]["response"]["body"]["sse"]
    events = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: {")]
    assert [bool(event.get("usage")) for event in events] == [False] * (len(events) - 1) + [True]
    assert WARNING_HEADER not in reply.headers


def test_a_client_asking_for_usage_a_recording_lacks_is_warned_and_gets_the_recording(tmp_path: Path) -> None:
    document = yaml.safe_load((VERTEX / "test_streaming/test_streaming_chat[httpx].yaml").read_text())
    body = document["interactions"][0]["response"]["body"]
    body["sse"] = "".join(
        f"data: {json.dumps({k: v for k, v in json.loads(line[6:]).items() if k != 'usage'})}\n\n"
        if line.startswith("data: {")
        else f"{line}\n\n"
        for line in body["sse"].splitlines()
        if line
    )
    (tmp_path / "no-usage.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    sent = document["interactions"][0]["request"]["body"]["json"]
    with serve(create_app(load_recordings(tmp_path))) as url:
        asked = httpx.post(
            _url(url, REGIONAL), json={**sent, "stream_options": {"include_usage": True}}, headers=AUTH
        )
        not_asked = httpx.post(_url(url, REGIONAL), json=sent, headers=AUTH)
    assert asked.status_code == not_asked.status_code == 200
    assert asked.text == not_asked.text == body["sse"]
    assert "include_usage" in asked.headers[WARNING_HEADER]
    assert WARNING_HEADER not in not_asked.headers


# --- the capture script --------------------------------------------------------------------------


def test_the_capture_refuses_every_connection_and_lookup_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stand-ins for the real calls, so that a broken guard would be seen here, not on the network.
    reached: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: reached.append(address))
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kwargs: reached.append(host))
    with capture_client_bodies.loopback_only(), socket.socket() as sock:
        with pytest.raises(ConnectionRefusedError, match=r"192\.0\.2\.1"):
            sock.connect(("192.0.2.1", 443))
        with pytest.raises(socket.gaierror, match=r"oauth2\.googleapis\.com"):
            socket.getaddrinfo("oauth2.googleapis.com", 443)
        sock.connect(("127.0.0.1", 9))
        socket.getaddrinfo("localhost", 9)
    assert reached == [("127.0.0.1", 9), "localhost"]


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.mark.parametrize("client", sorted(capture_client_bodies.CLIENTS))
def test_the_installed_client_still_sends_the_stored_bodies(
    client: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = capture_client_bodies.CLIENTS[client].package
    stored = _capture(CLIENT_BODIES / client / "plain.json")
    if _installed(package) != stored["version"]:
        pytest.skip(f"{package} {stored['version']} made the captures; installed: {_installed(package)}")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    vertexai = types.ModuleType("vertexai")
    vertexai.preview = types.ModuleType("vertexai.preview")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vertexai", sys.modules.get("vertexai", vertexai))
    cases = ["plain", "streaming-include-usage", "self-deployed", "extra-body-stream"]
    arguments = ["--client", client, "--output", str(tmp_path)]
    assert capture_client_bodies.main([*arguments, *(f"--case={case}" for case in cases)]) == 0
    for case in cases:
        assert _capture(tmp_path / client / f"{case}.json") == _capture(
            CLIENT_BODIES / client / f"{case}.json"
        )


def test_the_digest_of_a_recorded_request_ignores_key_order_and_nothing_else() -> None:
    digest = capture_client_bodies.recorded_digest
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest(RECORDED) != digest({**RECORDED, "model": "google/gemini-3.5-flash"})
