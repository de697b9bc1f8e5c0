"""The CI recipes in docs/ci/ stay true: each workflow parses, and every option its ``pytest`` and
``vertex-conformance`` commands pass exists (read from the real parsers), so a renamed option fails
here instead of in someone's nightly job."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vertex_conformance import targets_file
from vertex_conformance.cli import build_parser
from vertex_conformance.config import RunConfig
from vertex_conformance.paths import ROOT

WORKFLOWS = sorted((ROOT / "docs" / "ci").glob("*.yml"))
NIGHTLY = ROOT / "docs" / "ci" / "nightly.yml"
# A GitHub expression stands for one word of the shell line it sits in.
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def workflow(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("jobs"), dict), path
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def commands(path: Path, program: str) -> list[list[str]]:
    """Every ``program`` command line of the workflow's ``run:`` scripts, split as the shell would
    (continuation lines joined; expressions replaced by a word)."""
    found = []
    for step in steps(workflow(path)):
        script = _EXPRESSION.sub("EXPR", step.get("run", "")).replace("\\\n", " ")
        for line in script.splitlines():
            words = _words(line) if line.strip().startswith(program) else []
            if words and words[0] == program:
                found.append(words)
    return found


def _words(line: str) -> list[str]:
    """The words of one command: up to the first shell operator (``||``, ``;``, ``>``, ``|``…)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word and set(word) <= set("();<>|&"):
            break
        words.append(word)
    return words


def options(words: list[str]) -> list[str]:
    """The options a command line passes (``--name=value`` as ``--name``)."""
    return [w.split("=", 1)[0] for w in words if w.startswith("-") and w != "-"]


@pytest.fixture(scope="module")
def pytest_options() -> set[str]:
    """Every option ``pytest suites`` accepts here: pytest's, pytest-split's, xdist's and the suite's."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", done.stdout))


def vertex_conformance_options(command: str) -> set[str]:
    """The options of one ``vertex-conformance`` command, from the CLI's own parser."""
    subparsers = next(a for a in build_parser()._actions if a.choices and command in a.choices)
    parser = subparsers.choices[command]
    if parser._deferred is not None:  # serve: its parser is built when used
        parser = parser._deferred()
    return {flag for action in parser._actions for flag in action.option_strings}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_ci_recipe_is_a_workflow_with_jobs_and_steps(path: Path) -> None:
    document = workflow(path)
    assert document["jobs"] and all(job.get("steps") for job in document["jobs"].values())


def unknown_pytest_options(path: Path, known: set[str]) -> set[str]:
    return {option for words in commands(path, "pytest") for option in options(words)} - known


def unknown_vertex_conformance_words(path: Path) -> list[str]:
    """``command`` for a command the CLI lacks, ``command --option`` for an option it lacks."""
    commands_known = next(a for a in build_parser()._actions if a.choices).choices
    unknown = []
    for words in commands(path, "vertex-conformance"):
        if words[1] not in commands_known:
            unknown.append(words[1])
            continue
        unknown += [
            f"{words[1]} {o}" for o in options(words) if o not in vertex_conformance_options(words[1])
        ]
    return unknown


@pytest.mark.slow  # asks pytest for its options in a subprocess
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_pytest_option_a_recipe_passes_exists(path: Path, pytest_options: set[str]) -> None:
    assert unknown_pytest_options(path, pytest_options) == set(), path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_vertex_conformance_command_and_option_a_recipe_uses_exists(path: Path) -> None:
    assert unknown_vertex_conformance_words(path) == [], path.name


@pytest.mark.slow  # asks pytest for its options in a subprocess
def test_the_checks_notice_a_misspelt_option_or_command(tmp_path: Path, pytest_options: set[str]) -> None:
    broken = tmp_path / "broken.yml"
    script = (
        "pytest suites --mode live --targts t.yaml -m \"target(name='${{ matrix.target }}')\" || status=$?\n"
        "vertex-conformance merge shards/*/results.json --outptu merged || [ $? -eq 1 ]\n"
        "vertex-conformance marge a.json -o b\n"
    )
    broken.write_text(yaml.safe_dump({"jobs": {"j": {"steps": [{"run": script}]}}}), encoding="utf-8")
    assert unknown_pytest_options(broken, pytest_options) == {"--targts"}
    assert unknown_vertex_conformance_words(broken) == ["merge --outptu", "marge"]


def test_the_nightly_recipe_authenticates_keylessly_shards_by_target_and_compares_with_last_night() -> None:
    document = workflow(NIGHTLY)
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert document["permissions"]["id-token"] == "write"
    auth = next(s for s in steps(document) if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}  # no credentials_json
    run = next(words for words in commands(NIGHTLY, "pytest") if "--splits" in words)
    groups = document["jobs"]["shard"]["strategy"]["matrix"]["group"]
    assert run[run.index("--splits") + 1] == str(len(groups))  # --splits is the matrix's shard count
    assert {"--targets", "--durations-path", "--max-total-tokens", "--report-dir", "-m"} <= set(run)
    assert run[run.index("-m") + 1] == "target(name='EXPR')"
    used = {words[1] for words in commands(NIGHTLY, "vertex-conformance")}
    assert used == {"durations", "merge", "diff"}
    downloads = [
        s for s in steps(document) if s.get("uses", "").startswith("dawidd6/action-download-artifact@")
    ]
    assert downloads and all(s["with"]["workflow_conclusion"] == "success" for s in downloads)


def test_the_example_targets_file_is_one_a_run_accepts() -> None:
    cfg = RunConfig.from_sources(
        {"mode": "live", "project": "example-project", "targets": str(ROOT / "docs" / "ci" / "targets.yaml")},
        {"VERTEX_ACCESS_TOKEN": "example-token"},
    )
    names = [t.name for t in targets_file.load(cfg)]
    assert names == ["flash-us", "flash-eu", "flash-global", "pro-us"]
