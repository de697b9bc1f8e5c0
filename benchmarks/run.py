"""Detection power and speed: the figures in docs/detection.md.

    python benchmarks/run.py            # all three parts, printed
    python benchmarks/run.py --json     # the same as JSON
    python benchmarks/run.py --only throughput --profile   # one part; where evaluate() spends its time
    python benchmarks/run.py --only startup --repeats 7    # the command's start-up time alone

(a) ``throughput``: checks over one large generated stream (``--chunks``, default 20,000, built from
    the documented chunk envelope of fixtures/samples/streaming_chat.sse): objects per second for
    SSE framing, schema validation alone, stream assembly and the full ``evaluate()``, each also as a
    ratio to ``json.loads`` of the same data payloads.
(b) ``suite``: the wall time of the offline conformance suite (``pytest suites``, a subprocess) as a
    ratio to a pytest run of as many empty tests, and to two more baselines (``BASELINES``): the
    same empty tests importing the openai SDK (the floor under the ratio), and under this
    project's pytest plugin (what the tests cost beyond the imports). A figure to watch, not a
    target: the SDK lanes pay for the SDK's import, and the suite is not run on every keystroke.
(c) ``peers``: the mutation score over distinct mutated answers (caught by a targeted requirement,
    by any, by schema validation alone, only by the closure of the profile's objects), the
    out-of-catalogue figure, the no-op control's false alarms, and the same mutations through
    OpenAI's schema, a default openai client and the same client validating strictly, overall
    and by operator (see peers.py).
(d) ``startup``: the wall time of ``vertex-conformance check`` on one documented sample next to
    ``python -c pass`` in the same interpreter: what a user waits for, and what no command can beat.

Every timing is the median of ``--repeats`` runs. These are figures, not tests: nothing fails on them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/ lives in the checkout, not installed

import peers

from tools import mutations, out_of_catalogue
from vertex_conformance import schemas
from vertex_conformance.assembly import assemble
from vertex_conformance.checks import evaluate
from vertex_conformance.exchange import Exchange, WireRequest, bulk_acyclic
from vertex_conformance.paths import ROOT, SAMPLES
from vertex_conformance.sse import parse_sse

PARTS = ("throughput", "suite", "peers", "startup")
STARTUP_COMMAND = ("-m", "vertex_conformance.cli", "check", "fixtures/samples/plain_chat.json")


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """The median wall time of ``repeats`` calls (one untimed warm-up call first)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generated_stream(count: int) -> tuple[list[str], str]:
    """``count`` chunks in the documented envelope (the sample stream's first chunk, its text varied),
    the last with finish_reason and usage as Vertex sends them; their data payloads and the SSE text."""
    sample = (SAMPLES / "streaming_chat.sse").read_text(encoding="utf-8")
    documented = [json.loads(line[6:]) for line in sample.splitlines() if line.startswith("data: {")]
    first, last = documented[0], documented[-1]
    payloads = []
    for n in range(count):
        chunk = json.loads(json.dumps(first))
        chunk["choices"][0]["delta"]["content"] = f"word {n} of a long story, "
        if n == count - 1:
            chunk["choices"][0]["finish_reason"] = "stop"
            chunk["usage"] = {**last["usage"], "completion_tokens": count, "total_tokens": 9 + count}
        payloads.append(json.dumps(chunk, separators=(",", ":")))
    text = "".join(f"data: {p}\n\n" for p in payloads) + "data: [DONE]\n\n"
    return payloads, text


def throughput(count: int, repeats: int) -> dict[str, Any]:
    payloads, text = generated_stream(count)
    chunks = [(n, json.loads(p)) for n, p in enumerate(payloads)]
    body = {
        "model": chunks[0][1]["model"],
        "messages": [{"role": "user", "content": "A story."}],
        "stream": True,
    }
    request = WireRequest("POST", "", {}, json.dumps(body))

    def full() -> None:
        results, _ = evaluate(Exchange(request, 200, {"content-type": "text/event-stream"}, stream_text=text))
        if any(results.values()):  # a stream that failed a check would not have run every check to its end
            raise RuntimeError(f"the generated stream fails {sorted(k for k, v in results.items() if v)}")

    def json_loads_gc_paused() -> None:
        with bulk_acyclic():
            [json.loads(p) for p in payloads]

    stages = {
        "json.loads": lambda: [json.loads(p) for p in payloads],
        # evaluate() pauses the cyclic collector while it parses (exchange.bulk_acyclic); this row
        # shows what the same pause does for json.loads, so the ratio can be read both ways.
        "json.loads, GC paused": json_loads_gc_paused,
        "SSE framing": lambda: parse_sse(text),
        "schema validation": lambda: [schemas.violations("vertex", "chunk", c) for _, c in chunks],
        "stream assembly": lambda: assemble(chunks),
        "evaluate()": full,
    }
    rates = {name: count / median_seconds(fn, repeats) for name, fn in stages.items()}
    base = rates["json.loads"]
    return {
        "chunks": count,
        "bytes": len(text.encode("utf-8")),
        "objects_per_second": {name: round(rate) for name, rate in rates.items()},
        "ratio_to_json_loads": {name: round(rate / base, 3) for name, rate in rates.items()},
    }


