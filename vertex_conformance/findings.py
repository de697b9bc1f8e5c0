"""What a check reports: a violated requirement, the JSON path of the evidence, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """One violation. ``path`` is a JSONPath-like pointer into the exchange, e.g.
    ``$.events[3].choices[0].finish_reason`` or ``$.response.usage.total_tokens``."""

    requirement: str
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.requirement}] {self.path}: {self.message}"


def json_path(root: str, *parts: str | int) -> str:
    """Join path parts the way every finding spells them: ``$.a.b[0].c``."""
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
