"""Known deviations, kept outside the tests (web-platform-tests style).

``expectations/<target>.yaml`` lists requirements a target is known to break, each with the reason
and a link to the evidence, optionally narrowed to forms, lanes, profiles, stream on/off and test
ids (substrings of the nodeid). A listed requirement that fails is a known deviation; a listed one
that holds is an unexpected pass, reported as such so the file never rots. A requirement not
listed is judged as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError
from .requirements import all_requirements
from .vocabulary import ALL_FORMS, LANES, Outcome, Profile, UnknownWord, choose

_FILTERS = {"forms": "form", "lanes": "lane", "profiles": "profile"}
# The words each filter may hold: an entry naming anything else would silently excuse nothing.
_WORDS = {"forms": (ALL_FORMS, "form"), "lanes": (LANES, "lane"), "profiles": (list(Profile), "profile")}
_KEYS = {"requirement", "reason", "link", "streamed", "tests", *_FILTERS}


@dataclass(frozen=True)
class Expectation:
    requirement: str
    reason: str
    link: str
    forms: tuple[str, ...] = ()
    lanes: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()  # parts of test ids (nodeid substrings; ids hold brackets, so no globs)
    streamed: bool | None = None

    def covers(self, requirement: str, test: Mapping[str, Any]) -> bool:
        """Whether this entry speaks of ``requirement`` in the test described by ``test``."""
        if requirement != self.requirement:
            return False
        if self.streamed is not None and test.get("streamed") != self.streamed:
            return False
        if self.tests and not any(part in test.get("nodeid", "") for part in self.tests):
            return False
        return all(
            not getattr(self, key) or test.get(field) in getattr(self, key) for key, field in _FILTERS.items()
        )

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "link": self.link}


def load(path: Path) -> list[Expectation]:
    """Read and validate an expectations file; an absent file means no known deviations."""
    if not path.is_file():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise ConfigError(f"expectations file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(entries, list):
        raise ConfigError(f"expectations file {path} must hold a list of entries")
    return [_entry(path, number, entry) for number, entry in enumerate(entries, start=1)]


def _entry(path: Path, number: int, entry: Any) -> Expectation:
    where = f"expectations file {path}, entry {number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("requirement", "reason", "link"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where}: '{key}' is required (a non-empty string)")
    if entry["requirement"] not in {r.id for r in all_requirements()}:
        raise ConfigError(
            f"{where}: unknown requirement {entry['requirement']!r} "
            "(`vertex-conformance requirements` lists them)"
        )
    filters = {}
    for key in (*_FILTERS, "tests"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{key}' must be a list of strings")
        if key in _WORDS:
            choices, what = _WORDS[key]
            try:
                value = [choose(v, choices, what) for v in value]
            except UnknownWord as exc:
                raise ConfigError(f"{where}: {exc}") from None
        filters[key] = tuple(value)
    if entry.get("streamed") not in (None, True, False):
        raise ConfigError(f"{where}: 'streamed' must be true or false")
    return Expectation(
        entry["requirement"], entry["reason"], entry["link"], streamed=entry.get("streamed"), **filters
    )


def judge(
    verdicts: Mapping[str, bool], test: Mapping[str, Any], expectations: list[Expectation]
) -> tuple[dict[str, Outcome], dict[str, Expectation]]:
    """Turn ``{requirement: held}`` into outcomes, applying the expectations that cover this test.
    Returns the outcomes and, for each requirement an expectation spoke of, that expectation."""
    outcomes: dict[str, Outcome] = {}
    applied: dict[str, Expectation] = {}
    for requirement, held in verdicts.items():
        expected = next((e for e in expectations if e.covers(requirement, test)), None)
        if expected is None:
            outcomes[requirement] = Outcome.PASS if held else Outcome.FAIL
        else:
            applied[requirement] = expected
            outcomes[requirement] = Outcome.UNEXPECTED_PASS if held else Outcome.KNOWN_DEVIATION
    return outcomes, applied
