"""The LangChain client lane's driver: ``langchain_openai.ChatOpenAI`` pointed at the call's base URL the
way LangChain's documentation calls an OpenAI-compatible endpoint, and what its user gets back
(``client_call``'s contract).

The call is built the documented way: the model's settings (``max_tokens``, ``extra_body``,
``stream_usage`` for ``stream_options.include_usage``) on ``ChatOpenAI``, ``.bind_tools(tools)``
for tools, ``.bind(...)`` for every other parameter, and for structured output
``.with_structured_output(Model, method="json_schema", strict=True, include_raw=True)`` (the raw
message is what the view reads; ``parsed`` what LangChain parsed). ``.invoke(messages)``, or for a
stream ``.stream(messages)`` summed as LangChain's documentation shows (``full = chunks[0]; for c in
chunks[1:]: full += c``): what that sum makes of the chunks is what LangChain's users get.

Messages go as OpenAI dicts; LangChain refuses one without ``content`` (the documented tool-call
turn has none), so such a message is given ``"content": ""``. Body keys the openai SDK does not
name go in ``extra_body``, as ``ChatOpenAI`` passes them. LangSmith tracing is switched off: it
would send the conversation to LangChain's servers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from vertex_conformance.client_call import (
    ClientCall,
    ClientResult,
    ClientUnavailable,
    ClientView,
    ToolCallView,
    error_of,
    installed_version,
    jsonable,
    not_installed,
    signature_in,
    text_of,
)

PACKAGE = "langchain-openai"
MODULE = "langchain_openai"
# ChatOpenAI settings whose value the call's description shows; the others are written ``name=…``
_SHOWN = frozenset({"model", "max_tokens", "max_retries", "stream_usage"})


def unavailable() -> str | None:
    return not_installed(PACKAGE, MODULE)


def version() -> str | None:
    return installed_version(PACKAGE)


def drive(call: ClientCall) -> ClientResult:
    """Make ``call`` with LangChain's ``ChatOpenAI`` and report what its user gets, or what it raised.
    Raises ``ClientUnavailable`` when langchain-openai is not installed."""
    reason = unavailable()
    if reason is not None:
        raise ClientUnavailable(reason)
    os.environ["LANGSMITH_TRACING"] = "false"
    os.environ["LANGCHAIN_TRACING_V2"] = "false"
    plan = _Plan.of(call)
    try:
        model = plan.model()
        result = _summed(list(model.stream(plan.messages))) if call.streamed else model.invoke(plan.messages)
    except Exception as exc:  # whatever LangChain raises is what its user gets: the lane reports it
        return ClientResult(plan.described(), version(), error=error_of(exc))
    return ClientResult(plan.described(), version(), view=_view(result))


@dataclass(frozen=True)
class _Plan:
    """The call as a LangChain user writes it: the model's settings, what is bound to it, and the
    messages; taken apart before anything is called, so even a refused setting has its description."""

    call: ClientCall
    settings: dict[str, Any]
    tools: list[Any] | None
    bound: dict[str, Any]
    messages: list[Any]

    @classmethod
    def of(cls, call: ClientCall) -> _Plan:
        from vertex_conformance.lanes import sdk_kwargs

        body = call.body
        params = sdk_kwargs({k: v for k, v in body.items() if k not in ("model", "messages", "stream")})
        del params["model"]
        settings: dict[str, Any] = {
            "base_url": call.base_url,
            "api_key": call.api_key,
            "model": body.get("model", ""),
            "max_retries": 0,  # the gateway retries as every lane does; a client retry would hide it
            "timeout": call.timeout_s,
        }
        for name in ("max_tokens", "extra_body"):
            if name in params:
                settings[name] = params.pop(name)
        options = params.get("stream_options")
        if isinstance(options, dict) and set(options) == {"include_usage"}:
            settings["stream_usage"] = bool(params.pop("stream_options")["include_usage"])
        if call.parse_with is not None:
            params.pop("response_format", None)  # with_structured_output makes it from the model
        messages = [{"content": "", **message} for message in body.get("messages", [])]
        return cls(call, settings, params.pop("tools", None), params, messages)

    def model(self) -> Any:
        """The runnable: ``ChatOpenAI`` with the tools and parameters bound, structured where asked."""
        from langchain_openai import ChatOpenAI

        model: Any = ChatOpenAI(**self.settings)
        if self.tools is not None:
            model = model.bind_tools(self.tools)
        if self.bound:
            model = model.bind(**self.bound)
        if self.call.parse_with is not None:
            model = model.with_structured_output(
                self.call.parse_with, method="json_schema", strict=True, include_raw=True
            )
        return model

    def described(self) -> str:
        """The call as its user writes it, values other than the shown settings elided."""
        steps = [_described("ChatOpenAI", self.settings)]
        if self.tools is not None:
            steps.append(".bind_tools(tools)")
        if self.bound:
            steps.append(_described(".bind", self.bound))
        if self.call.parse_with is not None:
            steps.append(
                f".with_structured_output({self.call.parse_with.__name__}, method='json_schema', "
                "strict=True, include_raw=True)"
            )
        steps.append(".stream(messages), chunks summed" if self.call.streamed else ".invoke(messages)")
        if self.messages != self.call.body.get("messages"):
            steps.append(' (messages without "content" given "content": "", which LangChain requires)')
        return "".join(steps)


def _summed(chunks: list[Any]) -> Any:
    """The chunks added up as LangChain's documentation does; ``None`` for a stream without any."""
    if not chunks:
        return None
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    return full


