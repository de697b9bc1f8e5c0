"""When a check applies: small predicates over the check context, shared by the check modules."""

from __future__ import annotations

from ..vocabulary import Profile
from . import Context


def streamed(ctx: Context) -> bool:
    return ctx.exchange.streamed


def succeeded(ctx: Context) -> bool:
    """A 2xx answer, or one whose status is unknown (traffic handed to ``check`` from a log)."""
    return ctx.exchange.status == 0 or 200 <= ctx.exchange.status < 300


def streamed_ok(ctx: Context) -> bool:
    return streamed(ctx) and succeeded(ctx)


def plain_ok(ctx: Context) -> bool:
    """A non-streamed successful answer whose body is a JSON object (anything else is response.json's)."""
    return (
        not streamed(ctx)
        and succeeded(ctx)
        and not is_error_body(ctx)
        and isinstance(ctx.exchange.body, dict)
    )


def is_error_body(ctx: Context) -> bool:
    """An error answer: a 4xx/5xx status, or (status unknown) a body shaped like an error."""
    if ctx.exchange.streamed:
        return False
    if ctx.exchange.status >= 400:
        return True
    body = ctx.exchange.body
    return ctx.exchange.status == 0 and (
        (isinstance(body, dict) and "error" in body and "choices" not in body) or isinstance(body, list)
    )


def answered(ctx: Context) -> bool:
    """A successful answer with something to judge: a JSON object body, or a stream with chunks
    (an empty or non-JSON answer is reported once, by stream.not-empty or response.json)."""
    return plain_ok(ctx) or (streamed_ok(ctx) and bool(ctx.chunks))


def vertex(ctx: Context) -> bool:
    return ctx.profile == Profile.VERTEX


def openai(ctx: Context) -> bool:
    return ctx.profile == Profile.OPENAI
