"""Live runs against a local server that injects the faults of the real world.

Each test runs the suite as a user would (`pytest suites --mode live --base-url …`, a separate
process) against tests/fault_server.py on 127.0.0.1, and checks the documented outcome: retried
and passed, infra with the evidence, or a conformance failure quoting the line — never a hang and
never a traceback. HTTPS runs trust a throwaway trustme CA through SSL_CERT_FILE; verification is
never turned off.

The fault matrix runs each fault in every lane at once (the form's test is parametrized over the
lanes): a stall, a reset, a short body, an unterminated body, a close before ``[DONE]``, a drip
past ``--stream-timeout``, a ``Retry-After`` past ``--max-retry-wait``, a gzip bomb and a 50 MB
answer all end as ``infra`` with the evidence; refused credentials end the run (exit 2).
"""

import json
import ssl
import time
from functools import cache

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fault_server import Fault, big_answer, gzip_bomb, gzipped, reset, serve_faults, status, stream
from test_end_to_end import run_suite
from token_server import AuthServer, issued
from token_server import serve as serve_tokens

from vertex_conformance.config import RunConfig
from vertex_conformance.paths import SAMPLES
from vertex_conformance.vocabulary import CLIENT_LANES, SUITE_LANES

pytestmark = pytest.mark.slow  # every test here runs the suite live in a pytest subprocess
MODEL = f"google/{RunConfig().model}"


def documented_answer() -> Fault:
    body = {**json.loads((SAMPLES / "plain_chat.json").read_text()), "model": MODEL}
    return Fault(body=json.dumps(body).encode(), headers=(("Content-Type", "application/json"),))


def documented_events() -> tuple[bytes, ...]:
    text = (SAMPLES / "streaming_chat.sse").read_text().replace("google/gemini-2.0-flash-001", MODEL)
    return tuple(event.encode() + b"\n\n" for event in text.split("\n\n") if event)


def preflight() -> Fault:
    """The answer to the run's preflight request (vertex_conformance/preflight.py), which comes first:
    the faults are scripted for the test's own request after it."""
    return documented_answer()


def live_run(tmp_path, base_url: str, select: str, *options: str, env: dict | None = None):
    """Run the selected tests live; the process, its tests' records and the seconds it took."""
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
        "--concurrency",
        "1",  # the fault servers answer a script in order: one request at a time
        "-k",
        select,
        *options,
        env={"VERTEX_ACCESS_TOKEN": "fault-test-token", **(env or {})},
    )
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stdout + result.stderr
    document = json.loads((reports / "results.json").read_text())
    return result, document, elapsed


def live(tmp_path, base_url: str, select: str, *options: str, env: dict | None = None):
    """One selected test: the process, its record and the seconds the run took."""
    result, document, elapsed = live_run(tmp_path, base_url, select, *options, env=env)
    [test] = document["tests"]
    return result, test, elapsed


def by_lane(document: dict) -> dict[str, dict]:
    return {test["lane"]: test for test in document["tests"]}


def test_a_429_with_retry_after_is_retried_and_the_form_passes(tmp_path):
    with serve_faults(preflight(), status(429, retry_after="1"), default=documented_answer()) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 0, result.stdout[-2000:]
    assert test["outcome"] == "pass"
    assert len(server.hits) == 1 + 2
    assert "429" in test["notes"]["attempts"]
    assert set(test["timing"][0]) >= {"ttfb_s", "first_chunk_s", "total_s"}


def test_503_until_the_retries_run_out_is_infra_with_the_last_status_as_evidence(tmp_path):
    with serve_faults(preflight(), default=status(503, "backend overloaded")) as server:
        result, test, elapsed = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "infra"
    assert "HTTP 503" in test["error"] and "backend overloaded" in test["error"]
    assert len(server.hits) == 1 + 3  # --max-attempts 3
    assert elapsed < 60


def test_a_reset_before_any_byte_is_retried_in_the_sdk_lane_too(tmp_path):
    with serve_faults(preflight(), reset(), default=documented_answer()) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and sdk and not async")
    assert result.returncode == 0, result.stdout[-2000:]
    assert test["outcome"] == "pass" and len(server.hits) == 1 + 2


def test_a_400_is_not_retried_and_fails_the_form(tmp_path):
    refused = status(400, "Invalid JSON payload received.")
    with serve_faults(preflight(), default=refused) as server:
        result, test, _ = live(tmp_path, server.url, "test_plain_chat and httpx")
    assert result.returncode == 1
    assert len(server.hits) == 1 + 1  # a 4xx is never retried
    assert test["outcome"] == "fail"
    assert "http.success" in {f["requirement"] for f in test["findings"]}