def _described(function: str, arguments: dict[str, Any]) -> str:
    """A call as its user writes it, other values elided: ``f(model='x', base_url=…)``."""
    shown = [f"{key}={value!r}" if key in _SHOWN else f"{key}=…" for key, value in arguments.items()]
    return f"{function}({', '.join(shown)})"


def _view(result: Any) -> ClientView:
    """What a LangChain user reads off the ``AIMessage`` (or the summed ``AIMessageChunk``); for
    structured output, the raw message and what LangChain parsed (a parsing error, which LangChain
    returns rather than raises, stays in ``raw``)."""
    parsed = None
    if isinstance(result, dict):  # with_structured_output(..., include_raw=True)
        message = result.get("raw")
        parsed = jsonable(result.get("parsed"))
        error = result.get("parsing_error")
        raw = {
            "raw": jsonable(message),
            "parsed": parsed,
            "parsing_error": None if error is None else str(error),
        }
    else:
        message = result
        raw = jsonable(message)
    if message is None:
        return ClientView(role=None, content=None, parsed=parsed, raw=raw)
    return ClientView(
        role="assistant" if getattr(message, "type", None) in ("ai", "AIMessageChunk") else message.type,
        content=text_of(message.content),
        tool_calls=_tool_calls(message),
        usage=_usage(getattr(message, "usage_metadata", None)),
        parsed=parsed,
        raw=raw,
    )


def _tool_calls(message: Any) -> list[ToolCallView]:
    """The calls a LangChain user gets: ``tool_calls`` (arguments parsed to a dict: dumped back to JSON
    text) and then ``invalid_tool_calls`` (arguments LangChain could not parse, as their text)."""
    calls = [
        ToolCallView(
            id=call.get("id"),
            name=call.get("name"),
            arguments=json.dumps(call.get("args")),
            thought_signature=_signature(message, call.get("id")),
        )
        for call in message.tool_calls
    ]
    calls += [
        ToolCallView(
            id=call.get("id"),
            name=call.get("name"),
            arguments=call.get("args"),
            thought_signature=_signature(message, call.get("id")),
        )
        for call in getattr(message, "invalid_tool_calls", None) or []
    ]
    return calls


def _signature(message: Any, call_id: Any) -> Any:
    """The ``extra_content.google.thought_signature`` LangChain kept for the call ``call_id``: in the
    wire tool calls of ``additional_kwargs`` or in the stream's ``tool_call_chunks``; ``None`` where
    it dropped it."""
    kept = [
        *((getattr(message, "additional_kwargs", None) or {}).get("tool_calls") or []),
        *(getattr(message, "tool_call_chunks", None) or []),
    ]
    for entry in kept:
        if isinstance(entry, dict) and entry.get("id") == call_id:
            found = signature_in(entry)
            if found is not None:
                return found
    return None


def _usage(usage: Any) -> dict[str, Any] | None:
    """LangChain's ``usage_metadata`` in the contract's names (``None``: LangChain reports none)."""
    if not usage:
        return None
    return {
        "prompt_tokens": usage.get("input_tokens"),
        "completion_tokens": usage.get("output_tokens"),
        "total_tokens": usage.get("total_tokens"),
    }
