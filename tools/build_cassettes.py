"""Rebuild the shipped cassettes and shape snapshots from the documented samples.

Runs the conformance suite in record mode against the local sample server (``tools/sample_server.py``),
which answers every documented request with the documented sample response. The recorder marks
each cassette ``source: documented-sample`` with the sample's file name, so nothing built here can
pass for a live recording. No traffic leaves 127.0.0.1.

    python -m tools.build_cassettes [-k EXPR] [--cassette-dir DIR]    # from the checkout's root
"""

from __future__ import annotations

import os
import subprocess
import sys

from tools.sample_server import serve_samples
from vertex_conformance.paths import ROOT, SUITES

SAMPLE_PROJECT = "sample-project"  # not a real project; the recorder replaces it with {PROJECT} anyway
SAMPLE_TOKEN = "sample-server-token"  # the sample server wants a bearer header; this is not a credential


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    environment = {**os.environ, "VERTEX_ACCESS_TOKEN": SAMPLE_TOKEN}
    with serve_samples() as base_url:
        command = [
            *(sys.executable, "-m", "pytest", str(SUITES), "--mode", "record", "--project", SAMPLE_PROJECT),
            *("--base-url", base_url, "--endpoint-id", "ENDPOINT_ID", "--snapshot-update"),
            *("--report-dir", str(ROOT / "reports" / "build-cassettes"), "-p", "no:cacheprovider", *extra),
        ]
        return subprocess.run(command, cwd=ROOT, env=environment, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
