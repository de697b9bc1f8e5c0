"""Peak memory of one request whatever the server sends: a figure, not a test.

    python benchmarks/memory.py           # the table
    python benchmarks/memory.py --json    # the same as JSON

Each lane (httpx, sdk, sdk-async) sends one request, in a fresh process of its own, to
tests/fault_server.py on 127.0.0.1 (served by this process), and the child reports its peak
resident memory (``ru_maxrss``) and how the request ended. The answers: the documented plain
answer (the floor: the interpreter, the SDK and the HTTP stack), a gzip bomb (about 1 MB on the
wire, 1 GiB inflated) and a 50 MB answer, each live and under the vcrpy recorder (record mode,
which buffers a whole body inside the transport). ``--max-response-bytes`` is the default, 32 MiB:
the guard stops both hostile answers there (vertex_conformance/guard.py). The aim is a peak under
300 MB in every cell.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fault server lives with the self-tests

from fault_server import Fault, big_answer, gzip_bomb, gzipped, ok, serve_faults  # noqa: E402

LANES = ("httpx", "sdk", "sdk-async")
MODES = ("live", "record")
CEILING_MB = 300
JSON = (("Content-Type", "application/json"),)
CASES: dict[str, Callable[[], Fault]] = {
    "documented answer": ok,
    "gzip bomb (1 GiB)": lambda: gzipped(gzip_bomb(1 << 30)),
    "50 MB answer": lambda: Fault(body=big_answer(50_000_000), headers=JSON),
}


def child(lane_id: str, mode: str, url: str) -> dict[str, Any]:
    """Send one request in ``lane_id`` (under the recorder for ``record``); the peak and the end."""
    import tempfile

    import vcr

    from vertex_conformance import lanes, vocabulary
    from vertex_conformance.resilience import RetryPolicy

    call = lanes.Call(
        url + "/v1/projects/p/locations/us-central1/endpoints/openapi",
        {"model": "google/gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]},
        retry=RetryPolicy(max_attempts=1),
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        recording = vcr.VCR(record_mode="all").use_cassette(f"{scratch}/c.yaml") if mode == "record" else None
        try:
            with recording or nullcontext():
                exchange = vocabulary.lane(lane_id).send(call, None)
            ended = f"HTTP {exchange.status}, {len(exchange.body_text or '')} characters"
        except lanes.TransportError as exc:
            ended = str(exc).split(";")[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"peak_mb": round(peak_mb, 1), "seconds": round(time.monotonic() - started, 2), "ended": ended}


def measure() -> list[dict[str, Any]]:
    rows = []
    for case, answer in CASES.items():
        with serve_faults(default=answer(), lifetime=600) as server:
            for mode in MODES:
                for lane_id in LANES:
                    command = [sys.executable, __file__, "--child", lane_id, mode, server.url]
                    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
                    if done.returncode != 0:
                        raise SystemExit(f"{case}, {mode}, {lane_id}: {done.stderr.strip().splitlines()[-1]}")
                    rows.append({"case": case, "mode": mode, "lane": lane_id, **json.loads(done.stdout)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"peak resident memory of one request, MB (a fresh process each; the aim: under {CEILING_MB})",
        f"{'answer':<20} {'mode':<7} " + " ".join(f"{lane:>10}" for lane in LANES) + "  how it ended",
    ]
    for case in CASES:
        for mode in MODES:
            cells = [r for r in rows if r["case"] == case and r["mode"] == mode]
            peaks = " ".join(f"{r['peak_mb']:>10.1f}" for r in cells)
            lines.append(f"{case:<20} {mode:<7} {peaks}  {cells[0]['ended']}")
    worst = max(rows, key=lambda r: r["peak_mb"])
    lines.append(f"highest: {worst['peak_mb']:.1f} MB ({worst['case']}, {worst['mode']}, {worst['lane']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--child", nargs=3, metavar=("LANE", "MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    rows = measure()
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
