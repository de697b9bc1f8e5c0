"""The openai-node client lane's driver, seen from Python: one ``node clients/node/driver.mjs`` process
per call, a JSON job on its stdin, the ``ClientResult`` as JSON on its stdout.

A process per call keeps the lane as simple as the user's own script (nothing long-lived to leak
state between forms) and lets a hard deadline end it: the SDK's own ``timeout`` covers the wait for
the answer's headers, not a stream that trickles forever, so ``drive`` kills the process
``KILL_GRACE_S`` after the call's deadline rather than trusting the client to give up.

Node gets no credentials: its environment is ``PATH``, ``HOME``, ``NODE_OPTIONS`` (when set) and the
call's placeholder key; the gateway the driver talks to adds the real ones.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from typing import Any

from vertex_conformance.client_call import (
    ClientCall,
    ClientError,
    ClientResult,
    ClientUnavailable,
    ClientView,
    ToolCallView,
)
from vertex_conformance.paths import ROOT

CLIENT_DIR = ROOT / "clients" / "node"
DRIVER = CLIENT_DIR / "driver.mjs"
PACKAGE_JSON = CLIENT_DIR / "node_modules" / "openai" / "package.json"
MIN_NODE_MAJOR = 18  # global fetch and web streams, which every openai-node release since 5 relies on
KILL_GRACE_S = 15.0  # how long past the call's own deadline the driver may take before it is killed
_PASSED_ENV = ("PATH", "HOME", "NODE_OPTIONS")
_INSTALL_NODE = "install Node.js 18 or newer (apt-get install nodejs npm), then make conformance"


def version() -> str | None:
    """The installed ``openai`` npm package's version (``None``: not installed in clients/node)."""
    try:
        found = json.loads(PACKAGE_JSON.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _node_version(node: str) -> tuple[int, ...] | None:
    """``node --version`` as numbers (``v20.20.2`` → (20, 20, 2)); ``None`` when it does not answer."""
    try:
        shown = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=15, env=_environment(None)
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", shown.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def _engine_floor() -> int | None:
    """The Node major the installed openai package declares it needs (``engines.node: ">=22.0.0"``):
    a version picked with ``OPENAI_NODE`` may want a newer Node than the machine has."""
    try:
        engines = json.loads(PACKAGE_JSON.read_text(encoding="utf-8")).get("engines") or {}
    except (OSError, ValueError, AttributeError):
        return None
    match = re.fullmatch(r"\s*>=\s*v?(\d+)(\.\d+)*\s*", str(engines.get("node", "")))
    return int(match.group(1)) if match else None


@functools.cache
def unavailable() -> str | None:
    """``None`` when the lane can run here; else one line saying why and how to fix it. Cached: it
    starts ``node --version`` once per process."""
    node = shutil.which("node")
    if node is None:
        return f"openai-node: no Node.js runtime (node) on PATH: {_INSTALL_NODE}"
    found = _node_version(node)
    if found is None:
        return f"openai-node: {node} --version gave no version: {_INSTALL_NODE}"
    shown = ".".join(map(str, found))
    if found[0] < MIN_NODE_MAJOR:
        return f"openai-node: Node.js {shown} is too old: {_INSTALL_NODE}"
    installed = version()
    if installed is None:
        return "openai-node: the openai npm package is not installed in clients/node: run make node-client"
    floor = _engine_floor()
    if floor is not None and found[0] < floor:
        return (
            f"openai-node: openai {installed} needs Node.js {floor} or newer, node on PATH is {shown}: "
            "install a newer Node.js, or pick an older openai (make node-client OPENAI_NODE=<version>)"
        )
    return None


def _environment(api_key: str | None) -> dict[str, str]:
    """What node is given: nothing of the suite's environment but where to find programs and home."""
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    if api_key is not None:
        env["OPENAI_API_KEY"] = api_key
    return env


def _job(call: ClientCall) -> str:
    return json.dumps(
        {
            "base_url": call.base_url,
            "api_key": call.api_key,
            "body": call.body,
            "timeout_s": call.timeout_s,
            "structured": call.parse_with is not None,
        }
    )


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "(nothing on stderr)")


def drive(call: ClientCall) -> ClientResult:
    """Make ``call`` through openai-node and return what its user gets.

    Raises ``ClientUnavailable`` (with ``unavailable()``'s line) when the lane cannot run here, and
    ``RuntimeError`` with one line when the driver fails: it outlives ``call.timeout_s +
    KILL_GRACE_S`` (it is killed), exits non-zero, or prints no result."""
    reason = unavailable()
    if reason is not None:
        raise ClientUnavailable(reason)
    limit = call.timeout_s + KILL_GRACE_S
    try:
        done = subprocess.run(
            ["node", str(DRIVER)],
            input=_job(call),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=limit,
            cwd=CLIENT_DIR,
            env=_environment(call.api_key),
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"openai-node: the driver took more than {limit:g} s and was killed") from None
    if done.returncode != 0:
        raise RuntimeError(f"openai-node: the driver exited {done.returncode}: {_first_line(done.stderr)}")
    try:
        return _result(json.loads(done.stdout))
    except (ValueError, TypeError, KeyError) as exc:
        raise RuntimeError(f"openai-node: the driver's output is no result: {exc}") from None


def _result(data: Any) -> ClientResult:
    """The driver's JSON as the contract's dataclasses; a wrong shape raises (TypeError, KeyError)."""
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    view, error = data["view"], data["error"]
    if (view is None) == (error is None):
        raise TypeError("exactly one of view and error must be set")
    return ClientResult(
        call=str(data["call"]),
        version=data["version"],
        view=None if view is None else _view(view),
        error=None if error is None else _error(error),
    )


def _error(error: dict[str, Any]) -> ClientError:
    return ClientError(type=str(error["type"]), status=error["status"], message=str(error["message"]))


def _view(view: dict[str, Any]) -> ClientView:
    return ClientView(
        role=view["role"],
        content=view["content"],
        tool_calls=[ToolCallView(**call) for call in view["tool_calls"]],
        usage=view["usage"],
        parsed=view["parsed"],
        raw=view["raw"],
    )
