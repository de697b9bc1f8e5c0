"""The one stream assembler: chunks in, one message per choice out.

Every streaming test and every streaming check uses this, so the rules of assembly live in one
place. Tool calls are grouped by ``id``, not by ``index``: the documented Vertex stream changes a
call's ``index`` between fragments while its ``id`` stays put (docs/spec.md, form 8), and grouping by
``index`` would splice two calls together. A fragment without an ``id`` continues the call most
recently seen at its ``index``, which is what a client has to do with OpenAI's own streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    id: str | None
    type: str | None = None
    name: str | None = None
    argument_parts: list[str] = field(default_factory=list)  # joined on demand: streams can be long
    indexes: list[int | None] = field(default_factory=list)  # the `index` of every fragment, in order
    fragment_events: list[int] = field(default_factory=list)  # event index of every fragment
    extra_content: dict[str, Any] = field(default_factory=dict)

    @property
    def arguments(self) -> str:
        return "".join(self.argument_parts)

    def to_message(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments},
        }
        if self.extra_content:
            out["extra_content"] = self.extra_content
        return out


@dataclass
class Choice:
    index: int
    role: str | None = None
    content_parts: list[str] | None = None  # None: no delta carried text; joined on demand
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    finish_events: list[int] = field(default_factory=list)  # events that carried a non-null finish_reason
    extra_content: dict[str, Any] = field(default_factory=dict)
    last_event: int = -1

    @property
    def content(self) -> str | None:
        return None if self.content_parts is None else "".join(self.content_parts)

    def to_message(self) -> dict[str, Any]:
        """The message a non-streamed response would have carried."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message() for call in self.tool_calls]
        if self.extra_content:
            message["extra_content"] = self.extra_content
        return message


@dataclass
class Assembled:
    choices: dict[int, Choice] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    usage_events: list[int] = field(default_factory=list)

    def message(self, index: int = 0) -> dict[str, Any] | None:
        choice = self.choices.get(index)
        return choice.to_message() if choice else None

    def tool_calls(self, index: int = 0) -> list[ToolCall]:
        choice = self.choices.get(index)
        return choice.tool_calls if choice else []


def _merge(into: dict[str, Any], extra: Any) -> None:
    """Merge one chunk's ``extra_content`` into the running one (later keys win, nested dicts merge)."""
    if not isinstance(extra, dict):
        return
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _add_tool_call(choice: Choice, fragment: dict[str, Any], event: int) -> None:
    call_id = fragment.get("id")
    index = fragment.get("index")
    call = None
    if call_id is not None:
        call = next((c for c in choice.tool_calls if c.id == call_id), None)
    elif choice.tool_calls:
        same_index = [c for c in choice.tool_calls if c.indexes and c.indexes[-1] == index]
        call = same_index[-1] if same_index else choice.tool_calls[-1]
    if call is None:
        call = ToolCall(id=call_id)
        choice.tool_calls.append(call)
    call.indexes.append(index if isinstance(index, int) else None)
    call.fragment_events.append(event)
    call.type = call.type or fragment.get("type")
    function = fragment.get("function") if isinstance(fragment.get("function"), dict) else {}
    call.name = call.name or function.get("name")
    if isinstance(function.get("arguments"), str):
        call.argument_parts.append(function["arguments"])
    _merge(call.extra_content, fragment.get("extra_content"))


def as_list(value: Any) -> list[Any]:
    """The value if it is a list, else an empty one: server data may put anything where a list belongs."""
    return value if isinstance(value, list) else []


def assemble(chunks: list[tuple[int, Any]]) -> Assembled:
    """Fold ``(event index, chunk)`` pairs into one message per choice. Tolerates malformed
    chunks (the checks report them); it never raises on server data."""
    out = Assembled()
    for event, chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("usage") is not None:
            out.usage = chunk["usage"]
            out.usage_events.append(event)
        for raw in as_list(chunk.get("choices")):
            if not isinstance(raw, dict) or not isinstance(raw.get("index", 0), int):
                continue
            index = raw.get("index", 0)
            choice = out.choices.setdefault(index, Choice(index=index))
            choice.last_event = event
            delta = raw.get("delta") if isinstance(raw.get("delta"), dict) else {}
            choice.role = choice.role or delta.get("role")
            if isinstance(delta.get("content"), str):
                if choice.content_parts is None:
                    choice.content_parts = []
                choice.content_parts.append(delta["content"])
            for fragment in as_list(delta.get("tool_calls")):
                if isinstance(fragment, dict):
                    _add_tool_call(choice, fragment, event)
            _merge(choice.extra_content, delta.get("extra_content"))
            if raw.get("finish_reason") is not None:
                choice.finish_reason = raw["finish_reason"]
                choice.finish_events.append(event)
    return out
