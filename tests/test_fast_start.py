"""The commands that read files start fast: they import neither the SDK nor the HTTP stack.

``vertex-conformance check FILE`` used to take 1.3 s, nearly all of it importing openai, vcr, httpx
and pytest, none of which judging a saved response uses. Each command runs here in a fresh
interpreter and reports what it imported, so an eager import anywhere on its path fails by name.
``serve`` is the exception: it runs a web server, and imports one when it runs. Checking a saved
SSE stream imports nothing heavy either: the suite frames streams itself (sse.py, the WHATWG rules).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest

from vertex_conformance import cli
from vertex_conformance.paths import ROOT, SAMPLES

HEAVY = (
    "openai",
    "httpx",
    "httpx2",
    "google.auth",
    "requests",
    "vcr",
    "starlette",
    "uvicorn",
    "pytest",
)
# Runs one command, then prints the modules it imported as the last line of stdout.
PROBE = (
    "import json, sys\n"
    "from vertex_conformance.cli import main\n"
    "main(sys.argv[1:])\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)
PLAIN = str(SAMPLES / "plain_chat.json")
STREAM = str(SAMPLES / "streaming_chat.sse")


def heavy_imports(*argv: str) -> list[str]:
    """The heavy modules (or their submodules) a fresh interpreter imported running ``argv``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["check", PLAIN],
        ["check", STREAM],
        ["check", "--json", "--profile", "openai", PLAIN],
        ["requirements"],
        ["--help"],
        ["check", "--help"],
        ["diff", "missing-a.json", "missing-b.json"],  # refused, but only once its modules are imported
        ["matrix", "missing.json", "-o", "unused.html"],
        ["merge", "missing-a.json", "missing-b.json", "-o", "unused"],
        ["durations", "missing.json", "-o", "unused.json"],
    ],
    ids=lambda argv: " ".join("STREAM" if a == STREAM else a for a in argv if a != PLAIN),
)
def test_the_command_imports_no_sdk_and_no_http_stack(argv: list[str]) -> None:
    assert heavy_imports(*argv) == []


@pytest.mark.slow
def test_the_probe_sees_the_imports_of_serve() -> None:
    """The probe itself works: ``serve`` does import its web server when it runs."""
    assert "starlette" in heavy_imports("serve", "--help")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """Every subcommand the parser has, with its one-line help."""
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = {choice.dest: choice.help for choice in commands._choices_actions}
    assert set(listed) == set(commands.choices)
    return listed


def test_help_lists_every_command_on_one_line_with_its_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    commands = subcommands(cli.build_parser())
    assert {"requirements", "check", "diff", "matrix", "serve"} <= set(commands)
    for name, help in commands.items():
        assert help, f"{name} has no help"
        pattern = re.compile(rf"^ +{re.escape(name)} +{re.escape(help)}$")
        assert any(pattern.match(line) for line in lines), f"{name}: {help!r} is not one line of --help"


def test_serve_is_parsed_by_the_replay_servers_own_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    assert "--event-delay SECONDS" in capsys.readouterr().out
    assert cli.main(["serve", "--port", "http"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "vertex-conformance serve: error: argument --port" in err


@pytest.mark.slow
def test_the_bench_prints_the_check_and_python_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import run  # benchmarks/run.py, as its own tests load it

    figures = run.startup(1)
    assert figures["check_seconds"] > figures["python_seconds"] > 0
    line = run.report({"machine": {}, "startup": figures}).splitlines()[-1]
    assert "vertex-conformance check fixtures/samples/plain_chat.json" in line
    assert f"python -c pass {figures['python_seconds']} s; ratio {figures['ratio']}" in line


def test_a_test_not_marked_slow_cannot_start_a_process() -> None:
    """tests/conftest.py keeps the quick loop quick: starting a process needs the ``slow`` mark."""
    with pytest.raises(RuntimeError, match=r"mark it @pytest\.mark\.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
