"""When a client's request means the same as a recorded one: ``vertex-conformance serve``'s rule.

Real clients do not send the bytes the suite recorded. LangChain sends ``max_completion_tokens``
and ``"stream": false``; LiteLLM's ``vertex_ai/openai/`` route sends ``max_output_tokens``,
``"stream": false`` and, on a self-deployed endpoint, ``"model": ""``; clients add
``stream_options`` or leave the token limit out. Matched byte for byte, none of them would get an
answer from the recordings, so ``serve`` (``--match meaning``, its default) compares bodies after
these equivalences, and only these:

1. **One token limit.** ``max_tokens``, ``max_completion_tokens`` and ``max_output_tokens`` are one
   field under three names. A request that names none matches a recording with any limit (it left
   the limit to the server); a request that names one matches only a recording with the same value
   under any of the names. Two names with different values in one request match nothing.
2. **``"stream": false`` is no ``stream``**: both ask for one JSON answer.
3. **``stream_options`` is not compared.** The answer is the recording: Vertex reports ``usage`` on
   the last chunk of every stream whatever ``include_usage`` says (docs/spec.md), and the recorded
   streams carry it there. ``serve`` never invents or removes a chunk; it warns (a header) when a
   request asks for usage that its recording does not hold.
4. **``"model": ""`` is no ``model`` on a self-deployed endpoint** (an ``endpoints/{ENDPOINT}``
   path, where the endpoint, not the body, names the model). On ``endpoints/openapi`` an empty
   model is a different request.

Everything else must be the same JSON (``json_equality``: ``1`` is ``1.0``, ``true`` is not ``1``),
above all where ``extra_body`` and ``extra_content`` sit: a body whose ``extra_body`` moved (its
``google`` object at the top level, or the reverse) is a different request, because that placement
is what the suite checks. The rule touches top-level fields only. ``--match exact`` compares the
bodies as they are.

The suite's own replay (``recording.json_body``) does not use this rule, on purpose: there the
lanes are under test, and an SDK that starts sending ``max_completion_tokens`` or ``"stream":
false`` where the raw lane sends ``max_tokens`` is a change the SDK gate must report, not absorb.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .json_equality import Difference, same
from .json_equality import differences as json_differences

TOKEN_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
SELF_DEPLOYED = "/endpoints/{ENDPOINT}/"  # in a path with placeholders (recording.with_placeholders)


class Rule(StrEnum):
    """How ``serve`` compares a request's body with the recorded ones (``--match``)."""

    MEANING = "meaning"
    EXACT = "exact"


@dataclass(frozen=True)
class Body:
    """A body as ``rule`` compares it: ``value`` after the equivalences, and ``limit``, the one name
    its token limit goes by (None when it sets none)."""

    value: Any
    limit: str | None
    rule: Rule


def prepare(body: Any, path: str, rule: Rule) -> Body:
    """``body``, sent to ``path`` (placeholders applied), as ``rule`` compares it. Copies the top
    level only; a body that is not a JSON object is compared as it is."""
    if rule is Rule.EXACT or not isinstance(body, dict):
        return Body(body, None, rule)
    value = dict(body)
    if value.get("stream") is False:
        del value["stream"]
    value.pop("stream_options", None)
    if value.get("model") == "" and SELF_DEPLOYED in path:
        del value["model"]
    names = [name for name in TOKEN_LIMITS if name in value]
    if len(names) > 1 and all(same(value[name], value[names[0]]) for name in names):
        for name in names[1:]:
            del value[name]  # one limit, spelled several ways: keep the first spelling
        names = names[:1]
    return Body(value, names[0] if names else None, rule)


def counterpart(recorded: Body, request: Body) -> Any:
    """The recorded body as it is compared with ``request``: its token limit left out when the
    request sets none, and spelled as the request spells it otherwise."""
    if request.rule is Rule.EXACT or recorded.limit is None or not isinstance(recorded.value, dict):
        return recorded.value
    value = dict(recorded.value)
    limit = value.pop(recorded.limit)
    if request.limit is not None:
        value[request.limit] = limit
    return value


def matches(recorded: Body, request: Body) -> bool:
    """Whether ``request`` asks what ``recorded`` asked, by the rule."""
    return same(counterpart(recorded, request), request.value)


def differences(recorded: Body, request: Body) -> list[Difference]:
    """Every place where the two differ by the rule; empty when they match."""
    return json_differences(counterpart(recorded, request), request.value)


def asks_for_usage(body: Any) -> bool:
    """Whether ``body`` sets ``stream_options.include_usage`` to true."""
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True
