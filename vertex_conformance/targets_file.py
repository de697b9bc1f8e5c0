"""Many targets in one run (``--targets FILE``): a YAML list of models, regions, API versions,
endpoints and base URLs, every form run against each.

A target is the run's configuration with its own settings (``dataclasses.replace``, then the same
validation as the command line), its own cassette folder (``<cassette dir>/<name>/<module>/…``) and
its known deviations: the run's file, then its own. Its tests carry its name as the last part of
their ids (``test_plain_chat[httpx-eu-flash]``), so ``-k``, ``--deselect`` and a baseline compare
test by test, and a run without ``--targets`` keeps the ids it always had.

The file is checked with ``schemas/targets.schema.json`` when the run starts; every fault is one line
naming the file, the entry (number, name, line) and the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from . import expectations
from .config import ConfigError, RunConfig
from .expectations import Expectation
from .paths import SCHEMAS, shown
from .vocabulary import Mode

SCHEMA = SCHEMAS / "targets.schema.json"
# The settings a target may give; each is the RunConfig field of the same name (``name`` and
# ``expectations`` are the target's own: its cassette folder and its extra known deviations).
SETTINGS = ("model", "image_model", "location", "api_version", "endpoint_id", "base_url")
# What the report says of each target: its settings as the run's describe() shows them (redacted).
_DESCRIBED = (*SETTINGS, "cassette_dir")


@dataclass(frozen=True)
class Target:
    """One entry of a targets file, ready to run: its name and the run's settings with its own."""

    name: str
    config: RunConfig
    expectations: tuple[Expectation, ...]  # the run's entries, then those of its own file
    expectations_file: Path | None = None  # its own file, if any
    own: tuple[Expectation, ...] = ()  # the entries of its own file

    def describe(self) -> dict[str, Any]:
        """What the report says of this target: its settings (a real endpoint id redacted, as the
        run's are) and the expectations files it was judged by."""
        settings = replace(self.config, targets=None).describe()
        files = [self.config.expectations, *([self.expectations_file] if self.expectations_file else [])]
        return {
            "name": self.name,
            **{key: settings[key] for key in _DESCRIBED},
            "expectations": [shown(Path(f)) for f in files if f is not None],
        }


@functools.cache
def load(cfg: RunConfig) -> tuple[Target, ...]:
    """The targets of ``cfg.targets`` (a run's validated configuration); ``ConfigError`` with one line
    naming the file, the entry and the key otherwise. Cached: the run and its report read it once."""
    if cfg.targets is None:
        return ()
    path = Path(cfg.targets)
    document, nodes = _read(path)
    problem = _first_violation(document)
    if problem is not None:
        index, key, message = problem
        raise _fault(path, nodes, document, index, key, message)
    for index, node in enumerate(nodes):
        duplicate = _duplicate_key(node)
        if duplicate is not None:
            raise _fault(path, nodes, document, index, duplicate, f"key {duplicate!r} given twice")
    seen: dict[str, int] = {}
    for index, entry in enumerate(document):
        if entry["name"] in seen:
            taken = f"name {entry['name']!r} is taken by entry {seen[entry['name']] + 1}"
            raise _fault(path, nodes, document, index, "name", taken)
        seen[entry["name"]] = index
    listed = expectations.load(cfg.expectations) if cfg.expectations else []
    return tuple(_target(cfg, path, nodes, document, index, listed) for index in range(len(document)))


def described(cfg: RunConfig) -> dict[str, Any] | None:
    """The run's targets for its report: the file and each target's settings (None: no file)."""
    if cfg.targets is None:
        return None
    return {"file": shown(Path(cfg.targets)), "entries": [t.describe() for t in load(cfg)]}


