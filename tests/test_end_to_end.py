"""End to end: record the suite against a real local server, then replay it with the server gone.

Each run is a separate pytest process, as a user would start it; the recording run talks only to
the sample server on 127.0.0.1, and the replay run has the network blocked.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.sample_server import serve_samples
from vertex_conformance import matrix
from vertex_conformance.paths import ROOT
from vertex_conformance.results import load
from vertex_conformance.vocabulary import CLIENT_LANES, SUITE_LANES

pytestmark = pytest.mark.slow  # every test here runs the suite in a pytest subprocess

FORMS = set(matrix.FORMS)  # the documented forms, docs/spec.md order
PARITY = {"lane-parity"}  # one test sends every lane
PROBES = {
    "probe-error-body",
    "probe-n-choices",
    "probe-unknown-field",
    "probe-model-prefix",
    "probe-thought-signature",
}
SHIPPED = ROOT / "fixtures" / "cassettes" / "vertex"
RECORDED = len(list(SHIPPED.rglob("*.yaml")))  # a test of the raw or an SDK lane: a cassette each
# a client lane's test replays the raw lane's cassette of the same test: one per client per raw-lane cassette
TESTS = RECORDED + len(CLIENT_LANES) * len(list(SHIPPED.rglob("*[[]httpx*.yaml")))


def run_suite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Record every form into a fresh cassette directory against the sample server, then stop it."""
    tmp = tmp_path_factory.mktemp("e2e")
    cassettes, reports = tmp / "cassettes", tmp / "record-reports"
    with serve_samples() as base_url:
        result = run_suite(
            "--mode",
            "record",
            "--project",
            "my-secret-proj-123",
            "--base-url",
            base_url,
            "--endpoint-id",
            "4242",
            "--cassette-dir",
            str(cassettes),
            "--report-dir",
            str(reports),
            env={"VERTEX_ACCESS_TOKEN": "ya29.a0AfB_e2e-test-token-that-must-never-be-written"},
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    load(reports / "results.json")  # the recording run's report follows the schema too
    return tmp, cassettes


def test_recording_writes_one_cassette_per_test_with_provenance(recorded):
    _, cassettes = recorded
    files = sorted(cassettes.rglob("*.yaml"))
    assert len(files) == RECORDED  # client lanes record nothing
    for path in files:
        text = path.read_text()
        assert (
            "source: reported-behaviour-sample" in text
            if "test_probes" in path.parent.name
            else ("source: documented-sample" in text)
        )
        assert "{PROJECT}" in text


def test_recorded_cassettes_hold_no_token_header_or_project_id(recorded):
    _, cassettes = recorded
    for path in cassettes.rglob("*.yaml"):
        text = path.read_text().lower()
        assert "ya29." not in text
        assert "authorization" not in text
        assert "my-secret-proj-123" not in text
        assert "8675309123" not in text


def test_replay_with_the_server_stopped_passes_every_form_in_both_lanes(recorded):
    tmp, cassettes = recorded
    reports = tmp / "replay-reports"
    result = run_suite("--cassette-dir", str(cassettes), "--report-dir", str(reports))
    assert result.returncode == 0, result.stdout[-3000:]
    results = load(reports / "results.json")
    summary = results.summary
    assert summary["total"] == TESTS
    assert summary["pass"] + summary["known-deviation"] == TESTS
    known = {t.nodeid for t in results.tests if t.outcome == "known-deviation" and t.lane not in CLIENT_LANES}
    sdk_stream = {n for n in known if "[sdk" in n and "stream" in n}
    expected_known = (
        "function_call_arguments",
        "test_probes",
        "test_lane_parity.py::test_sdk_lanes_send_what_the_raw_lane_sends[structured_output]",
    )
    assert known and all(any(part in n for part in expected_known) for n in known - sdk_stream)
    assert {t.form for t in results.tests} == FORMS | PROBES | PARITY
    assert {(t.form, t.lane) for t in results.tests if t.form not in PARITY} == {
        (f, lane) for f in FORMS | PROBES for lane in SUITE_LANES
    }
    assert {t.cassette["source"] for t in results.tests if t.form in FORMS | PARITY} == {"documented-sample"}
    assert {t.cassette["source"] for t in results.tests if t.form in PROBES} == {"reported-behaviour-sample"}
    assert (reports / "junit.xml").is_file()


def test_replay_is_offline_even_without_cassette_dir_override(tmp_path):
    result = run_suite("--report-dir", str(tmp_path), "-k", "plain_chat")
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_missing_cassette_fails_naming_the_file_and_the_record_command(tmp_path):
    other = tmp_path / "cassettes" / "test_streaming"  # a cassette directory without test_plain's
    other.mkdir(parents=True)
    (other / "unrelated.yaml").write_text("interactions: []\n")
    result = run_suite(
        "--cassette-dir", str(tmp_path / "cassettes"), "--report-dir", str(tmp_path), "-k", "plain_chat"
    )
    assert result.returncode == 1
    assert "no cassette" in result.stdout
    assert "test_plain_chat[httpx].yaml" in result.stdout
    assert "--mode record" in result.stdout
    assert {t.outcome for t in load(tmp_path / "results.json").tests} == {"error"}


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_cassette_directory_without_cassettes_stops_the_run_and_keeps_earlier_reports(tmp_path, state):
    directory = tmp_path / "cassettes"
    if state == "empty":
        directory.mkdir()
    (tmp_path / "index.html").write_text("earlier")
    result = run_suite("--cassette-dir", str(directory), "--report-dir", str(tmp_path))
    assert result.returncode == 4  # pytest's usage error: before any test
    reason = "holds no cassette" if state == "empty" else "does not exist"
    assert f"cassette directory {directory} {reason}: check --cassette-dir" in result.stderr
    assert (tmp_path / "index.html").read_text() == "earlier"
    assert not (tmp_path / "results.json").exists()


def replay_variant(tmp_path, source: Path, change) -> subprocess.CompletedProcess[str]:
    """Replay test_plain_chat[httpx] from a copy of ``source`` rewritten by ``change`` (text -> text)."""
    variant = tmp_path / "cassettes" / "test_plain"
    variant.mkdir(parents=True)
    (variant / source.name).write_text(change(source.read_text()))
    return run_suite(
        "--cassette-dir",
        str(tmp_path / "cassettes"),
        "--report-dir",
        str(tmp_path),
        "-k",
        "plain_chat and httpx",
    )


def test_a_cassette_with_an_unplayed_interaction_fails_the_test(recorded, tmp_path):
    def doubled(text: str) -> str:
        head, _, interactions = text.partition("interactions:\n")
        return head + "interactions:\n" + interactions + interactions

    _, cassettes = recorded
    result = replay_variant(tmp_path, cassettes / "test_plain" / "test_plain_chat[httpx].yaml", doubled)
    assert result.returncode == 1
    assert "cassette.all-played" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "nonsense"], "mode"),
        (["--mode", "live"], "project"),
        (["--target", "endpoint", "--mode", "live", "--project", "proj-1"], "endpoint"),
    ],
)
def test_a_bad_configuration_stops_before_any_test_with_one_clear_line(tmp_path, args, message):
    result = run_suite("--report-dir", str(tmp_path), *args)
    assert result.returncode == 4
    assert "vertex-conformance:" in result.stderr
    assert message in result.stderr.lower()
    assert "Traceback" not in result.stderr + result.stdout
    assert not Path(tmp_path / "results.json").exists()


