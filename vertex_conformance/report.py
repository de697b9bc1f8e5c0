"""Writing a run's reports to disk, and the versions a report names.

The format of ``results.json`` is ``results.Results`` (and ``schemas/results.schema.json``); this
module only says which package versions shaped the traffic and writes documents atomically, so a
CI never reads a half-written report.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_text

_PACKAGES = (
    "vertex-conformance",
    "openai",
    "httpx",
    "httpx2",
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


def write(path: Path, document: dict[str, Any]) -> None:
    """Write atomically, so a CI never reads a half-written report."""
    write_text(path, json.dumps(document, indent=2, sort_keys=False) + "\n")
