"""The pytest plugin: run options, the ``conformance`` fixture, cassettes, outcomes and reports.

Loaded by the root ``conftest.py``. It only takes charge of a run whose tests live in ``suites/``
(the conformance run); the harness's own tests in ``tests/`` run with it loaded but inert, so they
can start local servers freely.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from syrupy.extensions.json import JSONSnapshotExtension
from vcr.errors import CannotOverwriteExistingCassetteException

from . import auth, baseline, expectations, lanes, matrix, recording, report, resilience, shapes, targets
from .assembly import assemble
from .budget import TokenBudget, token_counts
from .checks import evaluate, failures
from .config import ConfigError, RunConfig
from .exchange import Exchange
from .findings import Finding
from .outcomes import Outcome, worst
from .paths import CASSETTES, FIXTURES, SUITES
from .requirements import CASSETTE_ALL_PLAYED, CASSETTE_FRESH, HTTP_SUCCESS, SNAPSHOT_SHAPE

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
_RECORD_KEY = "vertex_conformance"
_CONFIG = pytest.StashKey[RunConfig]()
_EXPECTATIONS = pytest.StashKey[list[expectations.Expectation]]()
_BUDGET = pytest.StashKey[TokenBudget]()
_PATIENCE = pytest.StashKey[tuple[resilience.Timeouts, resilience.RetryPolicy]]()
_RESULT = pytest.StashKey[dict[str, Any]]()
_EXCERPT = 2000  # characters of each request and response body kept in a test's evidence


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
        config.stash[_PATIENCE] = _patience(config)
        listed = config.getoption("expectations")
        config.stash[_EXPECTATIONS] = expectations.load(
            Path(listed) if listed else expectations.default_path(cfg.target)
        )
    except ConfigError as exc:
        raise pytest.UsageError(f"vertex-conformance: {exc}") from None
    config.stash[_CONFIG] = cfg
    config.stash[_BUDGET] = TokenBudget(config.getoption("max_total_tokens"))
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
    recording.configure_vcr(vcr, secrets=_secrets(config.stash[_CONFIG]))


def _secrets(cfg: RunConfig) -> list[str]:
    """Values the recorder must never write, wherever they appear: the live project id. (Endpoint
    ids and locations are rewritten in URLs, the only place they belong.)"""
    return [cfg.project] if cfg.mode != "replay" and cfg.project else []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every conformance test gets a cassette (unless live) and a tier: ``probe`` where the suite
    says so, ``gate`` (the documented forms) otherwise, so ``-m gate`` and ``-m probe`` select them."""
    cfg = config.stash.get(_CONFIG, None)
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
    cfg = pytestconfig.stash.get(_CONFIG, None)
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
    return recording.vcr_config(secrets=_secrets(run_config))


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


# --- the conformance fixture ------------------------------------------------------------------


