"""Recording under pytest-xdist: four workers write cassettes side by side, and a run killed with
SIGKILL part-way leaves only whole cassettes behind.

Both runs are real ``pytest suites -n 4 --mode record`` processes against the sample server on
127.0.0.1. Each is bounded by a timeout; the killed one runs in its own process group, which is
the only thing this test ever kills.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tools.sample_server import serve_samples
from vertex_conformance.paths import ROOT
from vertex_conformance.recording import AtomicPersister, CassetteSerializer, read_meta
from vertex_conformance.vocabulary import CLIENT_LANES

pytestmark = pytest.mark.slow  # every test here records with pytest workers in a subprocess

PROJECT = "parallel-proj-123"
TOKEN = "parallel-recording-token"
RUN_TIMEOUT = 300.0
KILL_AFTER_CASSETTES = 4
# What atomic.write_text leaves if killed between mkstemp and os.replace: ".<name>.<random>.tmp".
TEMP_FILE = re.compile(r"^\.[^/]+\.yaml\.[^/.]+\.tmp$")


def record_command(base_url: str, cassettes: Path, reports: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "pytest", "suites", "-n", "4", "-p", "no:cacheprovider", "-q"),
        *("--mode", "record", "--project", PROJECT, "--base-url", base_url, "--endpoint-id", "4242"),
        *("--cassette-dir", str(cassettes), "--report-dir", str(reports)),
    ]


def environment() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    return {**clean, "VERTEX_ACCESS_TOKEN": TOKEN}


def cassette_of(nodeid: str) -> Path:
    """``suites/test_plain.py::test_plain_chat[httpx]`` -> ``test_plain/test_plain_chat[httpx].yaml``."""
    module, _, name = nodeid.partition("::")
    return Path(Path(module).stem) / f"{name}.yaml"


def exchanges(test: dict[str, Any]) -> int:
    """How many HTTP exchanges a test of results.json made (its ``status``: one code, a list, or none)."""
    status = test.get("status")
    return len(status) if isinstance(status, list) else int(status is not None)


def interactions(path: Path) -> int:
    """How many interactions the cassette holds, read the way replay reads it (raises if it cannot)."""
    requests, responses = AtomicPersister.load_cassette(path, CassetteSerializer)[:2]
    assert len(requests) == len(responses)
    return len(requests)


def assert_whole(path: Path) -> None:
    """The cassette parses, holds interactions and names the test it was recorded for."""
    assert interactions(path) >= 1, path
    assert str(read_meta(path)["test"]).endswith(f"::{path.stem}"), path


def live_members(group: int) -> list[int]:
    """Processes of ``group`` that still run (zombies awaiting their reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it ended while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_four_workers_record_every_cassette_completely(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    with serve_samples() as base_url:
        result = subprocess.run(
            record_command(base_url, cassettes, tmp_path / "reports"),
            cwd=ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    # 0: all passed, 1: some conformance test failed; anything else is a broken run.
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-2000:]
    assert "bringing up nodes" in result.stdout  # xdist ran it
    tests = json.loads((tmp_path / "reports" / "results.json").read_text())["tests"]
    expected = {  # a client lane records nothing: it replays the raw lane's recording
        cassette_of(test["nodeid"]): exchanges(test)
        for test in tests
        if exchanges(test) and test["lane"] not in CLIENT_LANES
    }
    recorded = {p.relative_to(cassettes) for p in cassettes.rglob("*.yaml")}
    assert recorded == set(expected)
    for name, count in sorted(expected.items()):
        assert_whole(cassettes / name)
        assert interactions(cassettes / name) == count, name
    leftovers = [p for p in cassettes.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    assert leftovers == []


def test_a_recording_run_killed_part_way_leaves_only_whole_cassettes(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    with serve_samples() as base_url:
        process = subprocess.Popen(
            record_command(base_url, cassettes, tmp_path / "reports"),
            cwd=ROOT,
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the workers die with it, nothing else does
        )
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while len(list(cassettes.rglob("*.yaml"))) < KILL_AFTER_CASSETTES:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the recording run ended (status {process.returncode}) or hung before the kill"
                    )
                time.sleep(0.01)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL  # killed part-way, not finished
    settled = time.monotonic() + 10.0  # SIGKILL is delivered at once; dying takes a moment
    while live_members(process.pid) and time.monotonic() < settled:
        time.sleep(0.05)
    assert live_members(process.pid) == []  # the xdist workers died with it

    files = [p for p in cassettes.rglob("*") if p.is_file()]
    written = [p for p in files if p.suffix == ".yaml"]
    assert len(written) >= KILL_AFTER_CASSETTES
    for path in written:
        assert_whole(path)
    strays = [p for p in files if p.suffix != ".yaml"]
    assert all(TEMP_FILE.match(p.name) for p in strays), strays  # never mistaken for a cassette
