"""Vertex's extension objects: ``{"google": {...}}`` under ``extra_body`` (a request's top level) and
``extra_content`` (messages, content parts, tool calls, audio). Read in one place, because both
requests and answers are untrusted data: any level may be missing or not an object."""

from __future__ import annotations

from typing import Any


def google(owner: Any, key: str = "extra_content") -> dict[str, Any]:
    """``owner[key]["google"]`` itself (so edits reach the owner), or ``{}`` when any level is
    missing or malformed."""
    extra = owner.get(key) if isinstance(owner, dict) else None
    found = extra.get("google") if isinstance(extra, dict) else None
    return found if isinstance(found, dict) else {}
