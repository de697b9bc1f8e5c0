"""``vertex-conformance serve`` over real loopback HTTP: the shipped cassettes answer SDKs as recorded,
misses name the closest recording, and the command starts and stops cleanly."""

from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import openai
import pytest
import yaml

from vertex_conformance.loopback import serve
from vertex_conformance.matching import Rule
from vertex_conformance.paths import CASSETTES, ROOT
from vertex_conformance.replay_server import (
    CASSETTE_HEADER,
    DEFAULT_DIRECTORY,
    DEFAULT_MAX_BODY_BYTES,
    Recording,
    add_command,
    announcement,
    create_app,
    differences,
    load_recordings,
    run,
)
from vertex_conformance.stand_in import sse_events

VERTEX = CASSETTES / "vertex"
AUTH = {"Authorization": "Bearer test-token"}
REGIONAL = "/v1/projects/anything/locations/us-central1/endpoints/openapi"
GLOBAL = "/v1/projects/anything/locations/global/endpoints/openapi"
CHAT = "/chat/completions"
PLAIN = "test_plain/test_plain_chat[httpx].yaml"
# Cassettes holding the plain request (the lane-parity suite sends it too); the first in path order answers.
SAME_REQUEST = (
    "test_lane_parity/test_sdk_lanes_send_what_the_raw_lane_sends[plain]",
    "test_plain/test_plain_chat[",
)


def names_a_plain_cassette(text: str) -> bool:
    return any(name in text for name in SAME_REQUEST)


STREAMING = "test_streaming/test_streaming_chat[httpx].yaml"
# The command as `vertex-conformance serve ...` runs it, without depending on cli.py's wiring.
SERVE = (
    "import argparse, sys\n"
    "from vertex_conformance import replay_server\n"
    "parser = argparse.ArgumentParser()\n"
    "replay_server.add_command(parser.add_subparsers(dest='command', required=True))\n"
    "sys.exit(replay_server.run(parser.parse_args()))\n"
)


def _interaction(cassette: str, directory: Path = VERTEX) -> dict[str, Any]:
    """The first interaction of a cassette, as stored (bodies under json:/sse:)."""
    return yaml.safe_load((directory / cassette).read_text(encoding="utf-8"))["interactions"][0]


def _request(cassette: str) -> dict[str, Any]:
    return _interaction(cassette)["request"]["body"]["json"]


def _response(cassette: str) -> dict[str, Any]:
    return _interaction(cassette)["response"]["body"]


def _events(sse: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in sse.splitlines() if line.startswith("data: {")]


def _args(directory: Path, host: str = "127.0.0.1") -> argparse.Namespace:
    return argparse.Namespace(
        cassettes=str(directory),
        host=host,
        port=0,
        event_delay=0.0,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        match=Rule.MEANING,
    )


@pytest.fixture(scope="module")
def recordings() -> list[Recording]:
    return load_recordings(VERTEX)


@pytest.fixture(scope="module")
def base_url(recordings: list[Recording]) -> Iterator[str]:
    with serve(create_app(recordings)) as url:
        yield url


@pytest.fixture
def sdk(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=base_url + REGIONAL, api_key="x", max_retries=0) as client:
        yield client


def test_every_shipped_cassette_is_loaded_with_placeholder_paths(recordings: list[Recording]) -> None:
    assert {r.cassette for r in recordings} == {
        p.relative_to(VERTEX).as_posix() for p in VERTEX.rglob("*.yaml")
    }
    assert all("/projects/{PROJECT}/locations/" in r.path for r in recordings)