def hot_spots(count: int, top: int = 12) -> str:
    """cProfile of one ``evaluate()`` of the generated stream: the functions with most own time."""
    _, text = generated_stream(count)
    exchange = Exchange(None, 200, {"content-type": "text/event-stream"}, stream_text=text)
    profiler = cProfile.Profile()
    profiler.runcall(evaluate, exchange)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def run_pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """One quiet pytest run in a subprocess, as every timed run is made."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _pytest(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = run_pytest(args, cwd)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some conformance test failed, still a full run
        raise RuntimeError(f"pytest {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return elapsed


# What the suite's wall time is compared with: as many empty tests, each set in its own directory.
# "empty" is bare pytest, the headline ratio's. "sdk_floor" adds ``import openai`` to the module:
# the SDK lanes need the SDK, so no suite that runs them in-process can beat that run. "plugin" has
# a conftest load this project's pytest plugin, so every import the suite makes is paid on both
# sides and the ratio is what the conformance tests themselves cost.
BASELINES: dict[str, dict[str, str]] = {
    "empty": {},
    "sdk_floor": {"head": "import openai  # noqa: F401\n\n\n"},
    "plugin": {"conftest.py": 'pytest_plugins = ["vertex_conformance.plugin"]\n'},
}


def _empty_tests(directory: Path, count: int, files: dict[str, str]) -> Path:
    directory.mkdir()
    body = "".join(f"def test_empty_{n}():\n    pass\n\n\n" for n in range(count))
    (directory / "test_empty.py").write_text(files.get("head", "") + body, encoding="utf-8")
    if "conftest.py" in files:
        (directory / "conftest.py").write_text(files["conftest.py"], encoding="utf-8")
    return directory


def _baseline_args(directory: Path, files: dict[str, str], reports: str) -> list[str]:
    """pytest's arguments for one baseline; under the plugin, reports go to scratch, not reports/. The
    others leave the plugin out: the installed package's pytest11 entry point loads it in every run."""
    plugin = ["--report-dir", reports] if "conftest.py" in files else ["-p", "no:vertex_conformance"]
    return ["--rootdir", str(directory), str(directory), *plugin]


def suite(repeats: int) -> dict[str, Any]:
    # syrupy exits 1 on --collect-only ("snapshots unused"), so the exit code is not looked at: the count is
    listing = run_pytest(["suites", "--collect-only"], ROOT).stdout
    collected = re.search(r"^(\d+) tests? collected", listing, re.MULTILINE)
    if not collected:
        raise RuntimeError(f"pytest suites --collect-only collected nothing:\n{listing[-2000:]}")
    count = int(collected.group(1))
    with tempfile.TemporaryDirectory() as scratch:
        reports = str(Path(scratch, "reports"))
        directories = {name: _empty_tests(Path(scratch, name), count, BASELINES[name]) for name in BASELINES}
        runs: dict[str, list[float]] = {name: [] for name in ("suite", *BASELINES)}
        for _ in range(repeats):  # interleaved, so a change in the machine's load touches every run
            runs["suite"].append(_pytest(["suites", "--report-dir", reports], ROOT))
            for name, directory in directories.items():
                runs[name].append(_pytest(_baseline_args(directory, BASELINES[name], reports), directory))
    times = {name: statistics.median(values) for name, values in runs.items()}
    return {
        "tests": count,
        "suite_seconds": round(times["suite"], 3),
        "empty_seconds": round(times["empty"], 3),
        "ratio": round(times["suite"] / times["empty"], 3),
        "baselines": {
            name: {
                "seconds": round(times[name], 3),
                "ratio_to_empty": round(times[name] / times["empty"], 3),
                "suite_ratio": round(times["suite"] / times[name], 3),
            }
            for name in BASELINES
        },
    }