def test_a_request_that_differs_from_the_recording_is_an_error_not_a_traceback(tmp_path):
    result = run_suite("--report-dir", str(tmp_path), "--model", "gemini-other", "-k", "plain_chat")
    assert result.returncode == 1
    assert "the request is not the one recorded in the cassette" in result.stdout
    assert "Traceback" not in result.stdout
    tests = load(tmp_path / "results.json").tests
    assert len(tests) == len(SUITE_LANES)  # every lane
    assert all(t.outcome == "error" and t.error.startswith("not in the cassette") for t in tests)


def test_a_changed_shape_fails_the_snapshot_requirement_alone(tmp_path):
    """A schema-valid change of an enum-like value (the traffic type) is drift only the snapshot sees."""
    source = SHIPPED / "test_plain" / "test_plain_chat[httpx].yaml"
    assert "traffic_type: ON_DEMAND" in source.read_text()
    result = replay_variant(
        tmp_path,
        source,
        lambda text: text.replace("traffic_type: ON_DEMAND", "traffic_type: PROVISIONED_THROUGHPUT"),
    )
    assert result.returncode == 1
    [test] = load(tmp_path / "results.json").tests
    assert [f.requirement for f in test.findings] == ["snapshot.shape"]


def test_a_listed_deviation_that_no_longer_happens_is_an_unexpected_pass(tmp_path):
    listed = tmp_path / "expectations.yaml"
    listed.write_text("- {requirement: usage.vertex-total, forms: [plain], reason: made up, link: nowhere}\n")
    # the lanes that send the documented body (LangChain renames max_tokens: not listed here)
    select = "plain_chat and not langchain"
    result = run_suite("--expectations", str(listed), "--report-dir", str(tmp_path), "-k", select)
    assert result.returncode == 1
    assert "unexpected pass: [usage.vertex-total]" in result.stdout
    tests = load(tmp_path / "results.json").tests
    assert {t.outcome for t in tests} == {"unexpected-pass"}
    assert all(t.expectations["usage.vertex-total"]["reason"] == "made up" for t in tests)