@dataclass
class Conformance:
    """What a suite test drives: build a call for a target, send it in a lane, verify the exchange."""

    request: pytest.FixtureRequest
    config: RunConfig
    tokens: Any
    snapshot: Any
    record: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        marker = self.request.node.get_closest_marker("form")
        self.record = {
            "nodeid": self.request.node.nodeid,
            "form": marker.args[0] if marker else None,
            "mode": self.config.mode,
            "profile": self.config.profile,
        }
        self.request.node.stash[_RESULT] = self.record

    # building calls

    def _body(self, body: str | dict[str, Any], stream: bool, model: str | None) -> dict[str, Any]:
        """The request body: a file of fixtures/requests (by name) or a dict, plus model and stream."""
        if isinstance(body, str):
            body = json.loads((FIXTURES / "requests" / f"{body}.json").read_text(encoding="utf-8"))
        body = {"model": model, **body} if model else dict(body)
        if stream:
            body["stream"] = True
        return body

    def _unsupported(self, why: str) -> None:
        self.record["outcome"] = Outcome.UNSUPPORTED.value
        self.record["reason"] = why
        pytest.skip(f"unsupported: {why}")

    def _describe(self, target: str, stream: bool, location: str | None, api_version: str | None) -> None:
        self.record.update(
            target=target,
            streamed=stream,
            location=location or self.config.location,
            api_version=api_version or self.config.api_version,
        )

    def gemini(
        self,
        body: str | dict[str, Any],
        *,
        stream: bool,
        location: str | None = None,
        api_version: str | None = None,
        image: bool = False,
        parse_with: type | None = None,
    ) -> lanes.Call:
        """A call to a Gemini model through ``endpoints/openapi`` (``image``: the image model)."""
        if self.config.target != "gemini":
            self._unsupported("the target is a self-deployed endpoint; this form needs endpoints/openapi")
        self._describe("gemini", stream, location, api_version)
        base = targets.openapi_base_url(self.config, location=location, api_version=api_version)
        model = targets.wire_model(self.config, image=image)
        return self._call(base, self._body(body, stream, model), parse_with)

    def endpoint(
        self, body: str, *, stream: bool, location: str | None = None, api_version: str | None = None
    ) -> lanes.Call:
        """A call to a self-deployed model: ``endpoints/{ENDPOINT}``, no ``model`` in the body."""
        if self.config.endpoint_id is None:
            self._unsupported("no --endpoint-id given for the self-deployed endpoint form")
        self._describe("endpoint", stream, location, api_version)
        base = targets.endpoint_base_url(self.config, location=location, api_version=api_version)
        return self._call(base, self._body(body, stream, None), None)

    def _call(self, base: str, body: dict[str, Any], parse_with: type | None) -> lanes.Call:
        timeouts, policy = self.request.config.stash[_PATIENCE]
        return lanes.Call(base, body, parse_with=parse_with, timeouts=timeouts, retry=policy)

    # sending

    def _cassette(self) -> Any:
        return self.request.getfixturevalue("vcr") if self.config.mode != "live" else None

    def _require_cassette(self) -> None:
        cassette = self._cassette()
        if cassette is None or self.config.mode != "replay":
            return
        path = Path(cassette._path)
        self.record["cassette"] = {"path": _relative(path)}
        if not path.is_file():
            self.record["outcome"] = Outcome.ERROR.value
            pytest.fail(
                f"no cassette {_relative(path)}; record it with: pytest '{self.request.node.nodeid}' "
                "--mode record --project YOUR_PROJECT (see README, 'Recording')",
                pytrace=False,
            )
        meta = recording.read_meta(path)
        self.record["cassette"].update(source=meta.get("source"), recorded_at=meta.get("recorded_at"))

    def send(self, lane: str, call: lanes.Call) -> Exchange:
        """Send ``call`` in ``lane``. A request the cassette does not hold, a transport failure, a
        rate limit or server error that outlasted the retries, or a stream that stalled or dropped
        ends the test here with a named outcome (error or infra) instead of a traceback."""
        self.record["lane"] = lane
        self._require_cassette()
        budget = self.request.config.stash[_BUDGET]
        if budget.exhausted:
            self.request.session.shouldstop = f"the token budget of {budget.max_total_tokens} is spent"
            self._unsupported(f"not sent: the --max-total-tokens budget ({budget.max_total_tokens}) is spent")
        try:
            exchange = self._dispatch(lane, call)
        except (CannotOverwriteExistingCassetteException, lanes.TransportError, httpx.HTTPError) as exc:
            message = str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__
            if self.config.mode == "replay":
                self.record.update(outcome=Outcome.ERROR.value, error=f"not in the cassette: {message}")
                pytest.fail(
                    f"the request is not the one recorded in the cassette ({message}); if the change is "
                    "deliberate, re-record with --mode record",
                    pytrace=False,
                )
            self._infra(message)
        self._account(exchange, budget)
        if "interrupted" in exchange.notes:
            self._infra(exchange.notes["interrupted"])
        if resilience.classify(exchange):
            attempts = exchange.notes.get("attempts")
            self._infra(
                resilience.evidence(exchange, _secrets(self.config)) + (f" ({attempts})" if attempts else "")
            )
        return exchange

    def _dispatch(self, lane: str, call: lanes.Call) -> Exchange:
        if lane == "httpx":
            return lanes.run_httpx(call, auth.BearerAuth(self.tokens) if self.tokens else None)
        if lane == "sdk-async":
            return lanes.run_sdk_async(call, self.tokens)
        return lanes.run_sdk(call, self.tokens)

    def _infra(self, evidence: str) -> None:
        self.record.update(outcome=Outcome.INFRA.value, error=evidence)
        pytest.fail(f"infra (not a conformance verdict): {evidence}", pytrace=False)

    def _account(self, exchange: Exchange, budget: TokenBudget) -> None:
        """Tokens for the report and the budget; latency figures only when live (a recorder buffers)."""
        usage = (exchange.body if isinstance(exchange.body, dict) else {}).get("usage")
        if exchange.streamed:
            usage = assemble(exchange.chunks).usage
        counts = token_counts(usage)
        budget.spend(usage)
        tokens = self.record.setdefault("tokens", dict.fromkeys(counts, 0))
        for key, value in counts.items():
            tokens[key] += value
        timing = exchange.notes.pop("timing", None)
        if self.config.mode == "live" and timing is not None:
            if exchange.streamed:
                timing["chunks"] = len(exchange.chunks)
            self.record.setdefault("timing", []).append(timing)

    # verifying

    def verify(
        self,
        *exchanges: Exchange,
        also: dict[str, list[Finding]] | None = None,
        by_design: tuple[str, ...] = (),
    ) -> None:
        """Judge the test: every check on every exchange, the shape snapshot, the cassette, and any
        verdicts the test computed itself (``also``, e.g. comparisons between two exchanges). A probe
        that breaks a requirement on purpose names it in ``by_design``: it is left unjudged (and the
        record says so). Fails the test naming each violated requirement; a test that only shows
        known deviations xfails."""
        results: dict[str, list[Finding]] = {}
        observations: dict[str, Any] = {}
        for position, exchange in enumerate(exchanges):
            found, observed = evaluate(exchange, self.config.profile)
            for rid, findings in found.items():
                if len(exchanges) > 1:
                    findings = [
                        Finding(f.requirement, f"exchanges[{position}]{f.path[1:]}", f.message)
                        for f in findings
                    ]
                results.setdefault(rid, []).extend(findings)
            observations.update(observed)
        for rid, findings in (also or {}).items():
            results.setdefault(rid, []).extend(findings)
        if self.request.node.get_closest_marker("probe") is None:
            results[HTTP_SUCCESS.id] = [
                Finding(
                    HTTP_SUCCESS.id,
                    "$.status" if len(exchanges) == 1 else f"exchanges[{i}].status",
                    f"the documented form was answered {e.status}: {(e.body_text or '')[:200]}",
                )
                for i, e in enumerate(exchanges)
                if not 200 <= e.status < 300
            ]
        for rid in by_design:
            results.pop(rid, None)
        if by_design:
            self.record["by_design"] = list(by_design)
        shape = [shapes.of(e) for e in exchanges] if len(exchanges) > 1 else shapes.of(exchanges[0])
        matches = self.snapshot == shape  # syrupy records the comparison for its session report
        results[SNAPSHOT_SHAPE.id] = (
            []
            if matches
            else [
                Finding(
                    SNAPSHOT_SHAPE.id,
                    "$",
                    "the answer's shape differs from the stored snapshot "
                    "(run with --snapshot-update to accept a deliberate change)",
                )
            ]
        )
        results.update(self._cassette_age())
        cassette = self._cassette()
        if self.config.mode == "replay" and cassette is not None:
            results[CASSETTE_ALL_PLAYED.id] = (
                []
                if cassette.all_played
                else [
                    Finding(
                        CASSETTE_ALL_PLAYED.id,
                        "$",
                        "the cassette holds recorded interactions this test never played",
                    )
                ]
            )
        self._conclude(results, observations, exchanges)

    def _cassette_age(self) -> dict[str, list[Finding]]:
        """``cassette.fresh`` when ``--max-cassette-age`` is set and the test replayed a cassette."""
        limit = self.request.config.getoption("max_cassette_age")
        recorded = (self.record.get("cassette") or {}).get("recorded_at")
        if limit is None or self.config.mode != "replay" or not recorded:
            return {}
        age = (
            datetime.now(UTC) - datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        ).total_seconds() / 86400
        self.record["cassette"]["age_days"] = round(age, 4)
        if age <= limit:
            return {CASSETTE_FRESH.id: []}
        message = f"recorded {recorded}, {age:.1f} days ago; --max-cassette-age is {limit:g}: re-record it"
        return {CASSETTE_FRESH.id: [Finding(CASSETTE_FRESH.id, "$.cassette.recorded_at", message)]}

    def _conclude(
        self, results: dict[str, list[Finding]], observations: dict[str, Any], exchanges: tuple[Exchange, ...]
    ) -> None:
        listed = self.request.config.stash.get(_EXPECTATIONS, [])
        outcomes, applied = expectations.judge(
            {rid: not f for rid, f in results.items()}, self.record, listed
        )
        outcome = worst(list(outcomes.values()))
        found = failures(results)
        evidence = [_evidence(e, _secrets(self.config)) for e in exchanges]
        self.record.update(
            requirements={rid: o.value for rid, o in sorted(outcomes.items())},
            findings=[{**f.to_dict(), "outcome": outcomes[f.requirement].value} for f in found],
            expectations={rid: e.to_dict() for rid, e in sorted(applied.items())},
            observations=observations,
            status=[e.status for e in exchanges] if len(exchanges) > 1 else exchanges[0].status,
            evidence=evidence if len(evidence) > 1 else evidence[0],
            outcome=outcome.value,
        )
        notes = {k: v for e in exchanges for k, v in e.notes.items()}
        if notes:
            self.record["notes"] = notes
        unexpected = [
            f"unexpected pass: [{rid}] holds, but {self._expectations_file()} lists it as a known "
            f"deviation ({applied[rid].reason}); remove the entry"
            for rid, o in outcomes.items()
            if o is Outcome.UNEXPECTED_PASS
        ]
        failing = [str(f) for f in found if outcomes[f.requirement] is Outcome.FAIL]
        if failing or unexpected:
            pytest.fail("\n".join(failing + unexpected), pytrace=False)
        if outcome is Outcome.KNOWN_DEVIATION:
            pytest.xfail(
                "known deviation: "
                + "; ".join(
                    f"[{rid}] {applied[rid].reason}"
                    for rid, o in outcomes.items()
                    if o is Outcome.KNOWN_DEVIATION
                )
            )

    def _expectations_file(self) -> str:
        listed = self.request.config.getoption("expectations")
        return listed or _relative(expectations.default_path(self.config.target))


