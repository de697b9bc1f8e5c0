"""The versions a report names: everything that shapes a run's traffic.

The format of ``results.json`` is ``results.Results`` (and ``schemas/results.schema.json``).
"""

from __future__ import annotations

import importlib
import platform
from functools import cache
from importlib import metadata

from .vocabulary import LANES

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
    out.update(clients())
    return out


@cache
def judged() -> dict[str, str | None]:
    """The versions an expectation's ``versions`` range is held to: the Python SDK's and each
    client's (read once per run: they do not change under it)."""
    try:
        sdk: str | None = metadata.version("openai")
    except metadata.PackageNotFoundError:
        sdk = None
    return {"openai": sdk, **clients()}


def clients() -> dict[str, str | None]:
    """The version of each client lane's client (``None``: not installed here), by its package name:
    ``openai-node``, ``litellm``, ``langchain-openai``. The drivers read them without importing the
    clients."""
    return {
        str(lane.package): importlib.import_module(str(lane.driver)).version()
        for lane in LANES.values()
        if lane.client
    }