def test_openai_sdk_replays_the_plain_form_as_recorded(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(**_request("test_plain/test_plain_chat[sdk].yaml"))
    recorded = _response("test_plain/test_plain_chat[sdk].yaml")["json"]
    assert raw.http_response.json() == recorded
    assert raw.parse().choices[0].message.content == recorded["choices"][0]["message"]["content"]
    # both lanes recorded the same request: the first cassette in path order answers
    assert names_a_plain_cassette(raw.headers[CASSETTE_HEADER])
    assert len(raw.headers.get_list("date")) == 1  # the recorded date is not sent next to uvicorn's


def test_openai_sdk_replays_the_streamed_form_chunk_for_chunk(sdk: openai.OpenAI) -> None:
    cassette = "test_streaming/test_streaming_chat[sdk].yaml"
    with sdk.chat.completions.create(**_request(cassette)) as stream:
        chunks = [chunk.to_dict() for chunk in stream]
    assert chunks == _events(_response(cassette)["sse"])
    assert len(chunks) > 1


def test_streamed_body_is_byte_identical_to_the_recording(base_url: str) -> None:
    with httpx.stream("POST", base_url + REGIONAL + CHAT, json=_request(STREAMING), headers=AUTH) as reply:
        body = b"".join(reply.iter_raw())
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/event-stream"
    assert body == _response(STREAMING)["sse"].encode()


def test_sse_events_arrive_one_at_a_time_as_the_server_sends_them(recordings: list[Recording]) -> None:
    delay = 0.3
    expected = sse_events(_response(STREAMING)["sse"].encode())
    with serve(create_app(recordings, event_delay=delay)) as url:
        arrivals = []
        with httpx.stream("POST", url + REGIONAL + CHAT, json=_request(STREAMING), headers=AUTH) as reply:
            for chunk in reply.iter_raw():
                arrivals.append((time.monotonic(), chunk))
    # Each read holds exactly one event, and each came a pause after the one before: the server
    # wrote and flushed every event on its own, before it had sent the rest.
    assert [chunk for _, chunk in arrivals] == expected
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    assert len(gaps) >= 2 and all(gap > delay / 2 for gap in gaps), gaps


def test_a_crlf_stream_is_cut_at_crlf_blank_lines_and_replayed_byte_for_byte(tmp_path: Path) -> None:
    document = yaml.safe_load((VERTEX / STREAMING).read_text(encoding="utf-8"))
    document["interactions"][0]["response"]["body"]["newline"] = "\r\n"
    (tmp_path / "crlf.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    recorded = _response(STREAMING)["sse"].replace("\n", "\r\n").encode()
    app = create_app(load_recordings(tmp_path), event_delay=0.2)
    with (
        serve(app) as url,
        httpx.stream("POST", url + REGIONAL + CHAT, json=_request(STREAMING), headers=AUTH) as reply,
    ):
        chunks = list(reply.iter_raw())
    assert b"".join(chunks) == recorded
    assert len(chunks) == len(_events(_response(STREAMING)["sse"])) + 1  # the chunks and [DONE]
    assert all(chunk.endswith(b"\r\n\r\n") for chunk in chunks)


def test_the_global_form_matches_only_with_location_global(base_url: str) -> None:
    # the streamed request: lane parity also records the plain global body on the regional host
    cassette = "test_global/test_global_endpoint[httpx-stream].yaml"
    answered = httpx.post(base_url + GLOBAL + CHAT, json=_request(cassette), headers=AUTH)
    assert answered.status_code == 200
    assert answered.text == _response(cassette)["sse"]
    regional = httpx.post(base_url + REGIONAL + CHAT, json=_request(cassette), headers=AUTH)
    assert regional.status_code == 404
    message = regional.json()["error"]["message"]
    assert (
        "This body is recorded for POST /v1/projects/{PROJECT}/locations/global/endpoints/openapi" in message
    )
    assert "(test_global/test_global_endpoint[" in message


@pytest.mark.parametrize("endpoint", ["1234567890", "my-model-endpoint"])
def test_the_self_deployed_form_works_with_any_endpoint_id(base_url: str, endpoint: str) -> None:
    cassette = "test_self_deployed/test_self_deployed_endpoint[httpx-plain].yaml"
    url = f"{base_url}/v1beta1/projects/p-{endpoint}/locations/global/endpoints/{endpoint}{CHAT}"
    reply = httpx.post(url, json=_request(cassette), headers=AUTH)
    assert reply.status_code == 200
    assert reply.json() == _response(cassette)["json"]


@pytest.mark.parametrize(
    ("change", "difference"),
    [
        ({"max_tokens": 7}, "$.max_tokens: recorded 2048"),
        ({"top_p": 0.5}, "$.top_p: only in this request"),
    ],
)
def test_an_unknown_body_gets_a_google_404_naming_the_closest_recording(
    base_url: str, change: dict[str, Any], difference: str
) -> None:
    reply = httpx.post(base_url + REGIONAL + CHAT, json={**_request(PLAIN), **change}, headers=AUTH)
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert names_a_plain_cassette(error["message"])
    assert difference in error["message"]
    [detail] = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert names_a_plain_cassette(detail["metadata"]["closest_cassette"])
    assert detail["metadata"]["body_difference"].startswith(difference)


def test_a_miss_names_every_place_the_closest_body_differs(base_url: str) -> None:
    extra = {"top_p": 0.5, "seed": 7, "user": "u", "presence_penalty": 0.1, "stop": ["x"]}
    reply = httpx.post(base_url + REGIONAL + CHAT, json={**_request(PLAIN), **extra}, headers=AUTH)
    error = reply.json()["error"]
    assert names_a_plain_cassette(error["details"][0]["metadata"]["closest_cassette"])
    for field in extra:
        assert f"$.{field}: only in this request" in error["message"]
    assert error["details"][0]["metadata"]["body_difference"].count("; ") == len(extra) - 1


def test_a_miss_is_pointed_at_the_recording_of_the_same_conversation_before_one_of_the_same_path(
    base_url: str,
) -> None:
    # The global form's conversation sent to the v1beta1 path: the v1beta1 recordings share the path
    # but not the messages; the closest is a recording of this conversation, on another path.
    cassette = "test_global/test_global_endpoint[httpx-plain].yaml"
    v1beta1 = REGIONAL.replace("/v1/", "/v1beta1/")
    reply = httpx.post(base_url + v1beta1 + CHAT, json=_request(cassette), headers=AUTH)
    assert reply.status_code == 404
    error = reply.json()["error"]
    closest = error["details"][0]["metadata"]["closest_cassette"]
    assert "global" in closest, closest
    assert "The closest recorded request is POST /v1/projects/" in error["message"]
    assert "This body is recorded for POST /v1/projects/{PROJECT}/locations/" in error["message"]


def test_the_announcement_says_how_bodies_are_matched(recordings: list[Recording]) -> None:
    meaning = announcement("http://127.0.0.1:1", VERTEX, recordings)[2]
    exact = announcement("http://127.0.0.1:1", VERTEX, recordings, Rule.EXACT)[2]
    assert meaning.startswith("Bodies match by meaning: ") and '"stream": false is no stream' in meaning
    assert exact == "Bodies match exactly: as parsed JSON, nothing else"


def test_an_unknown_path_gets_a_404_naming_the_closest_recorded_path(base_url: str) -> None:
    reply = httpx.post(base_url + REGIONAL + "/chat/completion", json=_request(PLAIN), headers=AUTH)
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["status"] == "NOT_FOUND"
    closest = "POST /v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
    assert f"The closest recorded request is {closest}: " in error["message"]
    assert names_a_plain_cassette(error["message"])
    assert error["details"][0]["metadata"]["closest_request"] == closest


def test_a_miss_is_reported_to_the_operator_too(recordings: list[Recording]) -> None:
    misses: list[str] = []
    with serve(create_app(recordings, report_miss=misses.append)) as url:
        reply = httpx.post(url + REGIONAL + CHAT, json={"model": "google/x"}, headers=AUTH)
    assert misses == [reply.json()["error"]["message"]]


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"])
def test_a_request_without_a_bearer_token_gets_401(base_url: str, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = httpx.post(base_url + REGIONAL + CHAT, json=_request(PLAIN), headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["status"] == "UNAUTHENTICATED"


def test_differences_follow_the_replay_matchers_rule() -> None:
    assert differences({"n": 1, "a": [1, 2]}, {"n": 1.0, "a": [1, 2]}) == []
    assert differences({"stream": True}, {"stream": 1}) == ["$.stream: recorded true, this request 1"]
    assert differences({"a": [1], "b": 2}, {"a": [1, 3], "c": 2}) == [
        "$.a: 1 items recorded, 2 in this request",
        "$.b: only in the recording",
        "$.c: only in this request",
    ]


def test_a_non_loopback_host_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(VERTEX, host="0.0.0.0")) == 2
    err = capsys.readouterr().err
    assert err == "vertex-conformance: error: --host 0.0.0.0 is not a loopback address; " + (
        "the replay server listens on loopback only\n"
    )


def test_a_corrupt_cassette_stops_the_command_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "good.yaml").write_text((VERTEX / PLAIN).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("meta: [\n", encoding="utf-8")
    assert run(_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cassette {tmp_path / 'broken.yaml'} is unreadable (invalid YAML" in err


def test_a_directory_without_cassettes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(tmp_path)) == 2
    assert capsys.readouterr().err == f"vertex-conformance: error: no cassettes (*.yaml) under {tmp_path}\n"


def test_serve_options_and_their_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    assert (args.cassettes, args.host, args.port, args.event_delay, args.max_body_bytes, args.match) == (
        str(DEFAULT_DIRECTORY),
        "127.0.0.1",
        0,
        0.0,
        8 * 1024 * 1024,
        Rule.MEANING,
    )
    assert args.run is run
    assert parser.parse_args(["serve", "--max-body-bytes", "1024"]).max_body_bytes == 1024
    assert parser.parse_args(["serve", "--match", "exact"]).match is Rule.EXACT
    bad_sizes = [["--max-body-bytes", size] for size in ("0", "-1", "1e6", "8MiB", "", "\u00b2")]
    bad_matches = [["--match", rule] for rule in ("Meaning", "loose", "")]
    for bad in (["--port", "70000"], ["--port", "-1"], ["--event-delay", "soon"], *bad_sizes, *bad_matches):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["serve", *bad])
        assert exit_info.value.code == 2


def _read_announcement(stream: IO[str]) -> list[str]:
    """The lines ``serve`` prints on start (up to the one about placeholders, or the end of output)."""
    lines = []
    while (line := stream.readline()) and not line.startswith("{PROJECT}"):
        lines.append(line)
    return lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_serves_until_a_signal_then_exits_0_without_a_traceback(stop: signal.Signals) -> None:
    port = _free_port()
    command = [sys.executable, "-c", SERVE, "serve", str(VERTEX), "--port", str(port)]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = _read_announcement(proc.stdout)
            assert len(lines) >= 2, proc.stderr.read() if proc.stderr else lines  # it ended: say why
            assert lines[0].startswith(f"Serving {len(load_recordings(VERTEX))} recorded requests from ")
            assert lines[2].startswith("Bodies match by meaning: one token limit under three names;")
            found = re.search(r"Base URL: (http://127\.0\.0\.1:(\d+))", lines[1])
            assert found and int(found.group(2)) == port, lines
            reply = httpx.post(found.group(1) + REGIONAL + CHAT, json=_request(PLAIN), headers=AUTH)
            assert reply.status_code == 200
            proc.send_signal(stop)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    regional = "/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi  (POST /chat/completions: "
    assert any(line.startswith(f"  base_url {found.group(1)}{regional}") for line in lines), lines
