"""Run configuration: what to test, where, and how, from the command line and the environment.

All validation happens here, once, so a bad setting stops the run before the first request with
one line that says what to do, instead of surfacing later as a 404 or a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MODES = ("replay", "record", "live")
TARGETS = ("gemini", "endpoint")
PROFILES = ("vertex", "openai")
API_VERSIONS = ("v1", "v1beta1")

# Replay never talks to anything, so it runs with the placeholders the cassettes are written with.
PLACEHOLDER_PROJECT = "PROJECT"
PLACEHOLDER_ENDPOINT_ID = "ENDPOINT_ID"

# Command-line option (pytest dest) -> environment fallback. Mode, target, profile, API version
# and report dir are deliberately command-line only: they change what a run means.
ENV_FALLBACKS = {
    "project": "VERTEX_PROJECT",
    "location": "VERTEX_LOCATION",
    "model": "VERTEX_MODEL",
    "image_model": "VERTEX_IMAGE_MODEL",
    "endpoint_id": "VERTEX_ENDPOINT_ID",
    "base_url": "VERTEX_BASE_URL",
}
TOKEN_ENV = "VERTEX_ACCESS_TOKEN"

_REGION = re.compile(r"[a-z]+(?:-[a-z]+)+[0-9]+")
# A project or endpoint id ends up as one URL path segment; anything else would change the path.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_MODEL_PREFIX = "google/"


class ConfigError(Exception):
    """A configuration the run cannot use; the message is one line for the user that says what to do."""


@dataclass(frozen=True)
class RunConfig:
    """One run's settings, validated; build it with ``from_sources``."""

    mode: str = "replay"
    target: str = "gemini"
    project: str | None = None
    location: str = "us-central1"
    api_version: str = "v1"
    model: str = "gemini-2.5-flash"  # thinks, calls tools, reads images: every chat form can run on it
    image_model: str = "gemini-3-pro-image-preview"  # the image-output form's model (the seed's sample)
    endpoint_id: str | None = None
    base_url: str | None = None
    profile: str = "vertex"
    report_dir: Path = Path("reports")
    access_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_sources(cls, options: Mapping[str, Any], environ: Mapping[str, str]) -> RunConfig:
        """Merge command-line ``options`` (None = not given) over ``environ`` over defaults, then validate.

        An empty environment variable counts as unset (CI often exports unset secrets as "").
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            given = options.get(f.name)
            env_name = ENV_FALLBACKS.get(f.name)
            if given is None and env_name and environ.get(env_name):
                given = environ[env_name]
            if given is not None:
                values[f.name] = given
        values["access_token"] = environ.get(TOKEN_ENV) or None
        return _validated(cls(**values))

    def secrets(self) -> list[str]:
        """Values no cassette, report or log may hold, wherever they appear: the live project id.
        (Endpoint ids and locations are rewritten in URLs, the only place they belong.)"""
        return [self.project] if self.mode != "replay" and self.project else []

    def describe(self) -> dict[str, Any]:
        """The settings for a report: no token, and a real project id replaced (ids are secrets there)."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "access_token"
        }
        if self.project not in (None, PLACEHOLDER_PROJECT):
            out["project"] = "<redacted>"
        out["report_dir"] = str(self.report_dir)
        out["has_static_token"] = self.access_token is not None
        return out


def _model_id(value: str, option: str, env: str) -> str:
    """A bare Gemini model id (a ``google/`` prefix is accepted and dropped)."""
    model = value.strip().removeprefix(_MODEL_PREFIX)
    if not model:
        raise ConfigError(f"the model id is empty: pass {option} or set {env}, e.g. gemini-2.5-flash")
    if "/" in model or any(c.isspace() for c in model):
        raise ConfigError(
            f"model {value!r} is not a Gemini model id: pass a bare id like gemini-2.5-flash to {option} "
            "(the suite sends it as google/<id>)"
        )
    return model


def _validated(cfg: RunConfig) -> RunConfig:
    """Check every field and fill the replay placeholders; raise ConfigError on the first problem."""
    _choice("mode", cfg.mode, MODES, "--mode")
    _choice("target", cfg.target, TARGETS, "--target")
    _choice("profile", cfg.profile, PROFILES, "--profile")
    _choice("API version", cfg.api_version, API_VERSIONS, "--api-version")

    model = _model_id(cfg.model, "--model", "VERTEX_MODEL")
    image_model = _model_id(cfg.image_model, "--image-model", "VERTEX_IMAGE_MODEL")

    location = cfg.location.strip()
    if location != "global" and not _REGION.fullmatch(location):
        raise ConfigError(
            f"location {cfg.location!r} is not a region id: pass --location (or set VERTEX_LOCATION) "
            'to a region like us-central1, or "global"'
        )

    base_url = _checked_base_url(cfg.base_url) if cfg.base_url is not None else None

    project, endpoint_id = cfg.project, cfg.endpoint_id
    if cfg.mode == "replay":
        project = project or PLACEHOLDER_PROJECT
        endpoint_id = endpoint_id or PLACEHOLDER_ENDPOINT_ID
    if not project:
        raise ConfigError(f"{cfg.mode} mode needs a project: pass --project or set VERTEX_PROJECT")
    _segment("project", project, "--project", "VERTEX_PROJECT")
    if cfg.target == "endpoint" and not endpoint_id:
        raise ConfigError(
            "target endpoint needs an endpoint id: pass --endpoint-id or set VERTEX_ENDPOINT_ID"
        )
    if endpoint_id:
        _segment("endpoint id", endpoint_id, "--endpoint-id", "VERTEX_ENDPOINT_ID")

    return RunConfig(
        mode=cfg.mode,
        target=cfg.target,
        project=project,
        location=location,
        api_version=cfg.api_version,
        model=model,
        image_model=image_model,
        endpoint_id=endpoint_id,
        base_url=base_url,
        profile=cfg.profile,
        report_dir=Path(cfg.report_dir),
        access_token=cfg.access_token,
    )


def _choice(what: str, value: str, choices: tuple[str, ...], option: str) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}: pass {option} with one of {', '.join(choices)}")


def _segment(what: str, value: str, option: str, env: str) -> None:
    if not _PATH_SEGMENT.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid id (letters, digits, '-', '.', ':', '_'): "
            f"check {option} or {env}"
        )


def _checked_base_url(raw: str) -> str:
    """Accept only ``http(s)://host[:port]``: the suite appends the documented path itself."""
    hint = "pass --base-url (or set VERTEX_BASE_URL) as http(s)://host[:port], without a path or query"
    try:
        parts = urlsplit(raw.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ConfigError(f"base URL {raw!r} is not a URL: {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(f"base URL {raw!r} needs an http or https scheme and a host: {hint}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"base URL for host {parts.hostname!r} carries credentials: {hint}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"base URL {raw!r} has a path, query or fragment: {hint}")
    return f"{parts.scheme}://{parts.netloc}"
