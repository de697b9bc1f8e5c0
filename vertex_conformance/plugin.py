"""The pytest plugin: run options, configuration, tiers, cassettes and fixtures.

The ``conformance`` fixture's object lives in ``conformance``; outcomes and reports in ``collector``.

Loaded by the root ``conftest.py``. It only takes charge of a run whose tests live in ``suites/``
(the conformance run); the harness's own tests in ``tests/`` run with it loaded but inert, so they
can start local servers freely.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from . import auth, baseline, expectations, recording, resilience, stash
from .budget import TokenBudget
from .collector import ResultCollector, pytest_runtest_makereport  # noqa: F401  (a hook pytest finds here)
from .config import ConfigError, RunConfig
from .conformance import Conformance
from .paths import CASSETTES, FIXTURES, SUITES

OPTIONS = (
    "image_model",
    "mode",
    "target",
    "project",
    "location",
    "api_version",
    "model",
    "endpoint_id",
    "base_url",
    "profile",
    "report_dir",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vertex-conformance", "Vertex AI Chat Completions conformance")
    add = group.addoption
    add(
        "--mode",
        help="replay (default: cassettes only, network blocked) | record (live, writes cassettes) "
        "| live (live, writes nothing)",
    )
    add("--target", help="gemini (default: endpoints/openapi) | endpoint (a self-deployed endpoints/{ID})")
    add("--project", help="Google Cloud project id (env VERTEX_PROJECT); needed for live and record")
    add(
        "--location",
        help="region, or 'global' for the global host (env VERTEX_LOCATION; default us-central1)",
    )
    add("--api-version", help="v1 (default) | v1beta1")
    add("--model", help="Gemini model id, sent as google/<id> (env VERTEX_MODEL)")
    add("--image-model", help="model for the image-output form (env VERTEX_IMAGE_MODEL)")
    add("--endpoint-id", help="self-deployed endpoint id (env VERTEX_ENDPOINT_ID)")
    add("--base-url", help="replace scheme and host, keep the documented path (env VERTEX_BASE_URL)")
    add("--profile", help="vertex (default: documented Vertex behaviour) | openai (OpenAI's contract)")
    add("--report-dir", help="where results.json and junit.xml go (default reports/)")
    add(
        "--cassette-dir",
        default=None,
        help=f"cassette root (default {CASSETTES.relative_to(FIXTURES.parent)}/vertex)",
    )
    add(
        "--max-cassette-age",
        type=float,
        default=None,
        help="replay: fail tests whose cassette was recorded more than this many days ago",
    )
    add("--connect-timeout", type=float, default=10.0, help="seconds to connect (default 10)")
    add(
        "--read-timeout",
        type=float,
        default=60.0,
        help="seconds between two reads; a stalled stream is infra",
    )
    add(
        "--stream-timeout",
        type=float,
        default=300.0,
        help="ceiling for a whole stream, seconds (default 300)",
    )
    add(
        "--max-attempts",
        type=int,
        default=4,
        help="attempts per request on 429/502/503/504 and resets (default 4)",
    )
    add("--max-retry-wait", type=float, default=30.0, help="all retry waits of one request together, seconds")
    add(
        "--max-output-tokens",
        type=int,
        default=2048,
        help="max_tokens every case asks for, to keep live runs cheap (not the image form; default 2048)",
    )
    add(
        "--max-total-tokens",
        type=int,
        default=None,
        help="live/record: stop sending once this many tokens (usage.total_tokens) are spent (per process)",
    )
    add("--expectations", default=None, help="known deviations file (default expectations/<target>.yaml)")
    add(
        "--baseline",
        metavar="PATH",
        type=baseline.pytest_option,
        default=None,
        help="a results.json to compare this run with: writes comparison.json, exit 1 on a regression",
    )


def is_conformance_run(config: pytest.Config) -> bool:
    """True when the run collects from ``suites/`` (the default test path)."""
    root = Path(config.rootpath)
    for arg in config.args:
        path = (root / arg.split("::")[0]).resolve()
        if path == SUITES or SUITES in path.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "form(name): the documented request form a conformance test exercises")
    config.addinivalue_line("markers", "gate: the documented forms (the SDK release gate runs these)")
    config.addinivalue_line(
        "markers", "probe: behaviour users reported (SPEC.md); informative, not documented"
    )
    if not is_conformance_run(config):
        return
    options = {name: config.getoption(name) for name in OPTIONS}
    try:
        cfg = RunConfig.from_sources(options, os.environ)
        tokens = auth.token_source(cfg)
        if tokens is not None:
            auth.check_credentials(tokens)
        config.stash[stash.PATIENCE] = _patience(config)
        listed = config.getoption("expectations")
        config.stash[stash.EXPECTATIONS] = expectations.load(
            Path(listed) if listed else expectations.default_path(cfg.target)
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None
    config.stash[stash.CONFIG] = cfg
    config.stash[stash.BUDGET] = TokenBudget(config.getoption("max_total_tokens"))
    if cfg.mode == "replay":
        config.option.record_mode = "none"
        config.option.block_network = True
    elif cfg.mode == "record":
        config.option.record_mode = "all"
    else:
        config.option.disable_recording = True
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(Path(cfg.report_dir) / "junit.xml")
    config.pluginmanager.register(ResultCollector(config, cfg, tokens), "vertex-conformance-results")


def _patience(config: pytest.Config) -> tuple[resilience.Timeouts, resilience.RetryPolicy]:
    """Timeouts and the retry policy from the options; a bad value is a configuration error."""
    try:
        timeouts = resilience.Timeouts(
            connect=config.getoption("connect_timeout"),
            read=config.getoption("read_timeout"),
            stream=config.getoption("stream_timeout"),
        )
        policy = resilience.RetryPolicy(
            max_attempts=config.getoption("max_attempts"), max_total_wait=config.getoption("max_retry_wait")
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return timeouts, policy


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    recording.configure_vcr(vcr, secrets=config.stash[stash.CONFIG].secrets())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every conformance test gets a cassette (unless live) and a tier: ``probe`` where the suite
    says so, ``gate`` (the documented forms) otherwise, so ``-m gate`` and ``-m probe`` select them."""
    cfg = config.stash.get(stash.CONFIG, None)
    if cfg is None:
        return
    for item in items:
        if item.get_closest_marker("form") is None:
            continue
        if item.get_closest_marker("probe") is None:
            item.add_marker(pytest.mark.gate)
        if cfg.mode != "live":
            item.add_marker(pytest.mark.vcr)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_config(pytestconfig: pytest.Config) -> RunConfig:
    cfg = pytestconfig.stash.get(stash.CONFIG, None)
    if cfg is None:
        pytest.fail("the conformance fixtures serve tests under suites/ only", pytrace=False)
    return cfg


@pytest.fixture(scope="session")
def token_source(pytestconfig: pytest.Config, run_config: RunConfig) -> auth.TokenSource | None:
    collector = pytestconfig.pluginmanager.get_plugin("vertex-conformance-results")
    return collector.tokens if collector else None


@pytest.fixture
def vcr_config(run_config: RunConfig) -> dict[str, Any]:
    """pytest-recording's configuration hook: our filters, matchers and serializer."""
    return recording.vcr_config(secrets=run_config.secrets())


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    root = request.config.getoption("cassette_dir") or str(CASSETTES / "vertex")
    return str(Path(root) / Path(str(request.node.fspath)).stem)


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def conformance(
    request: pytest.FixtureRequest, run_config: RunConfig, token_source: Any, snapshot_json: Any
) -> Conformance:
    recording.set_current_test(request.node.nodeid)
    return Conformance(request, run_config, token_source, snapshot_json)
