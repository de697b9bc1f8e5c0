"""``--concurrency``: the live suite's wall time against the time it must wait: a figure, not a test.

    python benchmarks/concurrency.py                      # the table (latency 0.5 s; 1, 4, 16, 32)
    python benchmarks/concurrency.py --latency 0.2 --concurrency 1,8 --json

A loopback stand-in (the sample server of tools/, which answers every form with its documented
sample) holds each request ``--latency`` seconds before answering, and keeps, server-side, when
each request arrived and when its answer was complete (``Timed``). For each concurrency the live
suite runs against it (``pytest suites --mode live --base-url ...``, a subprocess, reports to a
scratch directory; the client lanes are left out unless ``--all-lanes``: they need Node.js and
their own packages), twice: with latency 0, which is the run's fixed start-up (the interpreter,
imports, collection, the checks, the reports: everything but the waiting), and with the latency.

    requests       what the stand-in answered (the preflight request included)
    total latency  the sum of their times at the stand-in (arrival to complete answer)
    longest chain  the requests that cannot overlap: the preflight, then the test with most sends
                   (one test's requests go one after the other), each at the mean request time
    ideal          max(total latency / concurrency, longest chain) + start-up
    ratio          wall / ideal (the aim: at most 1.25)
    peak RSS       of the pytest process (``wait4``'s ``ru_maxrss``; the aim: under 400 MB at 32)

The wall time is the subprocess's, from start to exit. Nothing fails on these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tools/ lives in the checkout, not installed

from tools.sample_server import create_app  # noqa: E402
from vertex_conformance import loopback  # noqa: E402
from vertex_conformance.results import load  # noqa: E402
from vertex_conformance.vocabulary import LANES  # noqa: E402

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

CONCURRENCY = (1, 4, 16, 32)
RATIO_AIM, RSS_AIM_MB = 1.25, 400
PROJECT, TOKEN = "bench-proj-123", "bench-token"


@dataclass(frozen=True)
class Seen:
    """One request at the stand-in: when it arrived, when its answer was complete (monotonic
    seconds), its headers (lower-case names) and its body."""

    arrived: float
    answered: float
    headers: dict[str, str]
    body: bytes

    @property
    def seconds(self) -> float:
        return self.answered - self.arrived


@dataclass
class Timed:
    """An ASGI app in front of another: each HTTP request waits ``latency`` seconds, then the app
    answers it; ``seen`` keeps every request, server-side, in the order their answers completed."""

    app: ASGI
    latency: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # when each request arrived, answered or not
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        self.arrivals.append(arrived)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        replayed = False

        async def again() -> MutableMapping[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await asyncio.sleep(self.latency)
        await self.app(scope, again, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self.seen.append(Seen(arrived, time.monotonic(), headers, body))

    def taken(self) -> list[Seen]:
        """The requests seen so far, and forget them."""
        with self._lock:
            seen, self.seen, self.arrivals = self.seen, [], []
        return seen


def peak_in_flight(seen: list[Seen]) -> int:
    """The most requests the stand-in held at one moment."""
    edges = sorted(
        [(s.arrived, 1) for s in seen] + [(s.answered, -1) for s in seen], key=lambda e: (e[0], e[1])
    )
    peak = level = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def selection(select: str | None, all_lanes: bool) -> list[str]:
    """pytest's ``-k`` for the run: ``select``, without the client lanes unless ``all_lanes``."""
    clients = [] if all_lanes else [lane.id for lane in LANES.values() if getattr(lane, "client", False)]
    parts = ([f"({select})"] if select else []) + [f"not {c}" for c in clients]
    return ["-k", " and ".join(parts)] if parts else []


def suite_command(base_url: str, reports: Path, concurrency: int, chosen: list[str]) -> list[str]:
    return [
        *(sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", *chosen),
        *("--mode", "live", "--project", PROJECT, "--base-url", base_url, "--endpoint-id", "4242"),
        *("--report-dir", str(reports), "--concurrency", str(concurrency)),
    ]


def environment() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    return {**clean, "VERTEX_ACCESS_TOKEN": TOKEN}


def timed_run(command: list[str]) -> tuple[float, float, int]:
    """Run ``command`` to its end: wall seconds, peak RSS in MB (the process itself) and exit status."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return time.monotonic() - started, usage.ru_maxrss / 1024, process.returncode


def measure(
    stand_in: Timed, base_url: str, concurrency: int, latency: float, chosen: list[str]
) -> dict[str, Any]:
    """One concurrency: the start-up run (latency 0), then the run with the latency."""
    with tempfile.TemporaryDirectory() as scratch:
        stand_in.latency = 0.0
        stand_in.taken()
        startup, _, _ = timed_run(suite_command(base_url, Path(scratch) / "startup", concurrency, chosen))
        stand_in.taken()
        stand_in.latency = latency
        reports = Path(scratch) / "run"
        wall, rss, status = timed_run(suite_command(base_url, reports, concurrency, chosen))
        seen = stand_in.taken()
        results = load(reports / "results.json")
    total = sum(s.seconds for s in seen)
    mean = total / len(seen) if seen else 0.0
    sends = [
        len(t.status) if isinstance(t.status, list) else int(t.status is not None) for t in results.tests
    ]
    chain = (1 + max(sends, default=0)) * mean  # the preflight, then the longest test
    ideal = max(total / concurrency, chain) + startup
    return {
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "requests": len(seen),
        "total_latency_s": round(total, 2),
        "longest_chain_s": round(chain, 2),
        "startup_s": round(startup, 2),
        "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3),
        "peak_in_flight": peak_in_flight(seen),
        "peak_rss_mb": round(rss, 1),
        "exit_status": status,
        "summary": dict(results.summary),
    }


def table(rows: list[dict[str, Any]], latency: float) -> str:
    head = (
        "| concurrency | wall (s) | requests | total latency (s) | longest chain (s) | start-up (s) "
        "| ideal (s) | ratio | in flight | peak RSS (MB) |"
    )
    lines = [
        f"latency {latency:g} s per request; ratio aim <= {RATIO_AIM}, peak RSS aim < {RSS_AIM_MB} MB",
        "",
        head,
    ]
    lines.append("|" + "---|" * 10)
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {r['wall_s']} | {r['requests']} | {r['total_latency_s']} "
            f"| {r['longest_chain_s']} | {r['startup_s']} | {r['ideal_s']} | {r['ratio']} "
            f"| {r['peak_in_flight']} | {r['peak_rss_mb']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the stand-in holds each request")
    parser.add_argument(
        "--concurrency",
        default=",".join(map(str, CONCURRENCY)),
        help="comma-separated --concurrency values (default 1,4,16,32)",
    )
    parser.add_argument("--all-lanes", action="store_true", help="the client lanes too (Node.js, LiteLLM...)")
    parser.add_argument("--select", metavar="EXPR", help="only the tests pytest's -k EXPR selects")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        levels = [int(v) for v in args.concurrency.split(",")]
    except ValueError:
        parser.error(f"--concurrency {args.concurrency!r}: pass whole numbers separated by commas, e.g. 1,4")
    if args.latency < 0 or any(level < 1 for level in levels):
        parser.error("--latency must be at least 0 and every --concurrency at least 1")
    stand_in = Timed(create_app())
    with loopback.serve(stand_in) as base_url:
        chosen = selection(args.select, args.all_lanes)
        rows = [measure(stand_in, base_url, level, args.latency, chosen) for level in levels]
    print(json.dumps(rows, indent=2) if args.json else table(rows, args.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
