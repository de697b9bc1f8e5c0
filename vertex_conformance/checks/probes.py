"""Probes of behaviour users reported (docs/spec.md#reported-behaviour): none is documented,
so each is held to OpenAI's contract, the baseline where the seed page is silent. They apply only
to requests that take the reported path (n > 1, an OpenAI-only field, a bare model id, a follow-up
without a thought signature); the ``probe`` tier sends those requests on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..extensions import google
from ..requirements import Source
from . import Context, Violation, check
from ._predicates import answered, is_error_body

REPORTED = "docs/spec.md#reported-behaviour"
# OpenAI request fields Vertex is not documented to take; a compatible server ignores what it cannot honour.
OPENAI_ONLY_FIELDS = ("service_tier", "store", "metadata", "prediction", "safety_identifier")


def _request(ctx: Context) -> dict[str, Any]:
    return ctx.request if isinstance(ctx.request, dict) else {}


def _status_problem(ctx: Context, what: str) -> Iterator[Violation]:
    if not answered(ctx):
        message = (
            ctx.exchange.body.get("error", {}) if isinstance(ctx.exchange.body, dict) else ctx.exchange.body
        )
        yield "$.status", f"{what} was answered {ctx.exchange.status}: {str(message)[:200]}"


@check(
    "probe.n-choices",
    "A request with n > 1 is answered with n choices.",
    Source.REPORTED,
    f"{REPORTED}: n > 1 rejected on some models; OpenAI CreateChatCompletionRequest.n",
    applies=lambda ctx: isinstance(_request(ctx).get("n"), int) and _request(ctx)["n"] > 1,
)
def n_choices(ctx: Context) -> Iterator[Violation]:
    wanted = _request(ctx)["n"]
    problems = list(_status_problem(ctx, f"n = {wanted}"))
    if problems:
        yield from problems
        return
    got = len(list(ctx.answer_messages()))
    if got != wanted:
        yield "$.response.choices", f"asked for {wanted} choices, got {got}"


@check(
    "probe.unknown-fields-ignored",
    "A request with an OpenAI field Vertex does not document is answered, the field ignored.",
    Source.REPORTED,
    f"{REPORTED}: unknown OpenAI fields can be rejected with 400 instead of ignored",
    applies=lambda ctx: any(field in _request(ctx) for field in OPENAI_ONLY_FIELDS),
)
def unknown_fields_ignored(ctx: Context) -> Iterator[Violation]:
    fields = [field for field in OPENAI_ONLY_FIELDS if field in _request(ctx)]
    yield from _status_problem(ctx, f"a request with {', '.join(fields)}")


def _unsigned_follow_up(ctx: Context) -> bool:
    """The request sends back an assistant turn whose (first) tool call lost its thought_signature."""
    return any(
        isinstance(message, dict)
        and message.get("role") == "assistant"
        and isinstance(message.get("tool_calls"), list)
        and message["tool_calls"]
        and "thought_signature" not in google(message["tool_calls"][0])
        for message in _request(ctx).get("messages") or []
    )


@check(
    "probe.follow-up-without-signature",
    "A follow-up turn whose tool call carries no thought_signature (as OpenAI clients send it) is answered.",
    Source.REPORTED,
    f"{REPORTED}: a follow-up that drops the thought_signature is rejected with 400 on newer models",
    applies=_unsigned_follow_up,
)
def follow_up_without_signature(ctx: Context) -> Iterator[Violation]:
    yield from _status_problem(ctx, "a follow-up without a thought_signature")


def _bare_model(ctx: Context) -> bool:
    model = _request(ctx).get("model")
    return isinstance(model, str) and not model.startswith("google/")


@check(
    "probe.bare-model-error",
    "A model id without the google/ prefix is served, or refused with a 4xx error that names the model.",
    Source.REPORTED,
    f"{REPORTED}: a model id without the google/ prefix gives 404 'Publisher Model … was not found'",
    applies=_bare_model,
)
def bare_model_error(ctx: Context) -> Iterator[Violation]:
    if answered(ctx):
        return
    if not is_error_body(ctx) or not 400 <= ctx.exchange.status < 500:
        yield "$.status", f"a bare model id was answered {ctx.exchange.status} without a 4xx error body"
        return
    body = ctx.exchange.body
    error = body[0] if isinstance(body, list) and body else body
    message = (error or {}).get("error", {}).get("message", "") if isinstance(error, dict) else ""
    model = _request(ctx)["model"]
    if model not in str(message):
        yield "$.error_body.error.message", f"the error does not name {model!r}: {str(message)[:200]!r}"
