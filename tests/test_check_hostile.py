"""`vertex-conformance check` on hostile files: every one ends with a finding or one line, at once.

An answer nested 300 levels deep used to end in a traceback, bytes that are not UTF-8 were an
input error instead of a finding, and ``check /dev/zero`` read until memory ran out. What the
server sent is judged (exit 1, naming the requirement); only what cannot be traffic at all is
refused (exit 2, one line).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vertex_conformance import capture
from vertex_conformance.cli import EXIT_UNREADABLE, EXIT_VIOLATION, main
from vertex_conformance.paths import SAMPLES

PLAIN = (SAMPLES / "plain_chat.json").read_bytes()
STREAM = (SAMPLES / "streaming_chat.sse").read_bytes()


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_finding(out: str, err: str, requirement: str, fragment: str) -> None:
    assert err == "", err
    lines = [line for line in out.splitlines() if f"[{requirement}]" in line]
    assert lines and fragment in lines[0], out


def test_an_answer_nested_300_levels_deep_is_a_response_json_finding(capsys, tmp_path):
    path = write(tmp_path, "deep.json", b'{"choices": ' + b"[" * 300 + b"]" * 300 + b"}")
    code, out, err = check(capsys, path)
    assert code == EXIT_VIOLATION
    assert_finding(out, err, "response.json", "nested more than 128")


def test_a_stream_event_nested_past_what_json_parsers_take_is_an_event_json_finding(capsys, tmp_path):
    event = b"data: " + b"[" * 5000 + b"]" * 5000 + b"\n\n"
    code, out, err = check(capsys, write(tmp_path, "deep.sse", event + STREAM))
    assert code == EXIT_VIOLATION
    assert_finding(out, err, "sse.event-json", "$.events[0]")


def test_a_body_that_is_not_utf8_is_a_response_utf8_finding(capsys, tmp_path):
    path = write(tmp_path, "latin1.json", PLAIN.replace(b"Once upon", b"Gr\xfc\xdfe, once upon"))
    code, out, err = check(capsys, path)
    assert code == EXIT_VIOLATION
    assert_finding(out, err, "response.utf8", "is not UTF-8 (invalid start byte: fc)")
    assert "[response.json]" not in out  # the rest of the answer is judged as a client reads it


def test_a_stream_that_is_not_utf8_is_an_sse_utf8_finding(capsys, tmp_path):
    path = write(tmp_path, "cut.sse", STREAM.replace(b"Once upon", b"\xe2\x80 Once upon", 1))
    code, out, err = check(capsys, path)
    assert code == EXIT_VIOLATION
    assert_finding(out, err, "sse.utf8", "(invalid continuation byte: e2 80)")


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02\xff\xfe", b"\x00" * 1000, b"<html>Bad Gateway</html>", b"{" * 2000],
    ids=["binary", "nul-bytes", "html", "unclosed"],
)
def test_bytes_that_are_no_answer_at_all_are_findings_not_crashes(capsys, tmp_path, data):
    code, out, err = check(capsys, write(tmp_path, "garbage.json", data))
    assert code == EXIT_VIOLATION
    assert_finding(out, err, "response.json", "body is not JSON")


def test_an_endless_file_is_refused_at_once_with_one_line(capsys):
    started = time.monotonic()
    code, out, err = check(capsys, Path("/dev/zero"))
    assert time.monotonic() - started < 5
    assert (code, out) == (EXIT_UNREADABLE, "")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "/dev/zero: larger than 32 MiB" in err


def test_a_file_one_byte_over_the_bound_is_refused_and_one_at_it_is_read(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(capture, "MAX_CAPTURE_BYTES", len(PLAIN))
    assert check(capsys, write(tmp_path, "at.json", PLAIN))[0] == 0
    code, _, err = check(capsys, write(tmp_path, "over.json", PLAIN + b" "))
    assert code == EXIT_UNREADABLE and "over.json: larger than" in err
