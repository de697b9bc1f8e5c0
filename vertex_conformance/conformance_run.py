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
from pytest_recording.plugin import get_default_cassette_name
from syrupy.extensions.json import JSONSnapshotExtension

from . import (
    auth,
    expectations,
    lanes,
    prefetch,
    preflight,
    recording,
    stash,
    targets_file,
    versions,
)
from .budget import LEDGER_KEY, TokenBudget, create_ledger, remove_ledger
from .collector import ResultCollector, pytest_runtest_makereport  # noqa: F401  (a hook pytest finds here)
from .config import OPTIONS, ConfigError, RunConfig
from .conformance import Conformance
from .lanes import http_library
from .pace import configure as configure_pace
from .pace import from_config as pace_of
from .scrub import Kind, Scrubber
from .vocabulary import ALL_FORMS, LANES, Mode, UnknownWord, choose, lane

LOOPBACK_HOSTS = r"^(127\.0\.0\.1|localhost|::1)$"  # what a replayed client lane may connect to: the gateway


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
        targets = _targets(config, cfg, scrubber)
        lanes.check_tls()
        # once per run, before any worker starts; never for a run that only lists or explains tests
        if not hasattr(config, "workerinput") and not (config.option.collectonly or config.option.help):
            _preflight(cfg, targets, tokens, scrubber)
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None
    config.stash[stash.CONFIG] = cfg
    config.stash[stash.SCRUBBER] = scrubber
    ledger = getattr(config, "workerinput", {}).get(LEDGER_KEY)  # the controller's, under xdist
    config.stash[stash.BUDGET] = TokenBudget(cfg.max_total_tokens, Path(ledger) if ledger else None)
    if cfg.mode is not Mode.REPLAY:  # every retrying transport of this process obeys it; a replay has no pace
        configure_pace(pace_of(cfg))
    if cfg.mode is Mode.REPLAY:
        config.option.record_mode = "none"
        config.option.block_network = True
    elif prefetch.records_itself(cfg):  # no cassette may be active while the prefetcher sends
        config.option.disable_recording = True
    elif cfg.mode is Mode.RECORD:
        config.option.record_mode = "all"
    else:
        config.option.disable_recording = True
    if config.option.collectonly:  # listing the tests uses no snapshot: syrupy must not call them unused
        config.option.disable_unused_snapshots = True
    if not getattr(config.option, "xmlpath", None) and not config.option.collectonly:
        config.option.xmlpath = str(Path(cfg.report_dir) / "junit.xml")
    collector = ResultCollector(config, cfg, tokens)
    config.pluginmanager.register(sys.modules[__name__], "vertex-conformance-run")
    config.pluginmanager.register(collector, "vertex-conformance-results")
    if not hasattr(config, "workerinput"):
        config.stash[_PREVIOUS_SIGTERM] = _stop_on_sigterm(collector)
    config.stash[_PREVIOUS_LOG_FACTORY] = _scrub_log_records(scrubber)


TARGETS = pytest.StashKey[tuple[targets_file.Target, ...]]()


def _targets(config: pytest.Config, cfg: RunConfig, scrubber: Scrubber) -> tuple[targets_file.Target, ...]:
    """The targets of ``--targets`` (none without it): their endpoint ids join the run's secrets, and
    ``-m "target(name='eu')"`` selects one (a CI job per target, all of one run)."""
    targets = targets_file.load(cfg)
    if targets and config.getoption("update_snapshots", False):
        raise ConfigError(
            "--snapshot-update with --targets: every target is held to the same shape snapshots; "
            "update them in a run without --targets"
        )
    for target in targets:
        if target.config.endpoint_id != cfg.endpoint_id:
            scrubber.add(Kind.ENDPOINT_ID, str(target.config.endpoint_id))
    config.addinivalue_line("markers", "target(name): the --targets entry a test runs against")
    config.stash[TARGETS] = targets
    return targets


def _preflight(
    cfg: RunConfig, targets: tuple[targets_file.Target, ...], tokens: Any, scrubber: Scrubber
) -> None:
    """One request per target before any test (live and record); the run's own settings without
    ``--targets``. A target that cannot answer stops the run, named."""
    for target in targets:
        try:
            preflight.check(target.config, tokens, scrubber)
        except ConfigError as exc:
            raise ConfigError(f"target {target.name!r}: {exc}") from None
    if not targets:
        preflight.check(cfg, tokens, scrubber)


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


_LEDGER = pytest.StashKey[Path]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Under xdist, one token budget for the run: the controller's ledger, handed to every worker."""
    config = node.config
    if config.stash[stash.CONFIG].max_total_tokens is None:
        return
    if _LEDGER not in config.stash:
        config.stash[_LEDGER] = create_ledger()
    node.workerinput[LEDGER_KEY] = str(config.stash[_LEDGER])


