"""The repository secret scanner: it finds every kind of credential, says where, and never says what.

Every secret here is assembled at run time from harmless pieces, so this file itself stays clean
under the scanner (and under any other scanner that looks for these shapes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from result_documents import secrets_in_reports

from vertex_conformance.paths import FIXTURES, ROOT
from vertex_conformance.secrets_scan import EXIT_CLEAN, EXIT_FOUND, EXIT_USAGE, Hit, main, scan

FILLER = "Q7vLm2xR" * 6  # long enough to look like a real credential value


def secrets_by_kind() -> dict[str, str]:
    """One line of text per kind of secret, built so no literal here matches a pattern."""
    dash = "-" * 5
    return {
        "access token": '{"access_token": "' + "ya" + "29." + FILLER + '"}',
        "bearer token": "Authorization: " + "Bear" + "er " + FILLER,
        "private key": dash + "BEGIN " + "PRIVATE" + " KEY" + dash,
        "refresh token": '"refresh' + '_token": "1//' + FILLER + '"',
        "client secret": "client" + "_secret: " + "GOCSPX-" + FILLER,
    }


PROJECT = "scan" + "-test-" + "proj-4711"


@pytest.mark.parametrize("kind", sorted(secrets_by_kind()))
def test_each_kind_of_secret_is_found_with_its_file_and_line(tmp_path: Path, kind: str) -> None:
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text(f"meta: ok\ninteractions: []\n{secrets_by_kind()[kind]}\n")
    assert scan([tmp_path]) == [Hit(leaky, 3, kind)]


def test_the_live_project_id_is_found_only_when_listed(tmp_path: Path) -> None:
    cassette = tmp_path / "cassette.yaml"
    cassette.write_text(f"uri: https://host/v1/projects/{PROJECT}/locations/us-central1\n")
    assert scan([cassette]) == []
    assert scan([cassette], extra_secrets=[PROJECT]) == [Hit(cassette, 1, "listed secret value")]


def test_hits_never_carry_the_secret_value(tmp_path: Path) -> None:
    lines = list(secrets_by_kind().values())
    (tmp_path / "all.txt").write_text("\n".join([*lines, PROJECT]))
    hits = scan([tmp_path], extra_secrets=[PROJECT])
    assert [hit.line for hit in hits] == [1, 2, 3, 4, 5, 6]
    shown = "\n".join(map(str, hits)) + repr(hits)
    assert FILLER not in shown and PROJECT not in shown


def test_directories_are_walked_including_hidden_and_binary_files(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / ".x.yaml.tmp").write_text(secrets_by_kind()["access token"])
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00" + secrets_by_kind()["private key"].encode() + b"\x80")
    (tmp_path / "clean.json").write_text('{"ok": true}')
    assert [(hit.file.name, hit.kind) for hit in scan([tmp_path])] == [
        (".x.yaml.tmp", "access token"),
        ("blob.bin", "private key"),
    ]


def test_placeholders_and_redacted_values_are_not_secrets(tmp_path: Path) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text("uri: /v1/projects/{PROJECT}/locations/{LOCATION}\nauthorization: Bearer <redacted>\n")
    assert scan([clean], extra_secrets=[PROJECT]) == []


def test_a_missing_path_or_a_too_short_listed_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        scan([tmp_path / "nope"])
    with pytest.raises(ValueError, match="at least 6 characters"):
        scan([tmp_path], extra_secrets=["x"])


def test_main_lists_file_line_and_kind_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky = tmp_path / "report.json"
    leaky.write_text("{}\n" + secrets_by_kind()["bearer token"] + "\n")
    assert main([str(tmp_path)]) == EXIT_FOUND
    out, err = capsys.readouterr()
    assert out == f"{leaky}:2: bearer token\n"
    assert "1 secret(s) found" in err
    assert FILLER not in out + err


def test_main_exits_0_when_clean_and_2_on_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fine.txt").write_text("nothing to see\n")
    assert main([str(tmp_path), "--project-id", PROJECT]) == EXIT_CLEAN
    assert main([]) == EXIT_USAGE
    assert main([str(tmp_path / "missing")]) == EXIT_USAGE
    assert main([str(tmp_path), "--project-id", "abc"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "the following arguments are required: PATH" in err
    assert "no such file or directory" in err
    assert "at least 6 characters" in err


@pytest.mark.slow
def test_it_runs_as_a_module(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(secrets_by_kind()["private key"] + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "vertex_conformance.secrets_scan", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == EXIT_FOUND
    assert result.stdout.strip() == f"{tmp_path / 'key.pem'}:1: private key"


def test_the_shipped_fixtures_are_clean() -> None:
    assert scan([FIXTURES]) == []


def test_this_test_file_is_clean() -> None:
    assert scan([Path(__file__)], extra_secrets=[PROJECT]) == []


def test_a_report_a_self_test_leaves_with_a_token_in_it_is_found(tmp_path):
    token = "ya29." + "a0AfH6SMBx3-not-a-real-one"  # split: this file is scanned too
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "junit.xml").write_text(f"<failure>Authorization: Bearer {token}</failure>")
    (tmp_path / "notes.txt").write_text(f"Bearer {token}")  # not a report: not this rule's
    hits = secrets_in_reports(tmp_path)
    assert hits and all(hit.startswith(f"{tmp_path / 'run' / 'junit.xml'}:1:") for hit in hits)
    (tmp_path / "run" / "junit.xml").write_text("<failure>Authorization: Bearer <redacted></failure>")
    assert secrets_in_reports(tmp_path) == []
