"""The plugin's part for a conformance run: what ``plugin`` registers once it knows the run
collects from ``suites/``. It imports the SDKs, vcr and the HTTP stack, which no other pytest run
in the same environment should pay for (``plugin`` itself stays light).

Registered after every auto-loaded plugin, its ``vcr_config`` and ``vcr_cassette_dir`` fixtures
are the ones pytest-recording uses (among plugins the last registered wins).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from . import auth, expectations, lanes, preflight, recording, stash
from .budget import TokenBudget
from .collector import ResultCollector, pytest_runtest_makereport  # noqa: F401  (a hook pytest finds here)
from .config import OPTIONS, ConfigError, RunConfig
from .conformance import Conformance
from .lanes import http_library
from .scrub import Scrubber
from .vocabulary import ALL_FORMS, LANES, Mode, UnknownWord, choose


def start(config: pytest.Config) -> None:
    """Take charge of a conformance run: validate every option (a bad one stops the run here, before
    any test, with one line), find credentials, load the expectations, ask the target once (live and
    record: ``preflight``), set the cassette mode, and register this module's hooks and fixtures and
    the collector of the reports."""
    options = {name: config.getoption(name) for name in OPTIONS}
    try:
        cfg = RunConfig.from_sources(options, os.environ)
        scrubber = cfg.scrubber()
        tokens = auth.token_source(cfg, scrubber)
        if tokens is not None:
            auth.check_credentials(tokens)
        config.stash[stash.EXPECTATIONS] = expectations.load(cfg.expectations)
        lanes.check_tls()
        # once per run, before any worker starts; never for a run that only lists or explains tests
        if not hasattr(config, "workerinput") and not (config.option.collectonly or config.option.help):
            preflight.check(cfg, tokens, scrubber)
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
    collector = ResultCollector(config, cfg, tokens)
    config.pluginmanager.register(sys.modules[__name__], "vertex-conformance-run")
    config.pluginmanager.register(collector, "vertex-conformance-results")
    if not hasattr(config, "workerinput"):
        config.stash[_PREVIOUS_SIGTERM] = _stop_on_sigterm(collector)
    config.stash[_PREVIOUS_LOG_FACTORY] = _scrub_log_records(scrubber)


_PREVIOUS_SIGTERM = pytest.StashKey[Any]()


def _stop_on_sigterm(collector: ResultCollector) -> Any:
    """SIGTERM (a CI job cancelled, ``timeout``) ends the run the way Ctrl-C does: pytest stops,
    the reports are written and marked incomplete, the exit status is 2. Returns the old handler."""

    def stop(signum: int, frame: Any) -> None:
        collector.stop("stopped by SIGTERM")
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


_PREVIOUS_LOG_FACTORY = pytest.StashKey[Callable[..., logging.LogRecord]]()


def _scrub_log_records(scrubber: Scrubber) -> Callable[..., logging.LogRecord]:
    """Every log record of the run passes the scrubber as it is made: httpx logs each request's URL
    (the project id in its path), and ``--log-cli-level`` or ``--log-file`` write records where no
    report hook sees them. Returns the factory it wraps."""
    previous = logging.getLogRecordFactory()

    def scrubbed(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if scrubber.finds(message):
            record.msg, record.args = scrubber.scrub(message), ()
        return record

    logging.setLogRecordFactory(scrubbed)
    return previous


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(_PREVIOUS_SIGTERM, None)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    factory = config.stash.get(_PREVIOUS_LOG_FACTORY, None)
    if factory is not None:
        logging.setLogRecordFactory(factory)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    recording.configure_vcr(vcr, secrets=config.stash[stash.SCRUBBER])


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Names the SDK under test atop every conformance run: ``make conformance`` keeps whichever
    version an earlier ``OPENAI_SDK=`` installed, so the run itself must say which one it judged."""
    cfg = config.stash[stash.CONFIG]
    return [
        f"vertex-conformance: openai SDK {version('openai')} on {http_library()}; "
        f"mode {cfg.mode}, target {cfg.target}, profile {cfg.profile}"
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every conformance test gets a cassette (unless live) and a tier: ``probe`` where the suite
    says so, ``gate`` (the documented forms) otherwise, so ``-m gate`` and ``-m probe`` select them.
    Its form and lane must be words of the vocabulary: a typo stops the run before any test."""
    cfg = config.stash[stash.CONFIG]
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
    try:  # an expectation's `tests` filter that names no collected test excuses nothing: stop here
        listed = config.stash[stash.EXPECTATIONS]
        expectations.check_collected(cfg.expectations, listed, [i.nodeid for i in items], config.args)
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_config(pytestconfig: pytest.Config) -> RunConfig:
    return pytestconfig.stash[stash.CONFIG]


@pytest.fixture(scope="session")
def token_source(pytestconfig: pytest.Config) -> auth.TokenSource | None:
    collector = pytestconfig.pluginmanager.get_plugin("vertex-conformance-results")
    return collector.tokens if collector else None


@pytest.fixture
def vcr_config(pytestconfig: pytest.Config, run_config: RunConfig) -> dict[str, Any]:
    """pytest-recording's configuration hook: our filters, matchers and serializer."""
    options = recording.vcr_config(secrets=pytestconfig.stash[stash.SCRUBBER])
    if run_config.mode is Mode.RECORD:
        # A re-recording replaces the cassette with what this test sent now (an interaction it no longer
        # sends is dropped, not kept beside the new one); the old file stays until the new one is whole.
        options["drop_unused_requests"] = True
    return options


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(request.config.stash[stash.CONFIG].cassette_dir / Path(str(request.node.fspath)).stem)


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def conformance(
    request: pytest.FixtureRequest, run_config: RunConfig, token_source: Any, snapshot_json: Any
) -> Conformance:
    recording.set_current_test(request.node.nodeid)
    return Conformance(request, run_config, token_source, snapshot_json)
