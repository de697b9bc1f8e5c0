"""benchmarks/memory.py: its child measures what it says, in the modes it names. The peaks themselves
are figures on a shared machine (printed by ``make bench``), not asserted here."""

from __future__ import annotations

import pytest
from fault_server import gzip_bomb, gzipped, ok, serve_faults

from vertex_conformance.paths import ROOT


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import memory

    return memory


@pytest.mark.parametrize("mode", ["live", "record"])
def test_a_childs_request_ends_as_the_guard_ends_it_and_reports_a_peak(memory, mode):
    with serve_faults(default=gzipped(gzip_bomb(64 << 20))) as server:
        measured = memory.child("httpx", mode, server.url)
    assert measured["ended"] == "the answer passed 33554432 bytes decoded (--max-response-bytes)"
    assert measured["peak_mb"] > 0 and measured["seconds"] < 30


def test_a_documented_answer_is_the_floor_and_passes(memory):
    with serve_faults(default=ok()) as server:
        measured = memory.child("sdk", "live", server.url)
    assert measured["ended"].startswith("HTTP 200, ")


def test_the_table_names_every_case_mode_and_the_highest_peak(memory):
    rows = [
        {"case": case, "mode": mode, "lane": lane, "peak_mb": 100.0 + n, "seconds": 0.1, "ended": "HTTP 200"}
        for n, (case, mode, lane) in enumerate(
            (case, mode, lane) for case in memory.CASES for mode in memory.MODES for lane in memory.LANES
        )
    ]
    text = memory.table(rows)
    assert all(case in text for case in memory.CASES)
    assert text.splitlines()[-1] == f"highest: {99.0 + len(rows):.1f} MB (50 MB answer, record, sdk-async)"
