"""Detection power and speed: the figures in docs/detection.md.

    python benchmarks/run.py            # all three parts, printed
    python benchmarks/run.py --json     # the same as JSON
    python benchmarks/run.py --only throughput --profile   # one part; where evaluate() spends its time

(a) ``throughput``: checks over one large generated stream (``--chunks``, default 20,000, built from
    the documented chunk envelope of fixtures/samples/streaming_chat.sse): objects per second for
    SSE framing, schema validation alone, stream assembly and the full ``evaluate()``, each also as a
    ratio to ``json.loads`` of the same data payloads.
(b) ``suite``: the wall time of the offline conformance suite (``pytest suites``, a subprocess) as a
    ratio to a pytest run of as many empty tests; and, as the floor under that ratio, the same empty
    tests in a module that imports the openai SDK, which the suite's SDK lanes cannot do without.
(c) ``peers``: the mutation score next to OpenAI's schema alone and the openai SDK's own parsing,
    overall and by operator (see peers.py).

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

import peers

from vertex_conformance import mutations, schemas
from vertex_conformance.assembly import assemble
from vertex_conformance.checks import evaluate
from vertex_conformance.exchange import Exchange, WireRequest, bulk_acyclic
from vertex_conformance.paths import ROOT, SAMPLES
from vertex_conformance.sse import parse_sse

PARTS = ("throughput", "suite", "peers")


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


def _pytest(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some conformance test failed, still a full run
        raise RuntimeError(f"pytest {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return elapsed


def suite(repeats: int) -> dict[str, Any]:
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,  # syrupy exits 1 on --collect-only ("snapshots unused"); the count is what matters
    ).stdout
    collected = re.search(r"^(\d+) tests? collected", listing, re.MULTILINE)
    if not collected:
        raise RuntimeError(f"pytest suites --collect-only collected nothing:\n{listing[-2000:]}")
    count = int(collected.group(1))
    empty_tests = "".join(f"def test_empty_{n}():\n    pass\n\n\n" for n in range(count))
    with tempfile.TemporaryDirectory() as scratch:
        empty, floor = Path(scratch, "empty"), Path(scratch, "floor")
        for directory, head in ((empty, ""), (floor, "import openai  # noqa: F401\n\n\n")):
            directory.mkdir()
            (directory / "test_empty.py").write_text(head + empty_tests, encoding="utf-8")
        reports = Path(scratch, "reports")
        runs: dict[str, list[float]] = {"suite": [], "empty": [], "floor": []}
        for _ in range(repeats):  # interleaved, so a change in the machine's load touches all three
            runs["suite"].append(_pytest(["suites", "--report-dir", str(reports)], ROOT))
            runs["empty"].append(_pytest(["--rootdir", str(empty), str(empty)], empty))
            runs["floor"].append(_pytest(["--rootdir", str(floor), str(floor)], floor))
    suite_time, empty_time, floor_time = (statistics.median(runs[k]) for k in ("suite", "empty", "floor"))
    return {
        "tests": count,
        "suite_seconds": round(suite_time, 3),
        "empty_seconds": round(empty_time, 3),
        "ratio": round(suite_time / empty_time, 3),
        # The same empty tests in a module that imports the openai SDK: what any suite that drives the
        # SDK in-process pays before its first test (importing it, and tearing it down at exit).
        "sdk_floor_seconds": round(floor_time, 3),
        "sdk_floor_ratio": round(floor_time / empty_time, 3),
    }


def peer_comparison() -> dict[str, Any]:
    start = time.perf_counter()
    result = mutations.run()
    table = peers.comparison(result)
    return {"seconds": round(time.perf_counter() - start, 3), "table": table}


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
        lines += [
            "",
            f"(b) offline suite: {s['tests']} tests in {s['suite_seconds']} s; {s['tests']} empty tests in "
            f"{s['empty_seconds']} s; ratio {s['ratio']}",
            f"    floor: the same empty tests importing openai take {s['sdk_floor_seconds']} s, ratio "
            f"{s['sdk_floor_ratio']} (no suite that runs the SDK in-process goes under it)",
        ]
    if "peers" in figures:
        lines += [
            "",
            "(c) detection rate on the same mutants:",
            peers.format_comparison(figures["peers"]["table"]),
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
    if args.profile:
        figures["hot_spots"] = hot_spots(args.chunks)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
