"""The machine-readable report of a run: ``results.json`` (format documented in reports/README.md).

One record per test: which form, lane and target it exercised, its outcome, and for every
requirement evaluated whether it held, with the findings as evidence. A CI gates on the summary;
a baseline comparison matches records by ``nodeid`` and requirements by id.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .outcomes import Outcome

FORMAT = "vertex-conformance/results"
VERSION = 1
_PACKAGES = (
    "vertex-conformance",
    "openai",
    "httpx",
    "httpx2",
    "httpx-sse",
    "vcrpy",
    "pytest-recording",
    "jsonschema-rs",
    "orjson",
    "google-auth",
    "pytest",
    "syrupy",
)


def versions(sdk_http_library: str) -> dict[str, str | None]:
    """Versions of everything that shapes a run's traffic, and which HTTP library the SDK ran on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["openai_sdk_http_library"] = sdk_http_library
    return out


def token_totals(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens the run's answers report (``usage``), summed per form and in total: what a live run cost."""
    by_form: dict[str, Counter[str]] = {}
    for test in tests:
        if test.get("tokens"):
            by_form.setdefault(str(test.get("form")), Counter()).update(test["tokens"])
    total: Counter[str] = sum(by_form.values(), Counter())
    return {"total": dict(total), "by_form": {form: dict(c) for form, c in sorted(by_form.items())}}


def build(run: dict[str, Any], versions: dict[str, Any], tests: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(t["outcome"] for t in tests)
    summary = {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}
    summary["total"] = len(tests)
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run,
        "versions": versions,
        "summary": summary,
        "tokens": token_totals(tests),
        "tests": sorted(tests, key=lambda t: t["nodeid"]),
    }


def write(path: Path, document: dict[str, Any]) -> None:
    """Write atomically, so a CI never reads a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)
