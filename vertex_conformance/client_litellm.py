"""The LiteLLM client lane's driver: ``litellm.completion`` the way LiteLLM's documentation calls an
OpenAI-compatible endpoint, and what its user gets back (``client_call``'s contract).

Two routes, because LiteLLM users reach Vertex's Chat Completions two ways:

- ``openai``: ``model="openai/<model>"`` with ``api_base`` and ``api_key`` (any OpenAI-compatible
  base URL; the route for a Gemini model, whose body names it);
- ``vertex``: ``model="vertex_ai/openai/<endpoint id>"`` with ``vertex_project``,
  ``vertex_location`` and ``vertex_credentials`` (LiteLLM fetches its own token; the route for a
  self-deployed endpoint, whose body names no model). The credentials are a service-account key
  made in memory whose ``token_uri`` is the call's ``token_url``: nothing is written, and the token
  LiteLLM gets is the gateway's, not a real one.

A stream is read to its end and assembled with ``litellm.stream_chunk_builder``, what LiteLLM's
documentation tells users to do with streamed chunks; the view comes from that assembly, so what
it loses (an id, a signature, the usage Vertex sent) is what LiteLLM's users lose.

LiteLLM reaches for the network on its own (a model price list, tokenizers, headers catalogues):
``drive`` switches it to its bundled copies first (``LITELLM_OFFLINE_MODE``,
``LITELLM_LOCAL_MODEL_COST_MAP``). The package is imported inside ``drive`` only: it takes seconds,
and the CLI must start fast.

The helpers at the bottom (``error_of``, ``text_of``, ``signature_in``, ``jsonable``) turn any
Python client's result into the contract's types; the LangChain driver uses them too.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import json
import os
import sys
import types
from typing import Any, Literal

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

PACKAGE = "litellm"
Route = Literal["openai", "vertex"]

# Parameters of litellm.completion that configure the call, never a body key's keyword argument
_NOT_BODY = frozenset(
    {
        "model",
        "messages",
        "timeout",
        "extra_headers",
        "base_url",
        "api_version",
        "api_key",
        "model_list",
        "deployment_id",
        "shared_session",
        "enable_json_schema_validation",
        "kwargs",
    }
)
# Arguments whose value the call's description shows; the others are written ``name=…`` (URLs change
# with the gateway's port, the credentials are no one's business, messages are long)
_SHOWN = frozenset({"model", "max_tokens", "stream", "num_retries", "vertex_project", "vertex_location"})


def unavailable() -> str | None:
    return not_installed(PACKAGE, PACKAGE)


def version() -> str | None:
    return installed_version(PACKAGE)


def drive(call: ClientCall, *, route: Route | None = None) -> ClientResult:
    """Make ``call`` with LiteLLM and report what its user gets, or what LiteLLM raised.

    ``route`` picks the model route (default: ``vertex`` for a self-deployed endpoint, ``openai``
    otherwise; ``tools/capture_client_bodies.py`` captures both routes for every form). Raises
    ``ClientUnavailable`` when LiteLLM is not installed."""
    reason = unavailable()
    if reason is not None:
        raise ClientUnavailable(reason)
    litellm = _import_litellm()
    chosen: Route = route or ("vertex" if call.self_deployed else "openai")
    arguments = _arguments(call, chosen, _named_parameters(litellm.completion))
    description = _described("litellm.completion", arguments, call)
    if call.streamed:
        description += " + litellm.stream_chunk_builder(chunks, messages=messages)"
    try:
        if call.streamed:
            chunks = list(litellm.completion(**arguments))
            result = litellm.stream_chunk_builder(chunks, messages=arguments["messages"])
        else:
            result = litellm.completion(**arguments)
    except Exception as exc:  # whatever LiteLLM raises is what its user gets: the lane reports it
        return ClientResult(description, version(), error=error_of(exc))
    return ClientResult(description, version(), view=_view(result))


def _import_litellm() -> Any:
    """LiteLLM, imported with every lookup it would make on the internet switched to its bundled copy."""
    os.environ["LITELLM_OFFLINE_MODE"] = "true"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    stand_in_vertexai()
    import litellm

    litellm.suppress_debug_info = True  # else every error also prints a "Provider List" link to stdout
    return litellm


def stand_in_vertexai() -> None:
    """LiteLLM's ``vertex_ai/`` routes check that ``google-cloud-aiplatform`` imports and never use it
    on the ``vertex_ai/openai/`` route: where it is not installed, an empty ``vertexai`` module
    stands in (the request is LiteLLM's own either way)."""
    if "vertexai" not in sys.modules and importlib.util.find_spec("vertexai") is None:
        stand_in = types.ModuleType("vertexai")
        stand_in.preview = types.ModuleType("vertexai.preview")  # type: ignore[attr-defined]
        sys.modules["vertexai"] = stand_in


@functools.cache
def _named_parameters(completion: Any) -> frozenset[str]:
    return frozenset(inspect.signature(completion).parameters) - _NOT_BODY


def _arguments(call: ClientCall, route: Route, named: frozenset[str]) -> dict[str, Any]:
    """``litellm.completion``'s keyword arguments for ``call`` on ``route``.

    Body keys ``completion`` names become keyword arguments; every other key goes in
    ``extra_body``, which LiteLLM merges into the JSON as the openai SDK does (so a wire key named
    ``extra_body`` becomes ``extra_body={"extra_body": ...}``, the documented SDK form). A
    structured-output call passes its Pydantic model as ``response_format``."""
    body = call.body
    if route == "openai":
        where: dict[str, Any] = {
            "model": "openai/" + str(body.get("model") or ""),
            "api_base": call.base_url,
            "api_key": call.api_key,
        }
    else:
        where = {
            "model": "vertex_ai/openai/" + str(body.get("model") or call.endpoint_id or ""),
            "api_base": call.base_url,
            "vertex_project": call.project,
            "vertex_location": call.location,
            "vertex_credentials": json.dumps(service_account(call.project, call.token_url)),
        }
    arguments: dict[str, Any] = {"model": where.pop("model"), "messages": body.get("messages", []), **where}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("model", "messages"):
            continue
        if key in named:
            arguments[key] = value
        else:
            extra[key] = value
    if extra:
        arguments["extra_body"] = extra
    if call.parse_with is not None:
        arguments["response_format"] = call.parse_with
    arguments["num_retries"] = 0  # the gateway retries as every lane does; a client retry would hide it
    arguments["timeout"] = call.timeout_s
    return arguments


def _described(function: str, arguments: dict[str, Any], call: ClientCall) -> str:
    """The call as its user writes it, other values elided: ``f(model='x', messages=…)``. The
    project and the endpoint id are written as the cassettes' placeholders: they are secrets of a
    live run."""
    shown = []
    for key, value in arguments.items():
        if key not in _SHOWN:
            shown.append(f"{key}=…")
            continue
        if key == "vertex_project":
            value = "{PROJECT}"
        elif key == "model" and call.endpoint_id and not call.body.get("model"):
            value = str(value).replace(call.endpoint_id, "{ENDPOINT}")
        shown.append(f"{key}={value!r}")
    return f"{function}({', '.join(shown)})"


@functools.cache
def _signing_key() -> str:
    """A throwaway RSA key (PEM) for the made-up service account; one per process is enough."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account(project: str, token_url: str) -> dict[str, str]:
    """A service-account key made here and never written, whose token endpoint is ``token_url``."""
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "client-lane",
        "private_key": _signing_key(),
        "client_email": "client-lane@example-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_url,
    }


def _view(result: Any) -> ClientView:
    """What a LiteLLM user reads off the (assembled) ``ModelResponse``: its first choice's message."""
    raw = jsonable(result)
    choices = getattr(result, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    if message is None:
        return ClientView(role=None, content=None, usage=_usage(result), raw=raw)
    calls = [
        ToolCallView(
            id=getattr(tool_call, "id", None),
            name=getattr(getattr(tool_call, "function", None), "name", None),
            arguments=getattr(getattr(tool_call, "function", None), "arguments", None),
            thought_signature=_tool_call_signature(jsonable(tool_call)),
        )
        for tool_call in getattr(message, "tool_calls", None) or []
    ]
    return ClientView(
        role=getattr(message, "role", None),
        content=text_of(getattr(message, "content", None)),
        tool_calls=calls,
        usage=_usage(result),
        parsed=jsonable(getattr(message, "parsed", None)),
        raw=raw,
    )


def _tool_call_signature(tool_call: Any) -> Any:
    """Where LiteLLM may keep a call's signature: the call's own ``extra_content`` (an extra field it
    lets through), or its ``provider_specific_fields`` (as ``thought_signature`` or ``extra_content``)."""
    if not isinstance(tool_call, dict):
        return None
    specific = tool_call.get("provider_specific_fields")
    for holder in (tool_call, specific if isinstance(specific, dict) else {}):
        found = signature_in(holder)
        if found is None:
            found = holder.get("thought_signature")
        if found is not None:
            return found
    return None


def _usage(result: Any) -> dict[str, Any] | None:
    usage = getattr(result, "usage", None)
    if usage is None:
        return None
    return {
        name: getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
