"""The ``vertex-conformance`` command: listing requirements, checking captured files, exit codes.

Exit codes are the contract for scripts and CI: 0 conforms, 1 violates, 2 unreadable input or bad
usage (one line on stderr, never a traceback).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vertex_conformance.capture import UnreadableInput, exchange_from_text, kind_of, looks_like_sse, read_text
from vertex_conformance.cli import main
from vertex_conformance.paths import ROOT, SAMPLES
from vertex_conformance.requirements import Source, all_requirements

SAMPLE_FILES = sorted([*SAMPLES.glob("*.json"), *SAMPLES.glob("*.sse")])
PLACEHOLDER = SAMPLES / "image_output.json"  # the seed's image answer: "<BASE64_BYTES>" for its data
CONFORMING = [sample for sample in SAMPLE_FILES if sample != PLACEHOLDER]
STREAM = SAMPLES / "streaming_chat.sse"
PLAIN = SAMPLES / "plain_chat.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("vertex-conformance")
    for fragment in fragments:
        assert fragment in err


@pytest.fixture
def broken_stream(tmp_path: Path) -> Path:
    """The documented stream with its final ``data: [DONE]`` removed."""
    path = tmp_path / "no_done.sse"
    path.write_text(STREAM.read_text(encoding="utf-8").replace("data: [DONE]\n\n", ""), encoding="utf-8")
    return path


# --- requirements -------------------------------------------------------------------------------


def test_requirements_lists_every_requirement_in_an_aligned_table(capsys):
    code, out, _ = run(capsys, "requirements")
    header, *rows = out.splitlines()
    assert code == 0
    assert header.split() == ["ID", "SOURCE", "STATEMENT", "WHERE"]
    source_at, statement_at, where_at = (header.index(name) for name in ("SOURCE", "STATEMENT", "WHERE"))
    for row, req in zip(rows, all_requirements(), strict=True):
        assert row.startswith(req.id + " ")
        assert row[source_at:].startswith(str(req.source) + " ")
        assert row[statement_at:].startswith(req.statement + " ")
        assert row[where_at:] == req.where


def test_requirements_json_is_an_array_of_every_requirement(capsys):
    code, out, _ = run(capsys, "requirements", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [row["id"] for row in rows] == [r.id for r in all_requirements()]
    assert all(set(row) == {"id", "source", "statement", "where"} for row in rows)
    assert {row["source"] for row in rows} <= {s.value for s in Source}


# --- check: verdicts ----------------------------------------------------------------------------


def test_documented_samples_conform_and_exit_0_but_the_image_placeholder(capsys):
    """The seed's image answer carries "<BASE64_BYTES>" for its data: no image, whatever the request."""
    code, out, err = run(capsys, "check", *map(str, SAMPLE_FILES))
    assert (code, err) == (1, "")
    for sample in SAMPLE_FILES:
        assert (f"{sample}: ok (" in out) is (sample in CONFORMING)
    assert [line for line in out.splitlines() if ": [" in line] == [
        f"{PLACEHOLDER}: [image.base64] $.response.choices[0].message.audio.data: not strict base64: "
        "'<BASE64_BYTES>'"
    ]
    assert f"{STREAM}: usage rule held: both" in out
    assert f"{PLACEHOLDER}: usage rule held: vertex" in out
    code, _, _ = run(capsys, "check", *map(str, CONFORMING))
    assert code == 0


def test_a_stream_without_done_exits_1_naming_the_requirement_and_path(capsys, broken_stream):
    code, out, _ = run(capsys, "check", str(broken_stream))
    assert code == 1
    assert f"{broken_stream}: [sse.done-last] $.events: no [DONE] event" in out
    assert f"{broken_stream}: 1 violation(s)" in out.splitlines()


def test_one_violating_file_among_conforming_ones_exits_1(capsys, broken_stream):
    code, out, _ = run(capsys, "check", str(PLAIN), str(broken_stream))
    assert code == 1
    assert f"{PLAIN}: ok (" in out


def test_a_non_json_body_is_a_response_json_violation_not_unreadable_input(capsys, tmp_path):
    path = tmp_path / "gateway.html"
    path.write_text("<html>Bad Gateway</html>", encoding="utf-8")
    code, out, err = run(capsys, "check", str(path))
    assert (code, err) == (1, "")
    assert f"{path}: [response.json] $.response: body is not JSON" in out


def test_openai_profile_shows_the_documented_stream_differences_as_known_deviations(capsys):
    """Captured Vertex traffic held to OpenAI's contract: the differences expectations/gemini.yaml
    documents are shown, as known, and do not fail the exit code."""
    code, out, _ = run(capsys, "check", "--profile", "openai", str(STREAM))
    assert code == 0
    assert (
        f'{STREAM}: known deviation [schema.chunk] $.events[0].choices[0]: "finish_reason" is a required '
        "property (expected: line "
    ) in out
    assert "known deviation [stream.role-first-only]" in out
    assert f"{STREAM}: ok (" in out and "3 known deviation(s))" in out


