"""The versions a report names: everything that shapes a run's traffic.

The format of ``results.json`` is ``results.Results`` (and ``schemas/results.schema.json``).
"""

from __future__ import annotations

import platform
from importlib import metadata

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


def of(sdk_http_library: str) -> dict[str, str | None]:
    """Versions of everything that shapes a run's traffic, and which HTTP library the SDK ran on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["openai_sdk_http_library"] = sdk_http_library
    return out
