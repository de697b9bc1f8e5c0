"""The ``conformance`` fixture's object: what a suite test drives.

A test builds a call for a target (``gemini``/``endpoint``), sends it in a lane (``send``) and
judges what came back (``verify``). Judging folds every check, the shape snapshot and the
cassette's own rules into one record per test, applies the expectations, and ends the test with
its outcome: pass, fail, known deviation (xfail), unexpected pass, unsupported, infra or error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from . import auth, expectations, lanes, recording, resilience, shapes, stash, targets
from .assembly import assemble
from .budget import TokenBudget, token_counts
from .checks import evaluate, failures
from .config import RunConfig
from .exchange import Exchange
from .findings import Finding
from .outcomes import Outcome, worst
from .paths import FIXTURES
from .requirements import CASSETTE_ALL_PLAYED, CASSETTE_FRESH, HTTP_SUCCESS, SNAPSHOT_SHAPE

_EXCERPT = 2000  # characters of each request and response body kept in a test's evidence


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
        self.request.node.stash[stash.RESULT] = self.record

    # building calls

    def _body(
        self, body: str | dict[str, Any], stream: bool, model: str | None, image: bool = False
    ) -> dict[str, Any]:
        """The request body: a file of fixtures/requests (by name) or a dict, plus model and stream,
        and a small ``max_tokens`` so a live run stays cheap. Not for the image form: one image
        alone is more output tokens than a text answer needs, and a cap would cut it."""
        if isinstance(body, str):
            body = json.loads((FIXTURES / "requests" / f"{body}.json").read_text(encoding="utf-8"))
        body = {"model": model, **body} if model else dict(body)
        if not image:
            body.setdefault("max_tokens", self.request.config.getoption("max_output_tokens"))
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
        return self._call(base, self._body(body, stream, model, image), parse_with)

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
        timeouts, policy = self.request.config.stash[stash.PATIENCE]
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
        budget = self.request.config.stash[stash.BUDGET]
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
                resilience.evidence(exchange, self.config.secrets()) + (f" ({attempts})" if attempts else "")
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
        listed = self.request.config.stash.get(stash.EXPECTATIONS, [])
        outcomes, applied = expectations.judge(
            {rid: not f for rid, f in results.items()}, self.record, listed
        )
        outcome = worst(list(outcomes.values()))
        found = failures(results)
        evidence = [_evidence(e, self.config.secrets()) for e in exchanges]
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
            known = [rid for rid, o in outcomes.items() if o is Outcome.KNOWN_DEVIATION]
            reason = "known deviation: " + "; ".join(f"[{rid}] {applied[rid].reason}" for rid in known)
            # pytest.xfail() asks for a Python traceback, which pytest renders (reading and parsing the
            # source of every frame) only to drop it; the reason is the whole message here.
            raise pytest.xfail.Exception(reason, pytrace=False)

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
