"""atomic.write_text: the old file or the new one, never half of either, and no temp file left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vertex_conformance.atomic import write_text


def test_write_text_creates_the_directory_and_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "c.yaml"
    write_text(path, "first\n")
    write_text(path, "second\r\n")
    assert path.read_bytes() == b"second\r\n"  # newlines as given, UTF-8
    assert [p.name for p in path.parent.iterdir()] == ["c.yaml"]


def test_the_file_is_0644_like_an_ordinary_repository_file(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        write_text(tmp_path / "c.yaml", "x")
        write_text(tmp_path / "comparison.json", '{\n  "a": 1\n}\n')
    finally:
        os.umask(old_umask)
    assert (tmp_path / "c.yaml").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "comparison.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "comparison.json").read_text() == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize(
    ("failing", "error"),
    [("fsync", OSError("disk gone")), ("replace", OSError("disk gone")), ("fsync", KeyboardInterrupt())],
    ids=["fsync fails", "rename fails", "interrupted"],
)
def test_a_failed_write_leaves_the_old_file_whole_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, error: BaseException
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("old\n")

    def broken(*args: object) -> None:
        raise error

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(type(error)):
        write_text(path, "new and longer\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]
