"""The words of the suite, in one place: modes, targets, profiles, outcomes, forms and lanes.

Every option value, expectation field, report reader and suite parameter is checked against these
sets, so a typo (``--mode replya``, a lane ``skd`` in an expectations file) stops the run with one
line naming the choices instead of silently meaning something else. Nothing here imports an HTTP
library or an SDK: the command line reads this module on its fast path, and a lane's code is
found through its record only when the lane runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar


class UnknownWord(ValueError):
    """A value outside the vocabulary; the message names the word, where it came from and the choices."""


class Mode(StrEnum):
    """Where the answers come from."""

    REPLAY = "replay"  # the shipped recordings only, network blocked
    RECORD = "record"  # live, and the recordings are written
    LIVE = "live"  # live, nothing written

    @property
    def sends(self) -> bool:
        """Whether requests reach a real server (and so need credentials and cost tokens)."""
        return self is not Mode.REPLAY

    @property
    def cassettes(self) -> bool:
        """Whether the run reads or writes cassettes."""
        return self is not Mode.LIVE


class Target(StrEnum):
    """What kind of endpoint the requests go to."""

    GEMINI = "gemini"  # a Gemini model through endpoints/openapi
    ENDPOINT = "endpoint"  # a self-deployed model: endpoints/{ENDPOINT_ID}


class Profile(StrEnum):
    """The contract a response is held to."""

    VERTEX = "vertex"  # the documented Vertex behaviour, extensions declared and closed
    OPENAI = "openai"  # OpenAI's published contract; Vertex's differences are named deviations


API_VERSIONS = ("v1", "v1beta1")


class Outcome(StrEnum):
    """A test's outcome, and (``REQUIREMENT_VERDICTS``) a requirement's verdict within a test."""

    PASS = "pass"
    FAIL = "fail"
    KNOWN_DEVIATION = "known-deviation"  # an expected failure listed in expectations/
    UNEXPECTED_PASS = "unexpected-pass"  # a listed deviation that no longer happens
    UNSUPPORTED = "unsupported"  # the target does not offer the form
    INFRA = "infra"  # 429, 5xx, timeout, dropped connection: neither pass nor conformance failure
    ERROR = "error"  # the harness itself broke (missing cassette, bad fixture)
    NOT_APPLICABLE = "not-applicable"  # a requirement's check had nothing to evaluate: never a pass


# What one requirement can come to inside a judged test (results.json ``requirements`` values).
REQUIREMENT_VERDICTS = (
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.KNOWN_DEVIATION,
    Outcome.UNEXPECTED_PASS,
    Outcome.NOT_APPLICABLE,
)
# When several requirements of one test differ, the test takes the most severe outcome (a test whose
# every requirement had nothing to evaluate is not applicable as a whole: it proved nothing).
SEVERITY = (
    Outcome.NOT_APPLICABLE,
    Outcome.PASS,
    Outcome.UNSUPPORTED,
    Outcome.KNOWN_DEVIATION,
    Outcome.UNEXPECTED_PASS,
    Outcome.INFRA,
    Outcome.FAIL,
    Outcome.ERROR,
)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=SEVERITY.index, default=Outcome.PASS)


# The documented forms, in the order of the Vertex page, with the names people know them by.
FORMS: dict[str, str] = {
    "plain": "Plain chat",
    "streaming": "Streaming",
    "self-deployed": "Self-deployed endpoint",
    "global": "Global endpoint",
    "v1beta1": "v1beta1 API",
    "extra-body": "extra_body",
    "extra-content": "extra_content",
    "thinking": "Thinking",
    "function-call-arguments": "Streamed function-call arguments",
    "image-output": "Image output",
    "multimodal-input": "Multimodal input",
    "multimodal-function-response": "Multimodal function response",
    "structured-output": "Structured output",
}
# Tests that are not one documented form: lane parity across forms, and the probes of reported behaviour.
OTHER_FORMS: dict[str, str] = {
    "lane-parity": "Lane parity (every lane sends the same body)",
    "probe-error-body": "Probe: the error body's shape",
    "probe-n-choices": "Probe: several candidates (n > 1)",
    "probe-unknown-field": "Probe: an unknown request field",
    "probe-model-prefix": "Probe: a model id without google/",
    "probe-thought-signature": "Probe: a follow-up without its thought signature",
}
ALL_FORMS = {**FORMS, **OTHER_FORMS}


@dataclass(frozen=True)
class Lane:
    """One client that sends a case: one record says what it is, how it sends and how it reports.

    ``runner`` is ``module:function`` taking ``(call, tokens)`` and returning an ``Exchange``; it is
    imported only when the lane runs (the CLI never pays for it). A client lane also names its
    ``driver`` (a module with ``drive``, ``version`` and ``unavailable``: ``client_call``'s contract),
    which its runner is given as a third argument, and the ``package`` whose version the report names."""

    id: str
    description: str
    runner: str
    sdk: bool = False  # the lane drives the openai Python SDK (its typed view is judged; it can ``parse``)
    driver: str | None = None  # a client lane's driver module (judged by checks.clients)
    package: str | None = None  # the package under test whose version the report names

    @property
    def client(self) -> bool:
        return self.driver is not None

    def send(self, call: Any, tokens: Any) -> Any:
        module, function = self.runner.split(":")
        run: Callable[..., Any] = getattr(importlib.import_module(module), function)
        return run(call, tokens, self) if self.client else run(call, tokens)


_CLIENT_RUNNER = "vertex_conformance.client_lanes:run"
LANES: dict[str, Lane] = {
    lane.id: lane
    for lane in (
        Lane("httpx", "raw HTTP: the exact bytes on the wire", "vertex_conformance.lanes:run_httpx"),
        Lane("sdk", "the openai Python SDK, sync client", "vertex_conformance.lanes:run_sdk", sdk=True),
        Lane(
            "sdk-async",
            "the openai Python SDK, async client",
            "vertex_conformance.lanes:run_sdk_async",
            sdk=True,
        ),
        Lane(
            "openai-node",
            "the openai Node SDK: create, stream().finalChatCompletion(), parse",
            _CLIENT_RUNNER,
            driver="vertex_conformance.client_node",
            package="openai-node",
        ),
        Lane(
            "litellm",
            "LiteLLM: completion (openai/ route; vertex_ai/openai/ for a self-deployed endpoint), "
            "stream_chunk_builder",
            _CLIENT_RUNNER,
            driver="vertex_conformance.client_litellm",
            package="litellm",
        ),
        Lane(
            "langchain-openai",
            "LangChain's ChatOpenAI: invoke, stream (chunks summed), bind_tools, with_structured_output",
            _CLIENT_RUNNER,
            driver="vertex_conformance.client_langchain",
            package="langchain-openai",
        ),
    )
}
SUITE_LANES = tuple(LANES)  # what the suites run, in the page's column order
SDK_LANES = tuple(lane.id for lane in LANES.values() if lane.sdk)
CLIENT_LANES = tuple(lane.id for lane in LANES.values() if lane.client)


def lane(lane_id: str) -> Lane:
    """The lane called ``lane_id``; an unknown id is an error, never a fallback to some other lane."""
    return LANES[choose(lane_id, LANES, "lane")]


W = TypeVar("W", bound=str)


def choose(value: Any, choices: Iterable[W], what: str, where: str = "") -> W:
    """``value`` as the member of ``choices`` it names, or ``UnknownWord`` saying what the choices are."""
    options = list(choices)
    for option in options:
        if value == option:
            return option
    place = f" ({where})" if where else ""
    raise UnknownWord(f"unknown {what} {value!r}{place}: use one of {', '.join(map(str, options))}")
