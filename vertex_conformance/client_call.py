"""What a client lane asks a client for, and what it gives back: the one contract between the suite
and the drivers of the clients Vertex users call it through (openai-node, LiteLLM, LangChain).

A driver is given a ``ClientCall``: the documented REST body of the form and a base URL on the
suite's loopback gateway (``gateway``), never the target itself. The gateway answers from the
recording (replay) or forwards to the target with every lane's retries, timeouts and credentials
(live, record), and keeps what crossed it; so the driver's only job is to call its client the way
the client's documentation shows and to report **what that client's user gets**, as a
``ClientView``, or what the client raised, as a ``ClientError``. The checks (``checks.clients``)
judge the view against the wire the gateway saw.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .exchange import WireRequest

PLACEHOLDER_KEY = "client-lane-placeholder"  # the gateway adds the real credentials; this is no secret


@dataclass(frozen=True)
class ClientCall:
    """One call for a client to make.

    ``base_url`` is what the client is told the OpenAI-compatible base is (it ends in
    ``endpoints/openapi`` or ``endpoints/{ENDPOINT}``, on 127.0.0.1); ``token_url`` is a Google
    OAuth token endpoint on the same gateway, for a client that fetches its own token (LiteLLM's
    ``vertex_ai/`` routes). ``body`` is the documented REST body (no ``model`` on a self-deployed
    endpoint); ``parse_with`` the Pydantic model of the structured-output form (its JSON schema is
    the body's ``response_format``). ``project``, ``location`` and ``endpoint_id`` are what a client
    that builds its own URL needs (placeholders in replay). ``timeout_s``: the most the whole call
    may take, the client's own deadline."""

    base_url: str
    token_url: str
    body: dict[str, Any]
    project: str
    location: str
    endpoint_id: str | None = None
    parse_with: type | None = None
    timeout_s: float = 120.0
    api_key: str = PLACEHOLDER_KEY

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def self_deployed(self) -> bool:
        return "model" not in self.body


@dataclass(frozen=True)
class ToolCallView:
    """One tool call as the client hands it to its user. ``arguments`` is the JSON text the user
    parses (a client that parses for its user gives a dict: it is dumped back to JSON text);
    ``thought_signature`` is the ``extra_content.google.thought_signature`` the client kept on this
    call (``None``: it kept none)."""

    id: Any
    name: Any
    arguments: Any
    thought_signature: Any = None


@dataclass(frozen=True)
class ClientView:
    """What the client's user gets: the assembled message of the first choice (a stream is
    assembled the way the client's documentation tells its users to), the usage the client reports
    (``None``: none), the parsed structured output where the client parses, and the client's own
    result dumped to JSON (evidence, not judged)."""

    role: Any
    content: Any
    tool_calls: list[ToolCallView] = field(default_factory=list)
    usage: dict[str, Any] | None = None  # prompt_tokens, completion_tokens, total_tokens as the client says
    parsed: Any = None
    raw: Any = None


@dataclass(frozen=True)
class ClientError:
    """What the client raised, as its user sees it: the exception's type, the HTTP status it names
    (``None``: none), and its message (what ``str(exc)`` / ``err.message`` shows)."""

    type: str
    status: int | None
    message: str


@dataclass(frozen=True)
class ClientResult:
    """A driver's answer: the view, or the error (never both), the call as its user writes it
    (``client.chat.completions.stream(params).finalChatCompletion()``) and the client's version."""

    call: str
    version: str | None
    view: ClientView | None = None
    error: ClientError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON for the exchange (``Exchange.sdk_view``) and the report."""
        return asdict(self)


ERROR_CHARS = 500  # the most of an exception's message a ClientError keeps
PYTHON_CLIENTS_INSTALL = "run make python-clients (pip install -e '.[clients]')"


class NotReplayable(Exception):
    """Replay: the client changed the request beyond what the raw lane's recording answers (by
    ``matching``'s rule), though the recording answers the documented body. What the client sent
    (``request``) can be judged; the answer it would have got cannot."""

    def __init__(self, request: WireRequest, why: str) -> None:
        super().__init__(why)
        self.request = request


class ClientUnavailable(Exception):
    """The client cannot run here (not installed, no Node runtime): the lane is unsupported, and the
    message is one line saying how to install it."""


# --- what every Python driver does ------------------------------------------------------------------


def not_installed(package: str, module: str) -> str | None:
    """``None`` when ``module`` (of ``package``) can be imported; else one line saying how to install it.
    Nothing is imported: the CLI and ``--help`` stay fast."""
    if importlib.util.find_spec(module) is None:
        return f"{package}: not installed: {PYTHON_CLIENTS_INSTALL}"
    return None


def installed_version(package: str) -> str | None:
    """``package``'s installed version, from its metadata (nothing is imported); ``None``: not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- what every Python driver does with its client's result ---------------------------------------


def error_of(exc: BaseException) -> ClientError:
    """What a client raised, as its user sees it: the type's name, the HTTP status it names, and
    ``str(exc)`` on one line, without the traceback some clients paste into their messages (it names
    this machine's paths), at most ``ERROR_CHARS`` characters."""
    status = getattr(exc, "status_code", None)
    message = " ".join(str(exc).split("Traceback")[0].split())
    return ClientError(
        type(exc).__name__,
        status if isinstance(status, int) and not isinstance(status, bool) else None,
        message[:ERROR_CHARS],
    )


def text_of(content: Any) -> Any:
    """A message's content as its user reads the text: a list of content parts is its text parts
    joined (the parts themselves stay in the view's ``raw``); anything else as it is."""
    if not isinstance(content, list):
        return content
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type", "text") == "text"
    )


def signature_in(holder: Any) -> Any:
    """``holder["extra_content"]["google"]["thought_signature"]``, or ``None`` where any step is missing."""
    for key in ("extra_content", "google", "thought_signature"):
        if not isinstance(holder, dict):
            return None
        holder = holder.get(key)
    return holder


def jsonable(value: Any) -> Any:
    """``value`` as JSON-safe data: a Pydantic object dumped, anything JSON cannot hold as its text."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(warnings=False)
    return json.loads(json.dumps(value, default=str))