def _evidence(exchange: Exchange, secrets: list[str]) -> dict[str, Any]:
    """The start of what crossed the wire, for the report; the project id never appears (URL
    placeholders as in cassettes, and a live id scrubbed from the bodies)."""

    def excerpt(text: str | None) -> dict[str, Any]:
        text = text or ""
        for secret in secrets:
            text = text.replace(secret, recording.PROJECT)
        return {"body": text[:_EXCERPT], "truncated": len(text) > _EXCERPT}

    out: dict[str, Any] = {"lane": exchange.lane}
    if exchange.request is not None:
        request = exchange.request
        out["request"] = {
            "method": request.method,
            "url": recording.with_placeholders(request.url),
            **excerpt(request.body_text),
        }
    out["response"] = {"status": exchange.status, **excerpt(exchange.stream_text or exchange.body_text)}
    return out


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(FIXTURES.parent))
    except ValueError:
        return str(path)


# --- outcomes and reports ---------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Ship the test's record with its report, so the controller gets it under xdist too."""
    rep = yield
    record = item.stash.get(_RESULT, None)
    if record is not None and (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
        rep.user_properties.append((_RECORD_KEY, json.dumps(record)))
    return rep


class ResultCollector:
    """Collects every test's record (in the controller process) and writes results.json at the end."""

    def __init__(self, config: pytest.Config, cfg: RunConfig, tokens: Any) -> None:
        self.config, self.cfg, self.tokens = config, cfg, tokens
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and not report.failed:
            return
        record = next((json.loads(v) for k, v in report.user_properties if k == _RECORD_KEY), None)
        current = self.tests.get(report.nodeid)
        if record is None:
            if current is not None and not report.failed:
                return
            record = current or {"nodeid": report.nodeid, "form": None}
        outcome = record.get("outcome")
        if report.skipped and not hasattr(report, "wasxfail"):  # an xfail is a judged known deviation
            outcome = Outcome.UNSUPPORTED.value
            record.setdefault(
                "reason", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
            )
        elif report.failed and outcome in (None, Outcome.PASS.value):
            outcome = Outcome.ERROR.value
            record["error"] = (
                report.longreprtext.strip().splitlines()[-1][:500] if report.longreprtext else ""
            )
        elif report.passed and report.when == "call" and outcome is None:
            outcome = Outcome.ERROR.value
            record["error"] = "the test verified nothing"
        if outcome is not None:
            record["outcome"] = outcome
            record["duration_s"] = round(report.duration, 4)
            self.tests[report.nodeid] = record

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller writes the report
        document = report.build(
            self.cfg.describe(), report.versions(lanes.http_library()), list(self.tests.values())
        )
        directory, path = Path(self.cfg.report_dir), self.config.getoption("baseline")
        comparison, lines = None, []
        if path:  # read before results.json is written: the baseline may be the last run's, in place
            try:
                comparison = baseline.compare(baseline.load(Path(path)), document)
            except baseline.UnreadableResults as exc:  # readable at the start, gone or changed since
                lines = [f"vertex-conformance: --baseline: {exc}"]
        report.write(directory / "results.json", document)
        matrix.write(directory / "index.html", document)
        if not path:
            return
        if comparison is not None:
            report.write(directory / "comparison.json", comparison.to_dict())
            lines = [*comparison.lines(), f"comparison: {directory / 'comparison.json'}"]
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write("\n")  # the progress line may still be open (-q)
            terminal.write_sep("-", f"comparison with the baseline {path}")
            for line in lines:
                terminal.write_line(line)
        if (comparison is None or comparison.exit_code) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        counts: dict[str, int] = {}
        for record in self.tests.values():
            counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
        line = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        terminalreporter.write_line(
            f"vertex-conformance: {line or 'no conformance tests'}; "
            f"report: {Path(self.cfg.report_dir) / 'results.json'}"
        )
