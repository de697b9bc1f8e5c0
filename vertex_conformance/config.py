"""Run configuration: what to test, where, and how, from the command line and the environment.

All validation happens here, once, so a bad setting stops the run before the first request with
one line that says what to do, instead of surfacing later as a 404 or a traceback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .paths import CASSETTES, EXPECTATIONS, REPORTS, shown
from .scrub import Kind, Scrubber
from .vocabulary import API_VERSIONS, Mode, Profile, Target, UnknownWord, choose

# Replay never talks to anything, so it runs with the placeholders the cassettes are written with.
PLACEHOLDER_PROJECT = "PROJECT"
PLACEHOLDER_ENDPOINT_ID = "ENDPOINT_ID"
REDACTED = "<redacted>"
# Google Cloud's shortest project id. A shorter value is no real project, and scrubbing it from every
# report would find it where it is no secret (a one-letter id is a whole word in many answers).
MIN_PROJECT_ID = 6

# Command-line option (pytest dest) -> environment fallback. Mode, target, profile, API version
# and report dir are deliberately command-line only: they change what a run means.
ENV_FALLBACKS = {
    "project": "VERTEX_PROJECT",
    "location": "VERTEX_LOCATION",
    "model": "VERTEX_MODEL",
    "image_model": "VERTEX_IMAGE_MODEL",
    "endpoint_id": "VERTEX_ENDPOINT_ID",
    "project_number": "VERTEX_PROJECT_NUMBER",
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

    mode: Mode = Mode.REPLAY
    target: Target = Target.GEMINI
    project: str | None = None
    project_number: str | None = None  # only to keep it out of reports: errors may name the number
    location: str = "us-central1"
    api_version: str = "v1"
    # Current models (stable/GA since May 2026); Vertex announced the Gemini 2.5 models, the old default
    # gemini-2.5-flash among them, for discontinuation no earlier than 2026-10-16.
    model: str = "gemini-3.5-flash"  # thinks, calls tools, reads images: every chat form can run on it
    image_model: str = "gemini-3-pro-image"  # the image-output form's model (GA; replaced the preview)
    endpoint_id: str | None = None
    base_url: str | None = None
    profile: Profile = Profile.VERTEX
    report_dir: Path = REPORTS  # the checkout's reports/, wherever pytest starts
    cassette_dir: Path = CASSETTES / "vertex"
    expectations: Path | None = None  # the known deviations; validation fills expectations/<target>.yaml
    baseline: Path | None = None  # a results.json to compare the run with
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # between two reads; a stalled stream is infra
    stream_timeout: float = 300.0  # a whole stream
    max_attempts: int = 4  # per request, on 429/502/503/504 and resets
    max_retry_wait: float = 30.0  # all retry waits of one request together
    max_response_bytes: int = 32 * 1024 * 1024  # an answer's decoded size; past it: infra, read no further
    max_output_tokens: int = 2048  # the max_tokens every case asks for (not the image form)
    max_total_tokens: int | None = None  # live/record: stop sending once this many tokens are spent
    # live/record: requests in flight at once inside one process (per xdist worker); replay ignores it
    concurrency: int = 8
    max_cassette_age: float | None = None  # replay: days; older cassettes fail cassette.fresh
    targets: Path | None = None  # --targets FILE: every form against each target it lists (targets_file)
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

    def validated(self) -> RunConfig:
        """This configuration checked and normalised by the command line's rules (``from_sources`` ends
        here; a targets file's entry, the run's settings replaced by its own, too)."""
        return _validated(self)

    def scrubber(self) -> Scrubber:
        """The run's secret values, for the one scrubber every artefact passes through: the project
        id and number, the endpoint id and a static token. Every real id, in every mode: a replay run
        still builds its URLs from a --project it was given (CI often exports VERTEX_PROJECT for
        every job), and a cassette miss quotes them; the placeholders are no secret. The plugin
        builds it once per run; tokens handed out later are added to it."""
        scrubber = Scrubber()
        for kind, value in (
            (Kind.PROJECT_ID, self.project),
            (Kind.PROJECT_NUMBER, self.project_number),
            (Kind.ENDPOINT_ID, self.endpoint_id),
            (Kind.ACCESS_TOKEN, self.access_token),
        ):
            if value not in (None, PLACEHOLDER_PROJECT, PLACEHOLDER_ENDPOINT_ID):
                scrubber.add(kind, value)
        return scrubber

    def timeouts(self) -> Any:
        """The lanes' ``resilience.Timeouts`` (imported here, not at the top: the CLI reads this module)."""
        from .resilience import Timeouts

        return Timeouts(connect=self.connect_timeout, read=self.read_timeout, stream=self.stream_timeout)

    def retry_policy(self) -> Any:
        from .resilience import RetryPolicy

        return RetryPolicy(max_attempts=self.max_attempts, max_total_wait=self.max_retry_wait)

    def describe(self) -> dict[str, Any]:
        """Every setting, for a report: no token, and a real project or endpoint id replaced (ids are
        secrets there); paths as given."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "access_token":
                continue
            out[f.name] = shown(value) if isinstance(value, Path) else value
        if self.project not in (None, PLACEHOLDER_PROJECT):
            out["project"] = REDACTED
        if self.endpoint_id not in (None, PLACEHOLDER_ENDPOINT_ID):
            out["endpoint_id"] = REDACTED
        if self.project_number is not None:
            out["project_number"] = REDACTED
        out["has_static_token"] = self.access_token is not None
        if self.targets is not None:  # each target's settings, not only the file's name
            from .targets_file import described  # here: the CLI reads this module, not the targets

            out["targets"] = described(self)
        return out


# Every run option is a RunConfig field of the same name (the token alone comes from the environment).
OPTIONS = tuple(f.name for f in fields(RunConfig) if f.name != "access_token")


def _model_id(value: str, option: str, env: str) -> str:
    """A bare Gemini model id (a ``google/`` prefix is accepted and dropped)."""
    model = value.strip().removeprefix(_MODEL_PREFIX)
    if not model:
        raise ConfigError(f"the model id is empty: pass {option} or set {env}, e.g. gemini-3.5-flash")
    if "/" in model or any(c.isspace() for c in model):
        raise ConfigError(
            f"model {value!r} is not a Gemini model id: pass a bare id like gemini-3.5-flash to {option} "
            "(the suite sends it as google/<id>)"
        )
    return model


def _validated(cfg: RunConfig) -> RunConfig:
    """Check every field and fill the replay placeholders; raise ConfigError on the first problem."""
    mode = Mode(_choice("mode", cfg.mode, Mode, "--mode"))
    target = Target(_choice("target", cfg.target, Target, "--target"))
    profile = Profile(_choice("profile", cfg.profile, Profile, "--profile"))
    _choice("API version", cfg.api_version, API_VERSIONS, "--api-version")
    limits = _limits(cfg)

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
    if not mode.sends:
        project = project or PLACEHOLDER_PROJECT
        endpoint_id = endpoint_id or PLACEHOLDER_ENDPOINT_ID
    if not project:
        raise ConfigError(f"{cfg.mode} mode needs a project: pass --project or set VERTEX_PROJECT")
    _segment("project", project, "--project", "VERTEX_PROJECT")
    if project != PLACEHOLDER_PROJECT and len(project) < MIN_PROJECT_ID:  # replay scrubs it too
        raise ConfigError(
            f"project id {project!r} is too short to scrub from reports safely: Google Cloud project ids "
            f"have {MIN_PROJECT_ID} to 30 characters; check --project or VERTEX_PROJECT"
        )
    if target is Target.ENDPOINT and not endpoint_id:
        raise ConfigError(
            "target endpoint needs an endpoint id: pass --endpoint-id or set VERTEX_ENDPOINT_ID"
        )
    if endpoint_id:
        _segment("endpoint id", endpoint_id, "--endpoint-id", "VERTEX_ENDPOINT_ID")
    if cfg.project_number is not None and not str(cfg.project_number).isdigit():
        raise ConfigError(
            f"project number {cfg.project_number!r} is not a number: "
            "check --project-number or VERTEX_PROJECT_NUMBER"
        )

    cassette_dir = Path(cfg.cassette_dir)
    if mode is Mode.REPLAY and next(cassette_dir.rglob("*.yaml"), None) is None:
        state = "holds no cassette" if cassette_dir.is_dir() else "does not exist"
        raise ConfigError(f"cassette directory {cassette_dir} {state}: check --cassette-dir")
    if cfg.expectations is not None and not Path(cfg.expectations).is_file():
        raise ConfigError(f"expectations file {cfg.expectations} does not exist: check --expectations")
    if cfg.targets is not None and not Path(cfg.targets).is_file():
        raise ConfigError(f"targets file {cfg.targets} does not exist: check --targets")

    return RunConfig(
        mode=mode,
        target=target,
        project=project,
        project_number=cfg.project_number,
        location=location,
        api_version=cfg.api_version,
        model=model,
        image_model=image_model,
        endpoint_id=endpoint_id,
        base_url=base_url,
        profile=profile,
        report_dir=Path(cfg.report_dir),
        cassette_dir=cassette_dir,
        expectations=Path(cfg.expectations or EXPECTATIONS / f"{target}.yaml"),
        baseline=_path(cfg.baseline),
        targets=_path(cfg.targets),
        access_token=cfg.access_token,
        **limits,
    )


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


# (field, option, whole number, may be zero, may be absent): the numeric limits of a run.
_LIMITS = (
    ("connect_timeout", "--connect-timeout", False, False, False),
    ("read_timeout", "--read-timeout", False, False, False),
    ("stream_timeout", "--stream-timeout", False, False, False),
    ("max_attempts", "--max-attempts", True, False, False),
    ("max_retry_wait", "--max-retry-wait", False, True, False),
    ("max_response_bytes", "--max-response-bytes", True, False, False),
    ("max_output_tokens", "--max-output-tokens", True, False, False),
    ("max_total_tokens", "--max-total-tokens", True, False, True),
    ("concurrency", "--concurrency", True, False, False),
    ("max_cassette_age", "--max-cassette-age", False, True, True),
)


def _limits(cfg: RunConfig) -> dict[str, Any]:
    """Every numeric option, checked: finite, positive (or zero where zero means something), whole
    where it counts things. ``inf`` is refused: an endless timeout is a hang, not a setting."""
    out: dict[str, Any] = {}
    for name, option, whole, zero_ok, optional in _LIMITS:
        value = getattr(cfg, name)
        if value is None and optional:
            out[name] = None
            continue
        kind = "a whole number" if whole else "a number"
        floor = "at least 0" if zero_ok else ("at least 1" if whole else "above 0")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{option} {value!r} is not {kind}: pass {kind} {floor}") from None
        if isinstance(value, bool) or not math.isfinite(number) or (whole and number != int(number)):
            raise ConfigError(f"{option} {value!r} is not {kind}: pass a finite {kind[2:]} {floor}")
        if number < 0 or (number == 0 and not zero_ok):
            raise ConfigError(f"{option} is {value!r}: it must be {floor}")
        out[name] = int(number) if whole else number
    return out


def _choice(what: str, value: Any, choices: Any, option: str) -> str:
    try:
        return choose(value, list(choices), what)
    except UnknownWord:
        options = ", ".join(map(str, choices))
        raise ConfigError(f"unknown {what} {value!r}: pass {option} with one of {options}") from None


def _segment(what: str, value: str, option: str, env: str) -> None:
    if not _PATH_SEGMENT.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid id (letters, digits, '-', '.', ':', '_'): "
            f"check {option} or {env}"
        )


def _checked_base_url(raw: str) -> str:
    """Accept ``http(s)://host[:port][/prefix]``: the suite appends the documented path itself, after
    the prefix a gateway serves Vertex under (``https://gw.example/proxy/vertex``). A base URL that
    already holds the documented path would double it, so it is refused with what to pass instead."""
    hint = "pass --base-url (or set VERTEX_BASE_URL) as http(s)://host[:port][/path-prefix], without a query"
    try:
        parts = urlsplit(raw.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ConfigError(f"base URL {raw!r} is not a URL: {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(f"base URL {raw!r} needs an http or https scheme and a host: {hint}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"base URL for host {parts.hostname!r} carries credentials: {hint}")
    if parts.query or parts.fragment or any(c.isspace() for c in parts.path):
        raise ConfigError(f"base URL {raw!r} has a query, fragment or space: {hint}")
    prefix = parts.path.rstrip("/")
    if re.search(r"/projects/|/chat/completions/", prefix + "/"):
        raise ConfigError(
            f"base URL {raw!r} already holds the documented path (/projects/…, /chat/completions), "
            f"which the suite appends itself: {hint}"
        )
    return f"{parts.scheme}://{parts.netloc}{prefix}"