def test_a_connection_dropped_midstream_is_infra(tmp_path):
    with serve_faults(preflight(), default=stream(documented_events(), drop_after=2)) as server:
        result, test, _ = live(tmp_path, server.url, "test_streaming_chat and httpx")
    assert result.returncode == 1
    assert test["outcome"] == "infra"
    assert test["error"].startswith("the connection closed before the chunked body's last chunk")


def test_a_malformed_event_is_a_conformance_failure_quoting_the_line(tmp_path):
    events = list(documented_events())
    events.insert(1, b'data: {"choices": [oops\n\n')
    with serve_faults(preflight(), default=stream(tuple(events))) as server:
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
    with serve_faults(preflight(), status(503), default=documented_answer(), tls=server_context) as server:
        assert server.url.startswith("https://")
        result, _, _ = live(
            tmp_path, server.url, "test_plain_chat and httpx", env={"SSL_CERT_FILE": str(bundle)}
        )
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(server.hits) == 1 + 2  # the 503, then the retry


def test_https_without_trusting_the_certificate_is_refused_not_ignored(tmp_path, ca):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    with serve_faults(default=documented_answer(), tls=server_context) as server:
        result = run_suite(
            *("--mode", "live", "--project", "fault-project", "--base-url", server.url),
            *("--report-dir", str(tmp_path / "reports"), "-k", "test_plain_chat and httpx"),
            env={"VERTEX_ACCESS_TOKEN": "fault-test-token"},
        )
    assert result.returncode == 4  # the preflight stops the run: no test could have been judged
    [line] = [line for line in result.stderr.splitlines() if "gave no whole answer" in line]
    assert "CERTIFICATE_VERIFY_FAILED" in line and "Traceback" not in result.stdout + result.stderr
    assert server.hits == []


# --- the fault matrix: each fault in every lane ------------------------------------------------


@cache
def bomb() -> bytes:
    return gzip_bomb(1 << 30)  # about 1 MB on the wire, 1 GiB inflated


PLAIN, STREAMING = "test_plain_chat", "test_streaming_chat"
# (what the server answers every test, which form, extra options, what each lane's error starts with)
MATRIX = {
    "stall": (
        lambda: stream(documented_events(), stall_after=1, stall_for=20),
        STREAMING,
        ("--read-timeout", "1"),
        "no byte for 1 s (--read-timeout); HTTP 200",
    ),
    "reset mid-stream": (
        lambda: stream(documented_events(), drop_after=2, drop_with_reset=True),
        STREAMING,
        (),
        "the connection was reset mid-answer; HTTP 200",
    ),
    "short body": (
        lambda: Fault(body=documented_answer().body, headers=documented_answer().headers, short_by=100),
        PLAIN,
        (),
        "the body ended short of its content-length",
    ),
    "unterminated chunked body": (
        lambda: stream(documented_events(), terminate=False, hold_for=20),
        STREAMING,
        ("--read-timeout", "1"),
        "no byte for 1 s (--read-timeout); HTTP 200",
    ),
    "closed before [DONE]": (
        lambda: stream(documented_events()[:-1], close_delimited=True),
        STREAMING,
        (),
        "the connection closed before [DONE]",
    ),
    "slow drip": (
        lambda: stream(documented_events(), drip=1.0),
        STREAMING,
        ("--stream-timeout", "2"),
        "the response ran past its 2 s deadline (--stream-timeout); HTTP 200",
    ),
    "Retry-After 3600": (
        lambda: status(429, "Resource exhausted", retry_after="3600"),
        PLAIN,
        (),
        "HTTP 429",
    ),
    "gzip bomb": (
        lambda: gzipped(bomb()),
        PLAIN,
        (),
        "the answer passed 33554432 bytes decoded (--max-response-bytes); nothing more was read",
    ),
    "50 MB answer": (
        lambda: Fault(body=big_answer(50_000_000), headers=documented_answer().headers),
        PLAIN,
        (),
        "the answer passed 33554432 bytes decoded (--max-response-bytes)",
    ),
}


@pytest.mark.parametrize("fault", MATRIX)
def test_each_fault_is_infra_with_its_evidence_in_every_lane(tmp_path, fault):
    answer, form, options, says = MATRIX[fault]
    with serve_faults(preflight(), default=answer()) as server:
        result, document, _ = live_run(tmp_path, server.url, form, *options)
    tests = by_lane(document)
    assert result.returncode == 1, result.stdout[-2000:]
    assert set(tests) == set(SUITE_LANES)
    for lane, test in tests.items():
        assert test["outcome"] == "infra", (lane, test.get("error"))
        assert test["error"].startswith(says), (lane, test["error"])
        if says.endswith("HTTP 200"):  # what arrived before it broke off is the evidence
            assert "; the last to arrive: '" in test["error"], lane
        if fault == "unterminated chunked body":  # all of it came, [DONE] too, but never its end
            assert "data: [DONE]'; ReadTimeout" in test["error"], lane
        startup = 8.0 if lane in CLIENT_LANES else 0.0  # node, or the first import of LiteLLM
        assert test["duration_s"] < (4.0 if fault == "slow drip" else 10.0) + startup  # the deadline ended it
    assert len(server.hits) == 1 + len(SUITE_LANES)  # nothing mid-answer, nor a long Retry-After, is retried
    if fault == "Retry-After 3600":
        reason = "not retried: Retry-After asks 3600 s, more than the 3 s --max-retry-wait leaves"
        assert all(reason in test["error"] for test in tests.values())