def test_without_expectations_the_openai_differences_are_violations(capsys):
    code, out, _ = run(capsys, "check", "--profile", "openai", "--expectations", os.devnull, str(STREAM))
    assert code == 1
    assert f'{STREAM}: [schema.chunk] $.events[0].choices[0]: "finish_reason" is a required property' in out
    assert "[stream.role-first-only]" in out and "known deviation" not in out


def test_a_known_deviation_excuses_only_its_own_finding_of_a_requirement(capsys, tmp_path):
    """The refusal key OpenAI requires is a documented difference; content of the wrong type is not,
    though both break schema.response."""
    answer = json.loads(PLAIN.read_text(encoding="utf-8"))
    answer["choices"][0]["message"]["content"] = 42
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer), encoding="utf-8")
    code, out, _ = run(capsys, "check", "--json", "--profile", "openai", str(path))
    report = json.loads(out)["files"][0]
    assert code == 1
    assert [(v["requirement"], v["path"]) for v in report["violations"]] == [
        ("schema.response", "$.response.choices[0].message.content")
    ]
    assert [(k["requirement"], k["path"]) for k in report["known_deviations"]] == [
        ("schema.response", "$.response.choices[0].message")
    ]
    assert report["known_deviations"][0]["link"].startswith("docs/spec.md#openai-baseline")


def test_request_file_makes_the_model_echo_check_apply(capsys, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "google/gemini-2.0-flash-001", "messages": []}), encoding="utf-8")
    code, out, _ = run(capsys, "check", "--json", "--request", str(request), str(PLAIN))
    report = json.loads(out)["files"][0]
    assert code == 0
    assert "response.model-echo" in report["requirements_evaluated"]

    request.write_text(json.dumps({"model": "google/gemini-2.5-pro"}), encoding="utf-8")
    code, out, _ = run(capsys, "check", "--request", str(request), str(PLAIN))
    assert code == 1
    assert f"{PLAIN}: [response.model-echo] $.response.model: answered" in out


def test_json_output_is_one_document_with_a_report_per_file(capsys, broken_stream, tmp_path):
    error = tmp_path / "error.json"
    error.write_text(json.dumps([{"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}]))
    code, out, _ = run(capsys, "check", "--json", str(PLAIN), str(broken_stream), str(error))
    document = json.loads(out)
    files = {report["file"]: report for report in document["files"]}
    assert code == 1
    assert document["profile"] == "vertex"
    assert [files[str(p)]["kind"] for p in (PLAIN, broken_stream, error)] == ["response", "stream", "error"]
    assert files[str(PLAIN)]["conforms"] is True
    assert files[str(PLAIN)]["violations"] == []
    assert files[str(PLAIN)]["observations"] == {"usage_rule": "both"}
    assert "schema.response" in files[str(PLAIN)]["requirements_evaluated"]
    assert files[str(broken_stream)]["violations"] == [
        {"requirement": "sse.done-last", "path": "$.events", "message": "no [DONE] event"}
    ]
    assert document["expectations"] == "expectations/gemini.yaml"
    assert files[str(error)]["violations"] == []  # Google's array of errors: a reported behaviour
    assert [k["requirement"] for k in files[str(error)]["known_deviations"]] == ["schema.error"]
    assert "response.model-echo" in files[str(PLAIN)]["needs_request"]


# --- check: unreadable input and bad usage -------------------------------------------------------


def test_missing_file_exits_2_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "check", str(tmp_path / "nope.json"))
    assert (code, out) == (2, "")
    assert_one_line_error(err, "nope.json", "no such file")


def test_directory_exits_2_with_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2
    assert_one_line_error(err, "is a directory")


@pytest.mark.parametrize("content", [b"", b"  \n\n"], ids=["empty", "blank"])
def test_empty_file_exits_2_with_one_line(capsys, tmp_path, content):
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert_one_line_error(err, "empty file")


def test_non_utf8_request_file_exits_2_with_one_line(capsys, tmp_path):
    """A request is input, not traffic: a captured answer that is not UTF-8 is a finding instead
    (tests/test_check_hostile.py)."""
    path = tmp_path / "latin1.json"
    path.write_bytes('{"content": "Grüße"}'.encode("latin-1"))
    code, _, err = run(capsys, "check", "--request", str(path), str(PLAIN))
    assert code == 2
    assert_one_line_error(err, "not UTF-8", "0xfc")


def test_unreadable_file_still_lets_the_others_be_reported(capsys, tmp_path):
    code, out, err = run(capsys, "check", str(PLAIN), str(tmp_path / "nope.json"))
    assert code == 2
    assert f"{PLAIN}: ok (" in out
    assert_one_line_error(err, "nope.json")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "request is not JSON"),
        ('{"max_tokens": NaN}', "request is not JSON"),
        ('["a list"]', "not an object"),
        ("", "empty file"),
    ],
    ids=["not-json", "nan-is-not-json", "not-an-object", "empty"],
)
def test_bad_request_file_exits_2_with_one_line(capsys, tmp_path, content, fragment):
    request = tmp_path / "request.json"
    request.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "check", "--request", str(request), str(PLAIN))
    assert (code, out) == (2, "")
    assert_one_line_error(err, fragment)


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--bogus", str(PLAIN)],
        ["check"],
        ["check", "--profile", "azure", str(PLAIN)],
        ["frobnicate"],
        [],
    ],
    ids=["unknown-option", "no-file", "unknown-profile", "unknown-command", "no-command"],
)
def test_bad_usage_exits_2_with_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert_one_line_error(err, "error:")


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0
    assert "--profile" in out and "--request" in out and "--expectations" in out


