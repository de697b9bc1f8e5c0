"""The SSE parser against the specification's examples and web-platform-tests' stream cases.

The cases are data (tests/sse_corpus/*.json, each naming the file or section it was ported from),
so a case added there is run here without code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from vertex_conformance.sse import parse_sse

CORPUS = Path(__file__).parent / "sse_corpus"
SCHEMA = json.loads((CORPUS / "case.schema.json").read_text(encoding="utf-8"))
FILES = sorted(p for p in CORPUS.glob("*.json") if p.name != "case.schema.json")
CASES = [
    pytest.param(case, id=f"{path.stem}[{n}] {case['source'].rsplit('/', 1)[-1]}")
    for path in FILES
    for n, case in enumerate(json.loads(path.read_text(encoding="utf-8")))
]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_file_follows_its_schema(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), SCHEMA)


def test_corpus_ports_both_sources() -> None:
    sources = {case.values[0]["source"].split("/")[2] for case in CASES}
    assert sources == {"github.com", "html.spec.whatwg.org"}


@pytest.mark.parametrize("case", CASES)
def test_stream_dispatches_the_events_a_conforming_client_does(case: dict[str, Any]) -> None:
    stream = parse_sse(case["stream"])
    assert [{"type": e.event, "data": e.data, "id": e.id} for e in stream.events] == case["events"]
    assert stream.retry == case["retry"]
