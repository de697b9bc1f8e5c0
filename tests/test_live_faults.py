"""Live runs against a local server that injects the faults of the real world.

Each test runs the suite as a user would (`pytest suites --mode live --base-url …`, a separate
process) against tests/fault_server.py on 127.0.0.1, and checks the documented outcome: retried
and passed, infra with the evidence, or a conformance failure quoting the line — never a hang and
never a traceback. HTTPS runs trust a throwaway trustme CA through SSL_CERT_FILE; verification is
never turned off.
"""

import json
import ssl
import time

import pytest
import trustme
from fault_server import Fault, reset, serve_faults, status, stream
from test_end_to_end import run_suite

from vertex_conformance.paths import SAMPLES

pytestmark = pytest.mark.slow  # every test here runs the suite live in a pytest subprocess
MODEL = "google/gemini-2.5-flash"


def documented_answer() -> Fault:
    body = {**json.loads((SAMPLES / "plain_chat.json").read_text()), "model": MODEL}
    return Fault(body=json.dumps(body).encode(), headers=(("Content-Type", "application/json"),))


def documented_events() -> tuple[bytes, ...]:
    text = (SAMPLES / "streaming_chat.sse").read_text().replace("google/gemini-2.0-flash-001", MODEL)
    return tuple(event.encode() + b"\n\n" for event in text.split("\n\n") if event)


def live(tmp_path, base_url: str, select: str, *options: str, env: dict | None = None):
    reports = tmp_path / "reports"
    started = time.monotonic()
    result = run_suite(
        "--mode",
        "live",
        "--project",
        "fault-project",
        "--base-url",
        base_url,
        "--report-dir",
        str(reports),
        "--max-attempts",
        "3",
        "--max-retry-wait",
        "3",
        "-k",
        select,
        *options,
        env={"VERTEX_ACCESS_TOKEN": "fault-test-token", **(env or {})},
    )
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stdout + result.stderr
    [test] = json.loads((reports / "results.json").read_text())["tests"]
    return result, test, elapsed


def test_a_429_with_retry_after_is_retried_and_the_form_passes(tmp_path):
    with serve_faults(status(429, retry_after="1"), default=documented_answer()) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 0, result.stdout[-2000:]
    assert test["outcome"] == "pass"
    assert len(server.hits) == 2
    assert "429" in test["notes"]["attempts"]
    assert set(test["timing"][0]) >= {"ttfb_s", "first_chunk_s", "total_s"}


def test_503_until_the_retries_run_out_is_infra_with_the_last_status_as_evidence(tmp_path):
    with serve_faults(default=status(503, "backend overloaded")) as server:
        result, test, elapsed = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "infra"
    assert "HTTP 503" in test["error"] and "backend overloaded" in test["error"]
    assert len(server.hits) == 3  # --max-attempts 3
    assert elapsed < 60


def test_a_reset_before_any_byte_is_retried_in_the_sdk_lane_too(tmp_path):
    with serve_faults(reset(), default=documented_answer()) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and sdk and not async")
    assert result.returncode == 0, result.stdout[-2000:]
    assert test["outcome"] == "pass" and len(server.hits) == 2


def test_a_401_is_not_retried_and_fails_the_form(tmp_path):
    with serve_faults(default=status(401, "Request had invalid authentication credentials.")) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 1
    assert len(server.hits) == 1  # a 4xx is never retried; a static token is not re-sent after a 401
    assert test["outcome"] == "fail"
    assert "http.success" in {f["requirement"] for f in test["findings"]}


def test_a_stream_that_stalls_midway_is_infra_and_keeps_the_partial_events(tmp_path):
    events = documented_events()
    with serve_faults(default=stream(events, stall_after=1, stall_for=20)) as server:
        result, test, elapsed = live(
            tmp_path, server.url, "test_streaming_chat and httpx", "--read-timeout", "1"
        )
    assert result.returncode == 1
    assert test["outcome"] == "infra"
    assert "StreamStalled" in test["error"] and "characters received" in test["error"]
    assert elapsed < 20  # the read timeout, not the server's stall, ended it


def test_a_connection_dropped_midstream_is_infra(tmp_path):
    with serve_faults(default=stream(documented_events(), drop_after=2)) as server:
        result, test, _ = live(tmp_path, server.url, "test_streaming_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "infra"
    assert "StreamDropped" in test["error"]


def test_a_malformed_event_is_a_conformance_failure_quoting_the_line(tmp_path):
    events = list(documented_events())
    events.insert(1, b'data: {"choices": [oops\n\n')
    with serve_faults(default=stream(tuple(events))) as server:
        result, test, _ = live(tmp_path, server.url, "test_streaming_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "fail"
    [finding] = [f for f in test["findings"] if f["requirement"] == "sse.event-json"]
    assert '{"choices": [oops' in finding["message"] and finding["path"] == "$.events[1]"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def test_https_with_a_verified_certificate_retries_and_passes(tmp_path, ca):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with serve_faults(status(503), default=documented_answer(), tls=server_context) as server:
        assert server.url.startswith("https://")
        result, _, _ = live(
            tmp_path, server.url, "test_plain_chat and httpx", env={"SSL_CERT_FILE": str(bundle)}
        )
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(server.hits) == 2  # the 503, then the retry


def test_https_without_trusting_the_certificate_is_refused_not_ignored(tmp_path, ca):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    with serve_faults(default=documented_answer(), tls=server_context) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "infra" and "CERTIFICATE_VERIFY_FAILED" in test["error"]
    assert server.hits == []
