"""Loading the profile schemas and validating objects against them with jsonschema-rs.

Schemas live in ``schemas/<profile>/<kind>.json`` (Draft 2020-12). Every file under ``schemas/``
is registered by its ``$id`` so profiles can share definitions (the ``openai`` profile refers into
OpenAI's published document). Validators are built once per process: validation runs on every
chunk of every stream, and jsonschema-rs makes that cheap.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from .findings import json_path
from .paths import SCHEMAS
from .vocabulary import Profile

PROFILES = tuple(Profile)
KINDS = ("response", "chunk", "error", "request")


def schema_files(root: Path = SCHEMAS) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


@cache
def _registry() -> jsonschema_rs.Registry:
    resources = []
    for path in schema_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        if "$id" in document:
            resources.append((document["$id"], document))
    return jsonschema_rs.Registry(resources)


@cache
def load(profile: str, kind: str) -> dict[str, Any]:
    """The schema document for ``kind`` in ``profile`` (raises ``KeyError`` for unknown ones)."""
    path = SCHEMAS / profile / f"{kind}.json"
    if profile not in PROFILES or not path.is_file():
        raise KeyError(f"no {kind!r} schema in profile {profile!r} ({path})")
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _validator(profile: str, kind: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(load(profile, kind), registry=_registry())


def violations(profile: str, kind: str, instance: Any, root: str = "$") -> list[tuple[str, str]]:
    """``(json path, message)`` for every way ``instance`` breaks the schema; empty when valid."""
    validator = _validator(profile, kind)
    if validator.is_valid(instance):
        return []
    return [
        (json_path(root, *error.instance_path), _shorten(error.message))
        for error in validator.iter_errors(instance)
    ]


def _shorten(message: str, limit: int = 300) -> str:
    """jsonschema-rs quotes the whole failing instance; a base64 image has no place in a report line."""
    return message if len(message) <= limit else f"{message[:limit]}… ({len(message)} characters)"