def test_an_answer_that_is_not_utf8_is_a_named_finding_in_every_lane(tmp_path):
    body = documented_answer().body.replace(b"Once upon a time", b"Once upon a t\xefme")
    with serve_faults(preflight(), default=Fault(body=body, headers=documented_answer().headers)) as server:
        result, document, _ = live_run(tmp_path, server.url, PLAIN)
    assert result.returncode == 1
    for lane, test in by_lane(document).items():
        assert test["outcome"] == "fail", lane
        [finding] = [f for f in test["findings"] if f["requirement"] == "response.utf8"]
        assert "is not UTF-8" in finding["message"], lane


@cache
def private_key_pem() -> str:
    """A throwaway RSA key made at test time; no key is ever kept in the repository."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SERVICE_ACCOUNT = "conformance@test-project.iam.gserviceaccount.com"


def adc_environment(tmp_path, token_url: str) -> dict[str, str]:
    """Application Default Credentials from a service-account key whose token endpoint is the local
    token server; no static token, no gcloud configuration, no metadata server."""
    key = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-1",
        "private_key": private_key_pem(),
        "client_email": SERVICE_ACCOUNT,
        "client_id": "1234567890",
        "token_uri": token_url,
    }
    (tmp_path / "sa.json").write_text(json.dumps(key))
    (tmp_path / "gcloud").mkdir()
    return {
        "VERTEX_ACCESS_TOKEN": "",  # empty counts as unset: ADC it is
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "sa.json"),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": "127.0.0.1:1",
        "GCE_METADATA_IP": "127.0.0.1:1",
    }


def test_with_adc_a_401_is_refreshed_once_and_every_lane_passes(tmp_path):
    tokens = AuthServer(token_replies=[issued(f"adc-token-{n}") for n in range(1, len(SUITE_LANES) + 2)])
    script = [preflight()] + [status(401), documented_answer()] * len(SUITE_LANES)
    with serve_tokens(tokens), serve_faults(*script, default=documented_answer()) as server:
        env = adc_environment(tmp_path, tokens.url + "/token")
        result, document, _ = live_run(tmp_path, server.url, PLAIN, env=env)
    assert result.returncode == 0, result.stdout[-2000:]
    assert {test["outcome"] for test in document["tests"]} <= {"pass", "known-deviation"}  # LangChain's body
    assert server.authorizations[1:] == [
        f"Bearer adc-token-{n}" for lane in range(1, len(SUITE_LANES) + 1) for n in (lane, lane + 1)
    ]  # each lane (a client lane's through the gateway's relay): refused, refreshed once, sent again
    assert tokens.token_calls == len(SUITE_LANES) + 1


def test_a_static_token_refused_mid_run_stops_the_run_with_one_line(tmp_path):
    with serve_faults(preflight(), status(401), default=documented_answer()) as server:
        result, document, _ = live_run(tmp_path, server.url, PLAIN)
    assert result.returncode == 2
    [test] = document["tests"]
    assert test["outcome"] == "infra" and test["error"].startswith("the token was refused (HTTP 401)")
    assert document["incomplete"]["reason"].startswith(
        "the token was refused (HTTP 401); it may have expired"
    )
    assert len(document["incomplete"]["not_run"]) == len(SUITE_LANES) - 1
    assert "RUN INCOMPLETE" in result.stdout.splitlines()[-1]
    assert len(server.hits) == 2  # no later test sent anything


def test_a_credential_refresh_that_fails_mid_run_stops_it_naming_neither_account_nor_project(tmp_path):
    disabled = f"{SERVICE_ACCOUNT} is disabled in project fault-project"
    tokens = AuthServer(
        token_replies=[
            issued("adc-token-1"),
            (400, {"error": "invalid_grant", "error_description": disabled}),
        ]
    )
    with serve_tokens(tokens), serve_faults(preflight(), status(401), default=documented_answer()) as server:
        result, document, _ = live_run(
            tmp_path, server.url, PLAIN, env=adc_environment(tmp_path, tokens.url + "/token")
        )
    assert result.returncode == 2
    assert document["incomplete"]["reason"].startswith("could not get Google credentials (invalid_grant")
    everything = result.stdout + result.stderr + (tmp_path / "reports" / "results.json").read_text()
    assert SERVICE_ACCOUNT not in everything and "fault-project" not in everything
    assert len(server.hits) == 2