def _read(path: Path) -> tuple[Any, list[yaml.Node]]:
    """The document and the YAML node of each entry (the nodes know their lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"targets file {path}: cannot read: {why}") from None
    document, root = expectations.yaml_document(text, f"targets file {path}")
    nodes = list(root.value) if isinstance(root, yaml.SequenceNode) else []
    return document, nodes


@functools.cache
def _schema() -> dict[str, Any]:
    return orjson.loads(SCHEMA.read_bytes())


@functools.cache
def _validator() -> Any:
    import jsonschema_rs  # here: only a run with --targets pays for it

    return jsonschema_rs.validator_for(_schema())


def _first_violation(document: Any) -> tuple[int | None, str | None, str] | None:
    """The first fault the schema finds, entry by entry (an unknown key, then a missing one, then a
    bad value): ``(entry index, key, message)``, each message saying what the value must be."""
    import jsonschema_rs

    kinds = jsonschema_rs.ValidationErrorKind
    properties = _schema()["items"]["properties"]
    found = []
    for error in _validator().iter_errors(document):
        where = list(error.instance_path)
        if not where:
            found.append(((-1, 0, ""), (None, None, "must hold a list of targets (at least one)")))
            continue
        index = int(where[0])
        if len(where) == 1 and isinstance(error.kind, kinds.AdditionalProperties):
            for key in error.kind.unexpected:
                allowed = ", ".join(properties)
                found.append(((index, 0, key), (index, key, f"unknown key {key!r} (allowed: {allowed})")))
        elif len(where) == 1 and isinstance(error.kind, kinds.Required):
            key = str(error.kind.property)
            required = ", ".join(_schema()["items"]["required"])
            found.append(((index, 1, key), (index, None, f"missing key {key!r} (required: {required})")))
        elif len(where) == 1:
            found.append(((index, 1, ""), (index, None, "expected a mapping of settings")))
        else:
            key = str(where[1])
            value = error.instance
            found.append(
                ((index, 2, key), (index, key, f"{value!r} is not {properties[key]['description']}"))
            )
    return min(found, key=lambda item: item[0])[1] if found else None


def _duplicate_key(node: yaml.Node) -> str | None:
    """A key an entry gives twice (YAML keeps the last silently, so the first would be lost)."""
    names = [key.value for key, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    return next((name for name in names if names.count(name) > 1), None)


def _fault(
    path: Path, nodes: list[yaml.Node], document: Any, index: int | None, key: str | None, message: str
) -> ConfigError:
    """One line: the file, the entry (its number, name and line) and the key at fault."""
    if index is None:
        return ConfigError(f"targets file {path}: {message}")
    node = nodes[index]
    line = node.start_mark.line + 1
    if key is not None and isinstance(node, yaml.MappingNode):
        line = next((k.start_mark.line + 1 for k, _ in node.value if k.value == key), line)
    entry = document[index]
    name = entry.get("name") if isinstance(entry, dict) else None
    named = f" ({name!r})" if isinstance(name, str) else ""
    at = f", key {key!r}" if key is not None else ""
    return ConfigError(f"targets file {path}, entry {index + 1}{named}, line {line}{at}: {message}")


def _target(
    cfg: RunConfig, path: Path, nodes: list[yaml.Node], document: Any, index: int, listed: list[Expectation]
) -> Target:
    """The entry's target: the run's settings with its own, each checked by the command line's rules
    (a fault names the key), then checked together; its cassette folder; its expectations."""
    entry = document[index]
    name = entry["name"]
    settings = {key: str(entry[key]) for key in SETTINGS if key in entry}
    for key, value in settings.items():
        try:
            replace(cfg, **{key: value}).validated()
        except ConfigError as exc:
            raise _fault(path, nodes, document, index, key, str(exc)) from None
    cassettes = Path(cfg.cassette_dir) / name
    if cfg.mode is Mode.REPLAY and next(cassettes.rglob("*.yaml"), None) is None:
        raise _fault(
            path,
            nodes,
            document,
            index,
            "name",
            f"no cassette under {cassettes}: record this target first (--mode record --targets {path}), "
            "or pass the --cassette-dir that holds its folder",
        )
    try:
        config = replace(cfg, cassette_dir=cassettes, **settings).validated()
    except ConfigError as exc:
        raise _fault(path, nodes, document, index, None, str(exc)) from None
    if "expectations" not in entry:
        return Target(name, config, tuple(listed))
    file = path.parent / entry["expectations"]
    if not file.is_file():
        raise _fault(path, nodes, document, index, "expectations", f"no file {file}")
    try:
        own = tuple(expectations.load(file))
    except ConfigError as exc:
        raise _fault(path, nodes, document, index, "expectations", str(exc)) from None
    return Target(name, config, (*listed, *own), file, own)