def pytest_unconfigure(config: pytest.Config) -> None:
    configure_pace(None)
    if _LEDGER in config.stash:
        remove_ledger(config.stash[_LEDGER])
    if (gateway := sys.modules.get("vertex_conformance.gateway")) is not None:  # a client lane ran
        gateway.close()
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
    clients = ", ".join(f"{name} {number or 'not installed'}" for name, number in versions.clients().items())
    return [
        f"vertex-conformance: openai SDK {version('openai')} on {http_library()}; "
        f"mode {cfg.mode}, target {cfg.target}, profile {cfg.profile}, concurrency {cfg.concurrency}",
        f"vertex-conformance: clients {clients}",
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
        if callspec is not None and callspec.params.get("vertex_target") is not None:
            item.add_marker(pytest.mark.target(name=callspec.params["vertex_target"].name))
        if callspec is not None and lane(callspec.params.get("lane", "httpx")).client:
            # a client lane records nothing and reaches the network only through the run's gateway
            if cfg.mode is Mode.REPLAY:
                item.add_marker(pytest.mark.block_network(allowed_hosts=[LOOPBACK_HOSTS]))
        elif cfg.mode.cassettes:
            item.add_marker(pytest.mark.vcr)
    try:  # an expectation's `tests` filter that names no collected test excuses nothing: stop here
        listed = config.stash[stash.EXPECTATIONS]
        nodeids = [expectations.untargeted(i.nodeid, _target_name(i)) for i in items]
        expectations.check_collected(cfg.expectations, listed, nodeids, config.args)
        for target in config.stash[TARGETS]:
            if target.expectations_file is not None:
                expectations.check_collected(target.expectations_file, target.own, nodeids, config.args)
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None


def _target_name(item: pytest.Item) -> str | None:
    target = getattr(item, "callspec", None) and item.callspec.params.get("vertex_target")
    return target.name if target else None


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With ``--targets``, every conformance test once per target, the target's name the last part of
    its id (after the suite's own parameters): ``test_plain_chat[httpx-eu-flash]``."""
    targets = metafunc.config.stash.get(TARGETS, ())
    if targets and "vertex_target" in metafunc.fixturenames:
        metafunc.parametrize("vertex_target", targets, ids=[t.name for t in targets])


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def vertex_target() -> targets_file.Target | None:
    """The test's target: none without ``--targets`` (then ``pytest_generate_tests`` parametrizes it)."""
    return None


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


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest, vertex_target: targets_file.Target | None) -> str:
    """pytest-recording's cassette name, without the target: its folder names it, so a target's
    folder is laid out as the cassette dir of a run without ``--targets``."""
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        return str(marker.args[0])
    name = expectations.untargeted(request.node.name, vertex_target.name if vertex_target else None)
    return get_default_cassette_name(request.cls, name)


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest, vertex_target: targets_file.Target | None) -> str:
    """One folder per suite module, under the target's own folder with ``--targets``."""
    cfg = vertex_target.config if vertex_target else request.config.stash[stash.CONFIG]
    return str(cfg.cassette_dir / Path(str(request.node.fspath)).stem)


class SharedSnapshot(JSONSnapshotExtension):
    """The JSON snapshot of the test's id without its target: a shape snapshot is the form's
    contract, so every target of a ``--targets`` run is compared with the one snapshot of its test
    (a target whose shapes differ shows the diff as ``snapshot.shape``; its own expectations file
    may list it), and a new target needs no snapshots of its own."""

    @classmethod
    def get_snapshot_name(cls, *, test_location: Any, index: Any = 0) -> str:
        name = super().get_snapshot_name(test_location=test_location, index=index)
        return expectations.untargeted(name, _target_name(test_location.item))


@pytest.fixture
def snapshot_json(snapshot: Any, vertex_target: targets_file.Target | None) -> Any:
    """Shape snapshots; every target's answers are held to the one of their test (README: targets)."""
    return snapshot.use_extension(SharedSnapshot if vertex_target else JSONSnapshotExtension)


@pytest.fixture
def conformance(
    request: pytest.FixtureRequest,
    run_config: RunConfig,
    token_source: Any,
    snapshot_json: Any,
    vertex_target: targets_file.Target | None,
) -> Conformance:
    recording.set_current_test(request.node.nodeid)
    cfg = vertex_target.config if vertex_target else run_config
    prefetcher = request.config.stash.get(prefetch.PREFETCHER, None)
    if prefetcher is not None:
        prefetcher.reached(request.node)
    return Conformance(request, cfg, token_source, snapshot_json, target=vertex_target, prefetcher=prefetcher)


# --- --concurrency: the prefetcher ------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """Requests overlap (``--concurrency``): the prefetcher sends ahead of pytest's main loop and
    stops with it, however it ends (the last test, ``-x``, the budget, Ctrl-C, SIGTERM)."""
    config = session.config
    collector = config.pluginmanager.get_plugin("vertex-conformance-results")
    tokens = collector.tokens if collector else None
    prefetcher = prefetch.start(session, config.stash[stash.CONFIG], tokens, config.stash[stash.BUDGET])
    try:
        return (yield)
    finally:
        if prefetcher is not None:
            prefetcher.stop()
            config.stash[prefetch.STATS] = prefetcher.stats


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Under xdist, the workers' prefetch figures add up on the controller."""
    figures = getattr(node, "workeroutput", {}).get(prefetch.STATS_KEY)
    if figures:
        config = node.config
        cfg = config.stash[stash.CONFIG]
        config.stash.setdefault(prefetch.STATS, prefetch.Stats(cfg.concurrency)).add(figures)


def pytest_sessionfinish(session: pytest.Session) -> None:
    stats = session.config.stash.get(prefetch.STATS, None)
    if stats is not None and hasattr(session.config, "workerinput"):
        session.config.workeroutput[prefetch.STATS_KEY] = stats.figures()  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.config.stash.get(prefetch.STATS, None)
    if stats is not None and not hasattr(terminalreporter.config, "workerinput"):
        terminalreporter.write_line(f"vertex-conformance: {stats.line()}")
