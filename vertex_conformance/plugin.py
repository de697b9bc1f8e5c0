"""The pytest plugin: run options, configuration, tiers, cassettes and fixtures.

The ``conformance`` fixture's object lives in ``conformance``; outcomes and reports in ``collector``.

Loaded by the root ``conftest.py``. It only takes charge of a run whose tests live in ``suites/``
(the conformance run); the harness's own tests in ``tests/`` run with it loaded but inert, so they
can start local servers freely.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from . import auth, expectations, recording, results, stash
from .budget import TokenBudget
from .collector import ResultCollector, pytest_runtest_makereport  # noqa: F401  (a hook pytest finds here)
from .config import ConfigError, RunConfig
from .conformance import Conformance
from .paths import CASSETTES, FIXTURES, SUITES
from .vocabulary import ALL_FORMS, LANES, Mode, UnknownWord, choose

# Every run option is a RunConfig field of the same name (the token alone comes from the environment).
OPTIONS = tuple(f.name for f in fields(RunConfig) if f.name != "access_token")


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
    d = RunConfig  # the defaults live in RunConfig alone; the options below only name them
    add(
        "--max-cassette-age",
        type=float,
        help="replay: fail tests whose cassette was recorded more than this many days ago",
    )
    add("--connect-timeout", type=float, help=f"seconds to connect (default {d.connect_timeout:g})")
    add(
        "--read-timeout",
        type=float,
        help=f"seconds between two reads; a stalled stream is infra (default {d.read_timeout:g})",
    )
    add(
        "--stream-timeout",
        type=float,
        help=f"ceiling for a whole stream, seconds (default {d.stream_timeout:g})",
    )
    add(
        "--max-attempts",
        type=int,
        help=f"attempts per request on 429/502/503/504 and resets (default {d.max_attempts})",
    )
    add(
        "--max-retry-wait",
        type=float,
        help=f"all retry waits of one request together, seconds (default {d.max_retry_wait:g})",
    )
    add(
        "--max-output-tokens",
        type=int,
        help=f"max_tokens every case asks for, to keep live runs cheap (not the image form; "
        f"default {d.max_output_tokens})",
    )
    add(
        "--max-total-tokens",
        type=int,
        help="live/record: stop sending once this many tokens (usage.total_tokens) are spent (per process)",
    )
    add("--expectations", help="known deviations file (default expectations/<target>.yaml)")
    add(
        "--baseline",
        metavar="PATH",
        type=_baseline_option,
        help="a results.json to compare this run with: writes comparison.json, exit 1 on a regression",
    )


def _baseline_option(value: str) -> Path:
    """The ``type`` of ``--baseline``: an unreadable baseline stops the run before any test runs."""
    try:
        results.load(Path(value))
    except results.UnreadableResults as exc:
        raise pytest.UsageError(f"vertex-conformance: --baseline: {exc}") from None
    return Path(value)


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
        scrubber = cfg.scrubber()
        tokens = auth.token_source(cfg, scrubber)
        if tokens is not None:
            auth.check_credentials(tokens)
        config.stash[stash.EXPECTATIONS] = expectations.load(cfg.expectations)
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None
    config.stash[stash.CONFIG] = cfg
    config.stash[stash.SCRUBBER] = scrubber
    config.stash[stash.BUDGET] = TokenBudget(cfg.max_total_tokens)
    if cfg.mode is Mode.REPLAY:
        config.option.record_mode = "none"
        config.option.block_network = True
    elif cfg.mode is Mode.RECORD:
        config.option.record_mode = "all"
    else:
        config.option.disable_recording = True
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(Path(cfg.report_dir) / "junit.xml")
    config.pluginmanager.register(ResultCollector(config, cfg, tokens), "vertex-conformance-results")


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    recording.configure_vcr(vcr, secrets=config.stash[stash.SCRUBBER])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every conformance test gets a cassette (unless live) and a tier: ``probe`` where the suite
    says so, ``gate`` (the documented forms) otherwise, so ``-m gate`` and ``-m probe`` select them.
    Its form and lane must be words of the vocabulary: a typo stops the run before any test."""
    cfg = config.stash.get(stash.CONFIG, None)
    if cfg is None:
        return
    for item in items:
        form = item.get_closest_marker("form")
        if form is None:
            continue
        callspec = getattr(item, "callspec", None)
        try:
            choose(form.args[0], ALL_FORMS, "form", item.nodeid)
            if callspec is not None and "lane" in callspec.params:
                choose(callspec.params["lane"], LANES, "lane", item.nodeid)
        except UnknownWord as exc:
            raise pytest.UsageError(f"vertex-conformance: {exc}") from None
        if item.get_closest_marker("probe") is None:
            item.add_marker(pytest.mark.gate)
        if cfg.mode.cassettes:
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
def vcr_config(pytestconfig: pytest.Config, run_config: RunConfig) -> dict[str, Any]:
    """pytest-recording's configuration hook: our filters, matchers and serializer."""
    return recording.vcr_config(secrets=pytestconfig.stash[stash.SCRUBBER])


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    cfg = request.config.stash.get(stash.CONFIG, None)  # None: the harness's own tests, not a suite run
    root = cfg.cassette_dir if cfg is not None else RunConfig.cassette_dir
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
