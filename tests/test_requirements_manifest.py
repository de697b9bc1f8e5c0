"""docs/requirements.yaml agrees with the code, and tools/requirements_manifest.py keeps the promises
an id makes: ``since`` kept, vanished ids retired and never deleted, no id silently changing meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import requirements_manifest as manifest
from tools.requirements_manifest import BadInput, Refused, disagreements, load, merge, render
from vertex_conformance.requirements import Requirement, Source, all_requirements

OLD, NOW = "0.1.0", "0.2.0"


def req(rid: str, statement: str = "It holds.", where: str = "somewhere") -> Requirement:
    return Requirement(rid, statement, Source.SEED, where)


def entry(rid: str, statement: str = "It holds.", since: str = OLD, retired: str | None = None) -> dict:
    return {
        "id": rid,
        "statement": statement,
        "source": "seed",
        "where": "somewhere",
        "since": since,
        "retired": retired,
    }


def test_the_manifest_lists_every_requirement_of_the_code() -> None:
    problems = disagreements(load(manifest.MANIFEST), all_requirements())
    assert not problems, (
        "docs/requirements.yaml disagrees with the code; run `make requirements` "
        "(python -m tools.requirements_manifest) and review the diff:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("entries", "requirements", "problem"),
    [
        ([], [req("a.new")], "a.new: declared in the code, not listed"),
        ([entry("a.gone")], [], "a.gone: listed as live, gone from the code"),
        ([entry("a.x")], [req("a.x", "It holds twice.")], "a.x: statement changed in the code"),
        ([entry("a.x")], [req("a.x", where="elsewhere")], "a.x: where changed in the code"),
        ([entry("a.x", retired=OLD)], [req("a.x")], "a.x: listed as retired in 0.1.0, declared in the code"),
    ],
    ids=["new id", "gone id", "statement", "where", "retired id back"],
)
def test_each_disagreement_is_named(entries: list, requirements: list, problem: str) -> None:
    assert disagreements(entries, requirements) == [problem]


def test_a_retired_id_that_stays_gone_is_agreement() -> None:
    assert disagreements([entry("a.old", retired=OLD), entry("a.x")], [req("a.x")]) == []


def test_merge_keeps_since_adds_new_ids_with_the_version_and_retires_vanished_ones() -> None:
    entries = [entry("a.kept"), entry("a.gone"), entry("a.long-gone", since="0.0.1", retired=OLD)]
    merged = merge(entries, [req("a.kept", where="moved"), req("a.new")], NOW)
    assert merged == [
        entry("a.gone", retired=NOW),
        {**entry("a.kept"), "where": "moved"},
        entry("a.long-gone", since="0.0.1", retired=OLD),
        entry("a.new", since=NOW),
    ]
    assert disagreements(merged, [req("a.kept", where="moved"), req("a.new")]) == []


def test_merge_refuses_a_changed_statement_unless_it_is_a_declared_rewording() -> None:
    with pytest.raises(Refused, match=r"a\.x changes meaning .*declare a new id and retire the old one"):
        merge([entry("a.x")], [req("a.x", "It holds, mostly.")], NOW)
    merged = merge([entry("a.x")], [req("a.x", "It holds.  (typo fixed)")], NOW, reword=["a.x"])
    assert merged == [entry("a.x", statement="It holds.  (typo fixed)")]


def test_merge_refuses_an_id_that_comes_back_after_it_was_retired() -> None:
    with pytest.raises(Refused, match=r"a\.x was retired in 0\.1\.0"):
        merge([entry("a.x", retired=OLD)], [req("a.x")], NOW)


def test_merge_refuses_to_reword_an_id_the_code_does_not_declare() -> None:
    with pytest.raises(BadInput, match=r"--reword a\.typo"):
        merge([entry("a.x")], [req("a.x")], NOW, reword=["a.typo"])


def test_render_and_load_round_trip(tmp_path: Path) -> None:
    tricky = "Fügt extra_body hinzu: 'quoted' # not a comment"
    entries = [entry("a.gone", retired=NOW), entry("a.x", statement=tricky)]
    path = tmp_path / "requirements.yaml"
    path.write_text(render(entries), encoding="utf-8")
    assert load(path) == entries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: [unclosed\n", "not readable as YAML"),
        ("- id: a.x\n", "is not a manifest entry"),
        (render([entry("a.x"), entry("a.x")]), "the id a.x is listed twice"),
        ("{}\n", "is not a manifest entry"),
    ],
    ids=["bad YAML", "missing fields", "duplicate id", "not a list"],
)
def test_a_broken_manifest_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput, match=message):
        load(path)


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def manifest_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "requirements.yaml"
    monkeypatch.setattr(manifest, "MANIFEST", path)
    return path


def test_check_fails_on_a_stale_file_saying_to_run_the_script_and_passes_once_written(
    manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manifest.main(["--check"]) == manifest.EXIT_REFUSED
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "run make requirements" in out
    assert "declared in the code, not listed" in out
    assert not manifest_file.exists()
    assert manifest.main([]) == manifest.EXIT_OK
    assert manifest.main(["--check"]) == manifest.EXIT_OK
    written = load(manifest_file)
    assert {e["id"] for e in written} == {r.id for r in all_requirements()}
    assert {e["since"] for e in written} == {manifest.current_version()}


def test_the_command_refuses_a_changed_meaning_in_one_line_and_writes_nothing(
    manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = all_requirements()[0]
    changed = entry(first.id, statement="Something else entirely.")
    manifest_file.write_text(render([changed]), encoding="utf-8")
    before = manifest_file.read_text(encoding="utf-8")
    assert manifest.main([]) == manifest.EXIT_REFUSED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"requirement {first.id} changes meaning" in err
    assert manifest_file.read_text(encoding="utf-8") == before
    assert manifest.main(["--reword", first.id]) == manifest.EXIT_OK
    assert load(manifest_file)[0]["statement"] == first.statement


@pytest.mark.parametrize("argv", [["--reword", "no.such-id"], ["--bogus"]], ids=["unknown id", "bad option"])
def test_bad_input_is_one_line_and_exit_2(
    manifest_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert manifest.main(argv) == manifest.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_broken_manifest_file_stops_the_command_with_one_line(
    manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_file.write_text("- id: [unclosed\n", encoding="utf-8")
    assert manifest.main(["--check"]) == manifest.EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1
