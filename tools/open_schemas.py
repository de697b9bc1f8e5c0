"""The vertex profile with its objects opened: which mutants only the profile's closure catches.

The vertex profile closes every object it describes (``additionalProperties: false``), so any key
it does not list fails ``schema.response`` or ``schema.chunk``. That is what catches a leaked
Gemini-native field, but it also means a mutant renamed to an unknown key is "caught" without any
rule about the field it broke. To tell the two apart, the same documents are loaded again with
every ``additionalProperties: false`` removed (nothing else changes: types, required keys, enums
and ranges still hold), and a mutant whose schema failures vanish there was caught only by the
closure. The mutation report gives that count beside the score, so the score says what it measures.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs

from vertex_conformance import schemas
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import SCHEMAS

# The schema requirements, and the kind of object each validates.
SCHEMA_REQUIREMENTS: dict[str, str] = {
    "schema.response": "response",
    "schema.chunk": "chunk",
    "schema.error": "error",
}
PROFILE = "vertex"


def opened(value: Any) -> Any:
    """``value`` (a schema document) with every ``additionalProperties: false`` left out."""
    if isinstance(value, dict):
        return {k: opened(v) for k, v in value.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(value, list):
        return [opened(v) for v in value]
    return value


@cache
def _validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    """The profile's ``kind`` schema, opened, with every other document registered by its ``$id``
    (the profile's own documents opened too, OpenAI's as published)."""
    resources = []
    for path in schemas.schema_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        if path.parent == SCHEMAS / PROFILE:
            document = opened(document)
        if "$id" in document:
            resources.append((document["$id"], document))
    root = opened(schemas.load(PROFILE, kind))
    return jsonschema_rs.Draft202012Validator(root, registry=jsonschema_rs.Registry(resources))


def open_failures(exchange: Exchange, requirements: frozenset[str]) -> frozenset[str]:
    """Which of the schema ``requirements`` ``exchange`` still fails with the profile opened (the
    caller names the ones that applied to it: the opened schemas are judged on the same objects)."""
    failing = set()
    for requirement in requirements & SCHEMA_REQUIREMENTS.keys():
        kind = SCHEMA_REQUIREMENTS[requirement]
        objects = [chunk for _, chunk in exchange.chunks] if kind == "chunk" else [exchange.body]
        validator = _validator(kind)
        if not all(validator.is_valid(item) for item in objects):
            failing.add(requirement)
    return frozenset(failing)
