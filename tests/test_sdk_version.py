"""The openai SDK under test is held to pyproject's range before pip sees it (tools/sdk_version.py).

pip installs an SDK below the floor with a warning only, and the venv is broken afterwards; so
``make openai-sdk`` asks the check first. No test here installs anything: the Makefile's pip is a
stand-in that writes down what it was asked.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tools.sdk_version import Unsupported, main, requirement_for, shown, supported_range
from vertex_conformance.paths import ROOT

SUPPORTED = supported_range()
RANGE = "openai>=1.60,<4"


def test_the_range_is_pyprojects_dependency_on_openai_with_both_bounds():
    assert shown(SUPPORTED) == RANGE


def test_the_installed_sdk_is_inside_the_supported_range():
    assert SUPPORTED.contains(Version(openai.__version__), prereleases=True)


def test_a_version_below_the_floor_is_refused_naming_the_range():
    with pytest.raises(Unsupported, match=r"openai 1\.40\.0 is outside the supported range openai>=1\.60,<4"):
        requirement_for("1.40.0", SUPPORTED)


@pytest.mark.parametrize("version", ["4.0.0", "4.0.0rc1", "0.28.1"])
def test_versions_outside_the_range_are_refused(version):
    with pytest.raises(Unsupported, match="outside the supported range"):
        requirement_for(version, SUPPORTED)


@pytest.mark.parametrize(
    ("requested", "requirement"),
    [("2.8.0", "openai==2.8.0"), ("1.60.0", "openai==1.60.0"), ("3.58.0rc1", "openai==3.58.0rc1")],
)
def test_a_supported_version_becomes_an_exact_pin(requested, requirement):
    assert requirement_for(requested, SUPPORTED) == requirement


def test_default_asks_for_the_whole_range_so_pip_takes_its_newest():
    assert requirement_for("default", SUPPORTED) == RANGE


def test_what_is_not_a_version_is_refused_naming_the_range():
    with pytest.raises(Unsupported, match=r"'latest' is not a version; supported: openai>=1\.60,<4"):
        requirement_for("latest", SUPPORTED)


def test_the_range_follows_whatever_pyproject_declares(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["httpx>=0.28", "openai >= 2.1, < 3"]\n')
    assert supported_range(pyproject) == SpecifierSet(">=2.1,<3")
    with pytest.raises(Unsupported):
        requirement_for("3.0.0", supported_range(pyproject))


def test_a_pyproject_without_openai_is_refused(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["httpx>=0.28"]\n')
    with pytest.raises(Unsupported, match="declares no dependency on openai"):
        supported_range(pyproject)


def test_main_prints_the_pin_or_one_line_and_exit_2(capsys):
    assert main(["2.8.0"]) == 0
    assert capsys.readouterr().out == "openai==2.8.0\n"
    assert main(["1.40.0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert RANGE in err


@pytest.mark.slow
def test_the_script_refuses_an_unsupported_version_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "tools.sdk_version", "1.40.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert RANGE in done.stderr
    assert "Traceback" not in done.stderr


def fake_python(tmp_path: Path) -> tuple[Path, Path]:
    """A ``BIN`` whose ``python`` runs everything but pip; pip's arguments go to a log instead."""
    bin_dir, log = tmp_path / "bin", tmp_path / "pip.log"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "-m pip" ]; then shift 2; echo "$*" >> {shlex.quote(str(log))}; exit 0; fi\n'
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(0o755)
    return bin_dir, log


@pytest.mark.slow
@pytest.mark.parametrize(
    ("requested", "pip_args"),
    [
        ("2.8.0", "install --quiet --upgrade openai==2.8.0"),
        ("default", f"install --quiet --upgrade {RANGE}"),
        ("", None),  # no OPENAI_SDK: the installed SDK stays
        ("1.40.0", None),  # refused before pip
    ],
)
def test_make_openai_sdk_hands_pip_only_a_supported_version(tmp_path, requested, pip_args):
    bin_dir, log = fake_python(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_SDK", "MAKEFLAGS")}
    done = subprocess.run(  # -o: the venv stamp counts as up to date, so make reinstalls nothing
        ["make", "-s", "-o", ".venv/.installed", "openai-sdk", f"OPENAI_SDK={requested}", f"BIN={bin_dir}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if requested == "1.40.0":
        assert done.returncode != 0
        assert RANGE in done.stderr
    else:
        assert done.returncode == 0, done.stderr
    assert (log.read_text().strip() if log.exists() else None) == pip_args
