"""Results documents for the self-tests, built the way a run builds them.

Every document goes through ``results.validate`` before a test sees it, so a test can only ever
hand the code under test a ``results.json`` a real run could have written: a helper that drifts
from the schema fails here, at its source, not as a puzzling difference in the test that used it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vertex_conformance.config import RunConfig
from vertex_conformance.results import Results, TestRecord, UnreadableResults, load, validate
from vertex_conformance.secrets_scan import scan

VERSIONS = {"python": "3.11.7", "openai": "3.57.0", "openai_sdk_http_library": "httpx2", "httpx2": "2.16.2"}
GENERATED_AT = "2026-11-28T09:00:00+00:00"


def run_settings(**overrides: Any) -> dict[str, Any]:
    """The ``run`` part of a report: a default replay run's every setting, with ``overrides``."""
    return {**RunConfig.from_sources({}, {}).describe(), **overrides}


def results(*tests: TestRecord | dict[str, Any], **run: Any) -> Results:
    """A validated run holding ``tests`` (records, or their JSON objects) with ``run`` settings."""
    records = tuple(t.to_dict() if isinstance(t, TestRecord) else t for t in tests)
    document = Results(run=run_settings(**run), versions=VERSIONS, tests=(), generated_at=GENERATED_AT)
    return validate({**document.to_dict(), "tests": list(records)}, "test document")


def unreadable_reports(root: Path) -> list[str]:
    """Why ``results.load`` refuses each ``results.json`` under ``root`` (empty: all are readable)."""
    problems = []
    for path in sorted(root.rglob("results.json")):
        try:
            load(path)
        except UnreadableResults as exc:
            problems.append(str(exc))
    return problems


REPORTS = ("results.json", "comparison.json", "index.html", "junit.xml")


def secrets_in_reports(root: Path) -> list[str]:
    """Where a report under ``root`` holds a secret (the rules of ``make test``'s secret scan)."""
    written = [path for name in REPORTS for path in root.rglob(name)]
    return [str(hit) for hit in scan(written)] if written else []