def test_the_documented_index_quirk_is_reported_as_a_known_deviation(tmp_path):
    result = run_suite("--report-dir", str(tmp_path), "-k", "function_call_arguments")
    assert result.returncode == 0, result.stdout[-2000:]
    tests = load(tmp_path / "results.json").tests
    known = [t for t in tests if t.outcome == "known-deviation" and "tools.index-stable" in t.requirements]
    assert known and all(t.requirements["tools.index-stable"] == "known-deviation" for t in known)
    assert all(
        t.requirements["tools.index-stable"] == "pass"
        for t in tests
        if t not in known and "tools.index-stable" in t.requirements and t.streamed
    )


def test_a_malformed_expectations_file_stops_the_run(tmp_path):
    listed = tmp_path / "expectations.yaml"
    listed.write_text("- {requirement: r}\n")
    result = run_suite("--expectations", str(listed), "--report-dir", str(tmp_path))
    assert result.returncode == 4
    assert "'reason' is required" in result.stderr


def test_max_cassette_age_turns_older_cassettes_into_failures(tmp_path):
    fresh = run_suite(
        "--report-dir", str(tmp_path / "fresh"), "--max-cassette-age", "36500", "-k", "plain_chat"
    )
    assert fresh.returncode == 0, fresh.stdout[-2000:]
    stale = run_suite("--report-dir", str(tmp_path / "stale"), "--max-cassette-age", "0", "-k", "plain_chat")
    assert stale.returncode == 1
    for test in load(tmp_path / "stale" / "results.json").tests:  # a client lane's: the raw lane's cassette
        assert "cassette.fresh" in [f.requirement for f in test.findings if f.outcome == "fail"]
        assert test.cassette["recorded_at"] and test.cassette["age_days"] >= 0


def test_a_live_run_without_credentials_stops_before_any_request_saying_what_to_do(tmp_path):
    no_adc = {
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json"),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",  # never ask a metadata server: no traffic leaves loopback
        "GCE_METADATA_HOST": "127.0.0.1:1",
        "GCE_METADATA_IP": "127.0.0.1:1",
    }
    result = run_suite("--mode", "live", "--project", "proj-1", "--report-dir", str(tmp_path), env=no_adc)
    assert result.returncode == 4
    assert "gcloud auth application-default login" in result.stderr
    assert "VERTEX_ACCESS_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_recording_again_with_another_request_replaces_the_cassette_instead_of_appending(tmp_path):
    cassettes = tmp_path / "cassettes"
    with serve_samples() as base_url:
        for model in ("gemini-3.5-flash", "gemini-3.8-flash"):
            done = run_suite(
                "--mode",
                "record",
                "--project",
                "my-secret-proj-123",
                "--base-url",
                base_url,
                "--model",
                model,
                "--cassette-dir",
                str(cassettes),
                "--report-dir",
                str(tmp_path / model),
                "-k",
                "test_plain_chat and httpx",
                env={"VERTEX_ACCESS_TOKEN": "record-again-test-token"},
            )
            assert done.returncode == 0, done.stdout[-2000:]
    text = (cassettes / "test_plain" / "test_plain_chat[httpx].yaml").read_text()
    assert text.count("gemini-3.8-flash") >= 1
    assert "gemini-3.5-flash" not in text


def test_an_unreadable_trust_store_is_one_line_before_any_test(tmp_path):
    done = run_suite(
        "--report-dir", str(tmp_path), "-k", "plain_chat", env={"SSL_CERT_FILE": str(tmp_path / "none.pem")}
    )
    assert done.returncode == 4
    assert "the TLS trust store could not be read" in done.stderr and "Traceback" not in done.stderr