def _process_seconds(args: tuple[str, ...]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def startup(repeats: int) -> dict[str, Any]:
    """The median wall time of the ``check`` command and of an interpreter that does nothing, run in
    turns (one untimed run of each first, so both start from a warm file cache)."""
    commands = {"check": STARTUP_COMMAND, "python": ("-c", "pass")}
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for timed in [False] + [True] * repeats:
        for name, args in commands.items():
            seconds = _process_seconds(args)
            if timed:
                runs[name].append(seconds)
    check, python = (statistics.median(runs[name]) for name in commands)
    return {
        "command": "vertex-conformance " + " ".join(STARTUP_COMMAND[2:]),
        "runs": repeats,
        "check_seconds": round(check, 3),
        "python_seconds": round(python, 3),
        "ratio": round(check / python, 2),
    }


def peer_comparison() -> dict[str, Any]:
    start = time.perf_counter()
    result = mutations.run()
    figure = out_of_catalogue.run()
    table = peers.comparison(result.outcomes, figure.outcomes)
    return {
        "seconds": round(time.perf_counter() - start, 3),
        "mutants": len(result.outcomes),
        "catalogue": result.tally.as_dict(),
        "out_of_catalogue": figure.tally.as_dict(),
        "faults": len(figure.faults),
        "rewrites": len(result.rewrites),
        "false_alarms": len(result.false_alarms),
        "table": table,
    }


def machine() -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1) if found else ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
    }


def report(figures: dict[str, Any]) -> str:
    lines = [f"machine: {figures['machine']}"]
    if "throughput" in figures:
        t = figures["throughput"]
        lines += ["", f"(a) checks throughput, one stream of {t['chunks']} chunks ({t['bytes']} bytes):"]
        for name, rate in t["objects_per_second"].items():
            lines.append(
                f"  {name:<22} {rate:>12,} objects/s   x{t['ratio_to_json_loads'][name]:.3f} json.loads"
            )
    if "suite" in figures:
        s = figures["suite"]
        floor = s["baselines"]["sdk_floor"]["suite_ratio"]
        lines += [
            "",
            f"(b) offline suite, a figure to watch, not a gate: {s['tests']} tests in "
            f"{s['suite_seconds']} s; {s['tests']} empty tests in {s['empty_seconds']} s; "
            f"ratio {s['ratio']}; to as many empty tests importing openai: {floor}",
        ]
        lines.append("    baseline     seconds   x empty   suite x baseline")
        for name, base in s["baselines"].items():
            seconds, to_empty, suite_ratio = base["seconds"], base["ratio_to_empty"], base["suite_ratio"]
            lines.append(f"    {name:<10} {seconds:>9} {to_empty:>9.3f} {suite_ratio:>18.3f}")
    if "peers" in figures:
        p = figures["peers"]
        lines += ["", "(c) detection, over distinct mutated answers:"]
        for name, tally in (("catalogue", p["catalogue"]), ("out-of-catalogue", p["out_of_catalogue"])):
            total = tally["total"]
            share = {key: f"{tally[key]} ({tally[key] / total:.1%})" for key in tally if key != "total"}
            lines.append(
                f"  {name}: {total} distinct; targeted {share['targeted']}, any {share['caught']}, "
                f"schema only {share['schema_only']}, closure only {share['closure_only']}"
            )
        lines += [
            f"  ({p['mutants']} catalogue mutants; {p['faults']} out-of-catalogue faults; no-op control: "
            f"{p['false_alarms']} false alarms in {p['rewrites']} rewrites)",
            peers.format_comparison(p["table"]),
        ]
    if "startup" in figures:
        u = figures["startup"]
        lines += [
            "",
            f"(d) start-up, median of {u['runs']}: {u['command']} {u['check_seconds']} s; "
            f"python -c pass {u['python_seconds']} s; ratio {u['ratio']}",
        ]
    if "hot_spots" in figures:
        lines += ["", "evaluate() hot spots (cProfile, by own time):", figures["hot_spots"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median taken)")
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks in the generated stream")
    parser.add_argument("--profile", action="store_true", help="also profile evaluate() on that stream")
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    figures: dict[str, Any] = {"machine": machine()}
    if "throughput" in parts:
        figures["throughput"] = throughput(args.chunks, args.repeats)
    if "suite" in parts:
        figures["suite"] = suite(args.repeats)
    if "peers" in parts:
        figures["peers"] = peer_comparison()
    if "startup" in parts:
        figures["startup"] = startup(args.repeats)
    if args.profile:
        figures["hot_spots"] = hot_spots(args.chunks)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
