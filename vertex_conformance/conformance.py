"""The ``conformance`` fixture's object: what a suite test drives.

A test builds a call for a target (``gemini``/``endpoint``), sends it in a lane (``send``) and asks
for its verdict (``verify``). This object builds, sends and keeps the test's facts (what was
called, the cassette, tokens, timing); the verdict itself comes from the pure ``judge``. It ends
the test with its outcome: pass, fail, known deviation (xfail), unexpected pass, unsupported,
infra or error, and leaves the test's typed record where the collector finds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import orjson
import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from . import auth, evidence, lanes, recording, resilience, shapes, stash, targets, versions
from .assembly import assemble
from .budget import token_counts
from .checks.parity import SAME_WIRE_BODY, body_findings
from .client_call import ClientUnavailable, NotReplayable
from .config import ConfigError, RunConfig
from .exchange import Exchange
from .expectations import untargeted
from .findings import Finding
from .judge import Case, judge
from .paths import FIXTURES, shown
from .requirements import CASSETTE_ALL_PLAYED, CASSETTE_FRESH, SNAPSHOT_SHAPE
from .results import TestRecord
from .scrub import Scrubber
from .vocabulary import Lane, Mode, Outcome, Target, lane

if TYPE_CHECKING:
    from .prefetch import Prefetcher
    from .targets_file import Target as RunTarget

_WHY_CHARS = 800  # of a transport fault's line: the fault, what arrived, the exceptions, the attempts


@dataclass
class Conformance:
    """What a suite test drives: build a call for a target, send it in a lane, verify the exchange."""

    request: pytest.FixtureRequest
    config: RunConfig
    tokens: Any
    snapshot: Any
    draft: stash.Draft = field(init=False)
    prefetcher: Prefetcher | None = None  # live/record with --concurrency > 1: the sends made ahead
    target: RunTarget | None = None  # --targets: the entry this test runs against (``config`` is its own)

    def __post_init__(self) -> None:
        marker = self.request.node.get_closest_marker("form")
        callspec = getattr(self.request.node, "callspec", None)
        self.draft = stash.Draft(
            {
                "nodeid": self.request.node.nodeid,
                "form": marker.args[0] if marker else None,
                "lane": callspec.params.get("lane") if callspec else None,
                "mode": self.config.mode,
                "profile": self.config.profile,
            }
        )
        if self.target is not None:
            self.facts["target_name"] = self.target.name
        self.request.node.stash[stash.RESULT] = self.draft

    @property
    def facts(self) -> dict[str, Any]:
        return self.draft.facts

    @property
    def scrubber(self) -> Scrubber:
        return self.request.config.stash[stash.SCRUBBER]

    # building calls

    def _body(
        self, body: str | dict[str, Any], stream: bool, model: str | None, image: bool = False
    ) -> dict[str, Any]:
        """The request body: a file of fixtures/requests (by name) or a dict, plus model and stream,
        and a small ``max_tokens`` so a live run stays cheap. Not for the image form: one image
        alone is more output tokens than a text answer needs, and a cap would cut it."""
        if isinstance(body, str):
            body = orjson.loads((FIXTURES / "requests" / f"{body}.json").read_bytes())
        body = {"model": model, **body} if model else dict(body)
        if not image:
            body.setdefault("max_tokens", self.config.max_output_tokens)
        if stream:
            body["stream"] = True
        return body

    def _describe(self, target: Target, stream: bool, location: str | None, api_version: str | None) -> None:
        self.facts.update(
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
        if self.config.target is not Target.GEMINI:
            self._end(
                Outcome.UNSUPPORTED,
                "the target is a self-deployed endpoint; this form needs endpoints/openapi",
            )
        self._describe(Target.GEMINI, stream, location, api_version)
        base = targets.openapi_base_url(self.config, location=location, api_version=api_version)
        model = targets.wire_model(self.config, image=image)
        return self._call(base, self._body(body, stream, model, image), parse_with)

    def endpoint(
        self, body: str, *, stream: bool, location: str | None = None, api_version: str | None = None
    ) -> lanes.Call:
        """A call to a self-deployed model: ``endpoints/{ENDPOINT}``, no ``model`` in the body."""
        if self.config.endpoint_id is None:
            self._end(Outcome.UNSUPPORTED, "no --endpoint-id given for the self-deployed endpoint form")
        self._describe(Target.ENDPOINT, stream, location, api_version)
        base = targets.endpoint_base_url(self.config, location=location, api_version=api_version)
        return self._call(base, self._body(body, stream, None), None)

    def _call(self, base: str, body: dict[str, Any], parse_with: type | None) -> lanes.Call:
        return lanes.Call(
            base,
            body,
            parse_with=parse_with,
            timeouts=self.config.timeouts(),
            retry=self.config.retry_policy(),
            max_response_bytes=self.config.max_response_bytes,
        )

    # sending

    def _cassette(self) -> Any:
        return self.request.getfixturevalue("vcr") if self.config.mode.cassettes else None

    def _require_cassette(self) -> None:
        cassette = self._cassette()
        if cassette is None or self.config.mode is not Mode.REPLAY:
            return
        path = Path(cassette._path)
        self.facts["cassette"] = {"path": shown(path)}
        if not path.is_file():
            self._end(
                Outcome.ERROR,
                f"no cassette {shown(path)}; record it with: pytest '{self.request.node.nodeid}' "
                "--mode record --project YOUR_PROJECT"
                + (f" --targets {shown(self.config.targets)}" if self.config.targets else "")
                + " (see README, 'Recording')",
            )
        meta = recording.read_meta(path)
        self.facts["cassette"].update(source=meta.get("source"), recorded_at=meta.get("recorded_at"))

    def send(self, lane_id: str, call: lanes.Call) -> Exchange:
        """Send ``call`` in the lane ``lane_id``. A request the cassette does not hold, an answer
        that did not arrive whole (``lanes.TransportError``: the one classification every lane
        shares), or a rate limit or server error that outlasted the retries ends the test here with
        a named outcome (error or infra) instead of a traceback. Credentials the server refuses
        after the one refresh, or a refresh that fails, end the whole run: every later test would
        fail the same way and say nothing about conformance."""
        chosen = lane(lane_id)
        self.facts["lane"] = self.facts.get("lane") or chosen.id
        if chosen.client:
            call = self._client_call(chosen, call)
        else:
            self._require_cassette()
        budget = self.request.config.stash[stash.BUDGET]
        ahead = self.prefetcher.take(self.request, chosen.id, call) if self.prefetcher else None
        # spent (and nothing sent ahead): the test is not run; the report lists it under incomplete.not_run
        if ahead is None and not budget.reserve():
            self.request.session.shouldstop = f"the token budget of {budget.max_total_tokens} is spent"
            self.draft.not_run = True
            pytest.skip(f"not run: the --max-total-tokens budget ({budget.max_total_tokens}) is spent")
        try:
            exchange = ahead.result() if ahead is not None else self._send_here(chosen, call)
        except ConfigError as exc:  # a credential refresh failed; auth.ScrubbedTokens scrubbed the line
            self._stop(str(exc))
        except ClientUnavailable as exc:
            self._end(Outcome.UNSUPPORTED, str(exc))
        except NotReplayable as exc:
            self._judge_request_only(chosen, call, exc)
        except (CannotOverwriteExistingCassetteException, lanes.TransportError, httpx.HTTPError) as exc:
            text = str(exc).strip()
            message = text.splitlines()[0][:_WHY_CHARS] if text else type(exc).__name__
            if self.config.mode is Mode.REPLAY:
                self._end(
                    Outcome.ERROR,
                    f"not in the cassette: {message}",
                    f"the request is not the one recorded in the cassette ({message}); if the change is "
                    "deliberate, re-record with --mode record",
                )
            self._end(Outcome.INFRA, message)
        else:
            usage = self._account(exchange)
            if ahead is None:  # a send made ahead was paid for when its answer came
                budget.spend(usage)
        finally:  # after the spend: in between, both count, so no other sender is let in on them
            if ahead is None:
                budget.release()
        if exchange.status == httpx.codes.UNAUTHORIZED and self.tokens is not None:
            self._stop(f"{auth.refusal(self.tokens)} ({resilience.evidence(exchange, self.scrubber)})")
        if resilience.classify(exchange):
            attempts = exchange.notes.get("attempts")
            self._end(
                Outcome.INFRA,
                resilience.evidence(exchange, self.scrubber) + (f" ({attempts})" if attempts else ""),
            )
        return exchange

    def _send_here(self, chosen: Lane, call: lanes.Call) -> Exchange:
        """Send from the test itself: no prefetcher, a test it did not send ahead, or a miss (then
        the prefetcher sends, so record mode writes the cassette from what this test sent)."""
        if self.prefetcher is None:
            return chosen.send(call, self.tokens)
        return self.prefetcher.send_here(self.request, chosen, call, self.tokens)

    def _client_call(self, chosen: Lane, call: lanes.Call) -> lanes.Call:
        """A client lane records nothing: in replay its gateway answers from the raw lane's cassette
        of this test (the same test id with the ``httpx`` lane), which must exist."""
        if self.config.mode is not Mode.REPLAY:
            return call
        own = self.request.getfixturevalue("default_cassette_name")  # without a --targets target
        name = re.sub(rf"(?<=[\[-]){re.escape(chosen.id)}(?=[\]-])", "httpx", own)
        path = Path(self.request.getfixturevalue("vcr_cassette_dir")) / f"{name}.yaml"
        self.facts["cassette"] = {"path": shown(path)}
        if not path.is_file():
            self._end(
                Outcome.ERROR,
                f"no cassette {shown(path)} (the raw lane's, which the {chosen.id} lane replays); record "
                f"the httpx lane of this test with --mode record (see README, 'Recording')",
            )
        meta = recording.read_meta(path)
        self.facts["cassette"].update(source=meta.get("source"), recorded_at=meta.get("recorded_at"))
        return replace(call, replay_from=path)

    def _stop(self, why: str) -> NoReturn:
        """End the run after this test (infra): the collector writes the reports as incomplete,
        exit 2, and the run's last line gives ``why``."""
        line = self.scrubber.scrub(" ".join(why.split()))
        self.request.session.shouldstop = line
        self._end(Outcome.INFRA, line)

    def _end(self, outcome: Outcome, why: str, shown: str | None = None) -> NoReturn:
        """End the test before any verdict: unsupported (a skip), infra or error (a failure)."""
        key = "reason" if outcome is Outcome.UNSUPPORTED else "error"
        self.draft.record = TestRecord(outcome=outcome, **{**self.facts, key: why})
        if outcome is Outcome.UNSUPPORTED:
            pytest.skip(f"unsupported: {why}")
        prefix = "infra (not a conformance verdict): " if outcome is Outcome.INFRA else ""
        pytest.fail(prefix + (shown or why), pytrace=False)

    def _account(self, exchange: Exchange) -> Any:
        """Tokens for the report (returns the usage, for the budget); latency figures only when live
        (a recorder buffers the stream)."""
        usage = answer_usage(exchange)
        counts = token_counts(usage)
        tokens = self.facts.setdefault("tokens", dict.fromkeys(counts, 0))
        for key, value in counts.items():
            tokens[key] += value
        timing = exchange.notes.pop("timing", None)
        if self.config.mode is Mode.LIVE and timing is not None:
            if exchange.streamed:
                timing["chunks"] = len(exchange.chunks)
            self.facts.setdefault("timing", []).append(timing)
        return usage

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
        harness = {
            **self._client_bodies(exchanges),
            **(also or {}),
            **self._snapshot(exchanges),
            **self._cassette_rules(),
        }
        self._conclude(exchanges, harness, by_design)

    def _judge_request_only(self, chosen: Lane, call: lanes.Call, exc: NotReplayable) -> NoReturn:
        """Replay, a client lane: the client changed the request beyond what the raw lane's recording
        answers (``matching``'s rule), so the answer it would get is unknown. What it sent is judged
        against the documented body (``lanes.same-wire-body``, with the replay's miss as evidence);
        nothing else is."""
        found = body_findings(call.body, exc.request.body, chosen.id)
        findings = found[SAME_WIRE_BODY.id] or [Finding(SAME_WIRE_BODY.id, "$.request", str(exc))]
        self.facts.setdefault("notes", {})["not_replayable"] = self.scrubber.scrub(str(exc))[:_WHY_CHARS]
        shown = evidence.request_excerpt(chosen.id, exc.request, self.scrubber)
        self._conclude((), {SAME_WIRE_BODY.id: findings}, evidence_of_request=shown)
        raise AssertionError("a request with findings cannot pass")  # _conclude failed or xfailed it

    def _conclude(
        self,
        exchanges: tuple[Exchange, ...],
        harness: dict[str, list[Finding]],
        by_design: tuple[str, ...] = (),
        evidence_of_request: dict[str, Any] | None = None,
    ) -> None:
        """Judge and record the test; fail it naming each violated requirement, xfail it when it only
        shows known deviations."""
        case = Case(  # an entry's `tests` filter names tests as a run without --targets does
            nodeid=untargeted(self.facts["nodeid"], self.facts.get("target_name")),
            profile=self.config.profile,
            form=self.facts.get("form"),
            lane=self.facts.get("lane"),
            streamed=self.facts.get("streamed"),
            probe=self.request.node.get_closest_marker("probe") is not None,
            versions=versions.judged(),
        )
        listed = (
            self.target.expectations if self.target else self.request.config.stash.get(stash.EXPECTATIONS, [])
        )
        verdict = judge(case, exchanges, listed, harness=harness, by_design=by_design)
        facts = dict(self.facts)
        notes = {**facts.pop("notes", {}), **{k: v for e in exchanges for k, v in e.notes.items()}}
        excerpts = [evidence.excerpt(e, self.scrubber) for e in exchanges] or [evidence_of_request]
        statuses = [e.status for e in exchanges]
        self.draft.record = TestRecord(
            **facts,
            outcome=verdict.outcome,
            requirements=verdict.requirements,
            findings=verdict.findings,
            expectations={rid: e.to_dict() for rid, e in sorted(verdict.applied.items())},
            observations=verdict.observations,
            status=(statuses[0] if len(statuses) == 1 else statuses) or None,
            evidence=excerpts[0] if len(excerpts) == 1 else excerpts,
            by_design=verdict.by_design,
            notes=notes,
        )
        failing = verdict.failures(self._expectations_file())
        if failing:
            pytest.fail("\n".join(failing), pytrace=False)
        if verdict.outcome is Outcome.KNOWN_DEVIATION:
            # pytest.xfail() asks for a Python traceback, which pytest renders (reading and parsing the
            # source of every frame) only to drop it; the reason is the whole message here.
            raise pytest.xfail.Exception("known deviation: " + verdict.known_deviations(), pytrace=False)

    @staticmethod
    def _client_bodies(exchanges: tuple[Exchange, ...]) -> dict[str, list[Finding]]:
        """A client lane's wire body against the documented one the raw lane sends: each difference
        is a finding (``lanes.same-wire-body``), a documented one a known deviation of that client."""
        found: dict[str, list[Finding]] = {}
        for exchange in exchanges:
            if exchange.expected_body is not None:
                sent = exchange.request.body if exchange.request else None
                for rid, findings in body_findings(exchange.expected_body, sent, exchange.lane).items():
                    found.setdefault(rid, []).extend(findings)
        return found

    def _snapshot(self, exchanges: tuple[Exchange, ...]) -> dict[str, list[Finding]]:
        if lane(self.facts["lane"]).client:  # the answer is the raw lane's: its test holds the shape
            return {}
        shape = [shapes.of(e) for e in exchanges] if len(exchanges) > 1 else shapes.of(exchanges[0])
        if self.snapshot == shape:  # syrupy records the comparison for its session report
            return {SNAPSHOT_SHAPE.id: []}
        message = (
            "the answer's shape differs from the stored snapshot "
            "(run with --snapshot-update to accept a deliberate change)"
        )
        return {SNAPSHOT_SHAPE.id: [Finding(SNAPSHOT_SHAPE.id, "$", message)]}

    def _cassette_rules(self) -> dict[str, list[Finding]]:
        """``cassette.all-played`` on replay; ``cassette.fresh`` when ``--max-cassette-age`` is set."""
        if self.config.mode is not Mode.REPLAY or "cassette" not in self.facts:
            return {}
        cassette = self._cassette()  # None for a client lane, which replays the raw lane's cassette
        unplayed = "the cassette holds recorded interactions this test never played"
        out: dict[str, list[Finding]] = {}
        if cassette is not None:
            out[CASSETTE_ALL_PLAYED.id] = (
                [] if cassette.all_played else [Finding(CASSETTE_ALL_PLAYED.id, "$", unplayed)]
            )
        limit = self.config.max_cassette_age
        recorded = (self.facts.get("cassette") or {}).get("recorded_at")
        if limit is None or not recorded:
            return out
        age = (
            datetime.now(UTC) - datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        ).total_seconds() / 86400
        self.facts["cassette"]["age_days"] = round(age, 4)
        if age <= limit:
            return {**out, CASSETTE_FRESH.id: []}
        message = f"recorded {recorded}, {age:.1f} days ago; --max-cassette-age is {limit:g}: re-record it"
        return {**out, CASSETTE_FRESH.id: [Finding(CASSETTE_FRESH.id, "$.cassette.recorded_at", message)]}

    def _expectations_file(self) -> str:
        own = self.target.expectations_file if self.target else None
        return shown(self.config.expectations) + (f" or {shown(own)}" if own else "")


def answer_usage(exchange: Exchange) -> Any:
    """The ``usage`` an answer reports (a stream's, from its assembled chunks): what the budget counts."""
    if exchange.streamed:
        return assemble(exchange.chunks).usage
    return (exchange.body if isinstance(exchange.body, dict) else {}).get("usage")