def test_a_missing_expectations_file_exits_2_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "check", "--expectations", str(tmp_path / "gemni.yaml"), str(PLAIN))
    assert (code, out) == (2, "")
    assert_one_line_error(err, "gemni.yaml: no such file")


def test_a_malformed_expectations_file_exits_2_naming_its_line(capsys, tmp_path):
    listed = tmp_path / "x.yaml"
    listed.write_text("# known\n- {requirement: schema.chunk, reason: r, link: l, lanes: [skd]}\n")
    code, out, err = run(capsys, "check", "--expectations", str(listed), str(PLAIN))
    assert (code, out) == (2, "")
    assert_one_line_error(err, f"expectations file {listed}, line 2: unknown lane 'skd'")


def test_a_scalar_json_body_is_a_violation_not_a_crash(capsys, tmp_path):
    path = tmp_path / "scalar.json"
    path.write_text('"hello"', encoding="utf-8")
    code, _, _ = run(capsys, "check", str(path))
    assert code == 1


# --- capture: what a saved file stands for -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stream"),
    [
        ("data: {}\n\n", True),
        ("\n\n  \ndata: [DONE]\n\n", True),
        ("event: message\ndata: {}\n\n", True),
        ("id: 1\ndata: {}\n\n", True),
        (": keep-alive\n\ndata: {}\n\n", True),
        ('{"data": "x"}', False),
        ("<html>data: x</html>", False),
        (" data: {}\n\n", False),
    ],
)
def test_a_file_is_a_stream_when_its_first_non_blank_line_is_an_sse_field(text, stream):
    assert looks_like_sse(text) is stream


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (PLAIN.read_text(encoding="utf-8"), "response"),
        (STREAM.read_text(encoding="utf-8"), "stream"),
        ('{"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}', "error"),
        ('[{"error": {"code": 400}}]', "error"),
        ("not json", "response"),
    ],
    ids=["answer", "stream", "error-object", "error-array", "not-json"],
)
def test_captured_text_becomes_an_exchange_of_status_unknown(text, kind):
    exchange = exchange_from_text(text)
    assert kind_of(exchange) == kind
    assert (exchange.status, exchange.headers, exchange.request) == (0, {}, None)


def test_a_byte_order_mark_is_not_part_of_the_capture(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + PLAIN.read_bytes())
    assert exchange_from_text(read_text(path)).body["object"] == "chat.completion"


def test_read_text_refuses_a_missing_file(tmp_path):
    with pytest.raises(UnreadableInput, match="no such file"):
        read_text(tmp_path / "absent.sse")


# --- the installed command ----------------------------------------------------------------------


def _commands() -> list[list[str]]:
    script = ROOT / ".venv" / "bin" / "vertex-conformance"
    module = [sys.executable, "-m", "vertex_conformance.cli"]
    return [[str(script)], module] if script.exists() else [module]


def _spawn(command: list[str], *argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *map(str, argv)], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("command", _commands(), ids=lambda c: Path(c[-1]).name)
def test_the_command_runs_as_a_process(command, broken_stream, tmp_path):
    ok = _spawn(command, "check", *CONFORMING)
    assert (ok.returncode, ok.stderr) == (0, ""), ok.stderr
    broken = _spawn(command, "check", broken_stream)
    assert broken.returncode == 1
    assert "[sse.done-last]" in broken.stdout
    missing = _spawn(command, "check", tmp_path / "nope.sse")
    assert missing.returncode == 2
    assert_one_line_error(missing.stderr, "no such file")


@pytest.mark.slow
def test_a_closed_output_pipe_is_no_traceback():
    process = subprocess.Popen(
        [*_commands()[0], "requirements"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader goes away at once, as `| head -0` would
    _, err = process.communicate(timeout=60)
    assert b"Traceback" not in err and b"Exception ignored" not in err
    assert process.returncode in (0, 141)
