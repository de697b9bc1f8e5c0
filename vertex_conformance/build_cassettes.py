"""Rebuild the shipped cassettes and shape snapshots from the documented samples.

Runs the conformance suite in record mode against the local sample server (``sample_server``),
which answers every documented request with the documented sample response. The recorder marks
each cassette ``source: documented-sample`` with the sample's file name, so nothing built here can
pass for a live recording. No traffic leaves 127.0.0.1.

    python -m vertex_conformance.build_cassettes [-k EXPR] [--cassette-dir DIR]
"""

from __future__ import annotations

import os
import sys

import pytest

from .paths import SUITES
from .sample_server import serve_samples

SAMPLE_PROJECT = "sample-project"  # not a real project; the recorder replaces it with {PROJECT} anyway
SAMPLE_TOKEN = "sample-server-token"  # the sample server wants a bearer header; this is not a credential


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    os.environ["VERTEX_ACCESS_TOKEN"] = SAMPLE_TOKEN
    with serve_samples() as base_url:
        return int(
            pytest.main(
                [
                    str(SUITES),
                    "--mode",
                    "record",
                    "--project",
                    SAMPLE_PROJECT,
                    "--base-url",
                    base_url,
                    "--endpoint-id",
                    "ENDPOINT_ID",
                    "--snapshot-update",
                    "-p",
                    "no:cacheprovider",
                    *extra,
                ]
            )
        )


if __name__ == "__main__":
    raise SystemExit(main())
