"""Known deviations, kept outside the tests (web-platform-tests style).

``expectations/<target>.yaml`` lists requirements a target is known to break, each with the reason
and a link to the evidence, optionally narrowed to forms, lanes, profiles, stream on/off and test
ids (substrings of the nodeid), to the versions of the clients under test (``versions``: package →
PEP 440 range), and to the findings themselves: ``paths`` (JSON paths, ``[*]`` for any index, ``*``
for any part of one key) and ``message`` (a regular expression). A narrowed entry excuses only the
findings it describes, so the same requirement broken anywhere else still fails.

A listed requirement whose every finding is excused is a known deviation; a listed one that holds
is an unexpected pass, reported as such so the file never rots; an entry that a run could have
used and did not is stale (``stale``), and ``vertex-conformance expectations update`` removes it.
The file is validated when loaded, and every error names the line of the entry at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .config import ConfigError
from .findings import Finding
from .paths import SUITES
from .requirements import all_requirements
from .vocabulary import ALL_FORMS, LANES, Outcome, Profile, UnknownWord, choose

if TYPE_CHECKING:  # the report's types; the judge and ``check`` need none of them
    from .results import FindingRecord, TestRecord

_FILTERS = {"forms": "form", "lanes": "lane", "profiles": "profile"}
# The words each filter may hold: an entry naming anything else would silently excuse nothing.
_WORDS = {"forms": (ALL_FORMS, "form"), "lanes": (LANES, "lane"), "profiles": (list(Profile), "profile")}
_LISTS = (*_FILTERS, "tests", "paths")
_KEYS = {"requirement", "reason", "link", "streamed", "message", "versions", *_LISTS}
# The packages a ``versions`` filter may name: those whose version a run's report names (versions.of),
# the openai Python SDK and each client lane's package. A client's behaviour changes between its
# releases, so a deviation of one release range must not excuse (or go stale in) another.
VERSIONED = ("openai", *(lane.package for lane in LANES.values() if lane.package))
# A finding of a test with several exchanges is placed in one: ``exchanges[2].response…``. A path
# pattern speaks of one exchange (``$.response…``), so it matches in each of them.
_EXCHANGE_PREFIX = re.compile(r"^exchanges\[\d+\]")
# libyaml's loader where PyYAML has it: ten times faster, and ``check`` loads a file on every start.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    paths: tuple[str, ...] = ()  # the findings' JSON paths it excuses ("$.events[*].choices[*]")
    message: str | None = None  # a regular expression the findings' messages must contain
    versions: tuple[tuple[str, str], ...] = ()  # (package, PEP 440 range): only runs inside every range
    line: int | None = None  # where the entry starts in its file (1-based), for messages and updates

    def admits(self, test: Mapping[str, Any]) -> bool:
        """Whether this entry's filters let in the test described by ``test``. A fact the mapping
        does not hold is unknown (``check`` knows no form, lane or test id): its filter is not applied."""
        if self.streamed is not None and "streamed" in test and test["streamed"] != self.streamed:
            return False
        if self.tests and "nodeid" in test and not any(part in test["nodeid"] for part in self.tests):
            return False
        if self.versions:  # unlike the other facts, an unknown version never matches: the range is the point
            known = test.get("versions") or {}
            if not all(within(known.get(package), spec) for package, spec in self.versions):
                return False
        return all(
            not getattr(self, key) or field not in test or test[field] in getattr(self, key)
            for key, field in _FILTERS.items()
        )

    def covers(self, requirement: str, test: Mapping[str, Any]) -> bool:
        """Whether this entry speaks of ``requirement`` in the test described by ``test``."""
        return requirement == self.requirement and self.admits(test)

    def excuses(self, finding: Finding | FindingRecord) -> bool:
        """Whether ``finding`` (anything with ``path`` and ``message``) is the deviation this entry
        describes: its path matches one of ``paths``, its message ``message`` (each when given)."""
        path = _EXCHANGE_PREFIX.sub("$", finding.path)
        if self._paths is not None and not self._paths.fullmatch(path):
            return False
        return self._message is None or self._message.search(finding.message) is not None

    @cached_property
    def _paths(self) -> re.Pattern[str] | None:
        return re.compile("|".join(map(path_pattern, self.paths))) if self.paths else None

    @cached_property
    def _message(self) -> re.Pattern[str] | None:
        return re.compile(self.message) if self.message is not None else None

    def to_dict(self) -> dict[str, Any]:
        """What a test's record says of the entry applied to one of its requirements."""
        return {"reason": self.reason, "link": self.link, **({"line": self.line} if self.line else {})}


def within(version: Any, spec: str) -> bool:
    """Whether ``version`` (a package's version as a run reports it) is known and inside the PEP 440
    range ``spec``; a pre-release inside the range counts (it is that range's code)."""
    if not isinstance(version, str):
        return False
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except InvalidVersion:  # a version PEP 440 cannot read is not known to be in any range
        return False


def path_pattern(glob: str) -> str:
    """The regular expression of a path pattern: ``[*]`` is any index, ``*`` any part of one key
    (never a ``.`` or a bracket); everything else is literal."""
    parts = re.split(r"(\[\*\]|\*)", glob)
    return (
        "(?:"
        + "".join(
            r"\[\d+\]" if part == "[*]" else r"[^.\[\]]*" if part == "*" else re.escape(part)
            for part in parts
        )
        + ")"
    )


def yaml_document(text: str, described: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document in ``text`` and its root node (the nodes know their lines, the values do
    not; ``None``: empty, or comments only), or ``ConfigError`` naming ``described`` and the line."""
    loader = LOADER(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.MarkedYAMLError as exc:
        where = f", line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise ConfigError(f"{described}{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{described}: not valid YAML: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()


def load(path: Path) -> list[Expectation]:
    """Read and validate an expectations file; an absent file means no known deviations."""
    if not path.is_file():
        return []
    entries, root = yaml_document(path.read_text(encoding="utf-8"), f"expectations file {path}")
    if root is None:  # empty, or comments only: no known deviations
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"expectations file {path} must hold a list of entries")
    return [_entry(path, node, entry) for node, entry in zip(root.value, entries, strict=True)]


def _entry(path: Path, node: yaml.Node, entry: Any) -> Expectation:
    line = node.start_mark.line + 1
    if not isinstance(entry, dict):
        raise ConfigError(f"expectations file {path}, line {line}: expected a mapping")
    lines = {key.value: value.start_mark.line + 1 for key, value in node.value}

    def fault(key: str | None, message: str) -> ConfigError:
        return ConfigError(f"expectations file {path}, line {lines.get(key, line)}: {message}")

    if len(lines) < len(node.value):
        names = [key.value for key, _ in node.value]
        raise fault(None, f"key {next(k for k in names if names.count(k) > 1)!r} given twice")
    unknown = set(entry) - _KEYS
    if unknown:
        raise fault(min(unknown), f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("requirement", "reason", "link"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fault(key, f"'{key}' is required (a non-empty string)")
    if entry["requirement"] not in {r.id for r in all_requirements()}:
        raise fault(
            "requirement",
            f"unknown requirement {entry['requirement']!r} (`vertex-conformance requirements` lists them)",
        )
    filters = {}
    for key in _LISTS:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fault(key, f"'{key}' must be a list of non-empty strings")
        if key in _WORDS:
            choices, what = _WORDS[key]
            try:
                value = [choose(v, choices, what) for v in value]
            except UnknownWord as exc:
                raise fault(key, str(exc)) from None
        filters[key] = tuple(value)
    bad_path = next((p for p in filters["paths"] if not p.startswith("$")), None)
    if bad_path is not None:
        raise fault("paths", f"path {bad_path!r} must start with '$' (as findings' paths do)")
    if entry.get("streamed") not in (None, True, False):
        raise fault("streamed", "'streamed' must be true or false")
    message = entry.get("message")
    if message is not None:
        if not isinstance(message, str) or not message:
            raise fault("message", "'message' must be a non-empty string (a regular expression)")
        try:
            re.compile(message)
        except re.error as exc:
            raise fault("message", f"'message' is not a regular expression: {exc}") from None
    return Expectation(
        entry["requirement"],
        entry["reason"],
        entry["link"],
        streamed=entry.get("streamed"),
        message=message,
        versions=_versions(entry.get("versions"), lambda why: fault("versions", why)),
        line=line,
        **filters,
    )


def _versions(value: Any, fault: Callable[[str], ConfigError]) -> tuple[tuple[str, str], ...]:
    """An entry's ``versions`` (``{package: PEP 440 range}``) as pairs, validated: a package no run
    reports, or a range PEP 440 cannot read, would make the entry excuse nothing, silently."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise fault("'versions' must map package names to PEP 440 ranges ({litellm: \">=1.110,<2\"})")
    pairs = []
    for package, spec in value.items():
        if package not in VERSIONED:
            raise fault(f"unknown package {package!r} in 'versions': use one of {', '.join(VERSIONED)}")
        if not isinstance(spec, str) or not spec.strip():
            raise fault(f"the range of {package!r} in 'versions' must be a non-empty string (\">=6\")")
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            raise fault(f'{spec!r} ({package}) is not a PEP 440 version range (">=1.110,<2")') from None
        pairs.append((package, spec))
    return tuple(pairs)


def check_collected(
    path: Path, expectations: Sequence[Expectation], nodeids: Sequence[str], args: Sequence[str]
) -> None:
    """Refuse a ``tests`` filter part that names no collected test (it would excuse nothing,
    silently, like a misspelt form): ``ConfigError`` naming the lines. Only a collection of every
    suite module can tell, and only when no argument (``args``, pytest's) picked single tests."""
    collected = {nodeid.split("::")[0].rsplit("/", 1)[-1] for nodeid in nodeids}
    if any("::" in arg for arg in args) or not {p.name for p in SUITES.glob("test_*.py")} <= collected:
        return
    unmatched = [
        f"line {e.line}: tests filter {part!r} matches no collected test"
        for e in expectations
        for part in e.tests
        if not any(part in nodeid for nodeid in nodeids)
    ]
    if unmatched:
        raise ConfigError(f"expectations file {path}, {'; '.join(unmatched)} (a test renamed, or a typo)")


def excusing(finding: Finding, covering: Sequence[Expectation]) -> Expectation | None:
    """The first of the entries that cover a finding's test and requirement to excuse it."""
    return next((e for e in covering if e.excuses(finding)), None)


def judge(
    findings: Mapping[str, Sequence[Finding]], test: Mapping[str, Any], expectations: Sequence[Expectation]
) -> tuple[dict[str, Outcome], dict[str, Expectation]]:
    """Turn ``{requirement: findings}`` (empty: held) into outcomes, applying the expectations that
    cover this test. A requirement is a known deviation when every finding is excused, a failure
    when any is not, an unexpected pass when it held although an entry covers it. Returns the
    outcomes and, for each requirement an expectation spoke of, the (first) entry that did."""
    outcomes: dict[str, Outcome] = {}
    applied: dict[str, Expectation] = {}
    for requirement, found in findings.items():
        covering = [e for e in expectations if e.covers(requirement, test)]
        if not found:
            outcomes[requirement] = Outcome.UNEXPECTED_PASS if covering else Outcome.PASS
            if covering:
                applied[requirement] = covering[0]
            continue
        excusers = [excusing(f, covering) for f in found]
        outcomes[requirement] = Outcome.KNOWN_DEVIATION if all(excusers) else Outcome.FAIL
        first = next((e for e in excusers if e is not None), None)
        if first is not None:
            applied[requirement] = first
    return outcomes, applied


FACTS = ("nodeid", "form", "lane", "streamed", "profile")  # what an entry filters on


def facts_of(subject: Any) -> dict[str, Any]:
    """The facts an entry filters on, as a test's record (or the judge's ``Case``) holds them; the
    test id without its target (``--targets``), so a ``tests`` filter means the same in every run."""
    facts = {name: getattr(subject, name) for name in FACTS}
    if hasattr(subject, "versions"):  # the judge's Case: a record has none (versioned entries never go stale)
        facts["versions"] = subject.versions
    facts["nodeid"] = untargeted(facts["nodeid"], getattr(subject, "target_name", None))
    return facts


def untargeted(nodeid: str, target_name: str | None) -> str:
    """A test id without the target a ``--targets`` run adds as its last parameter
    (``test_plain_chat[httpx-eu]`` -> ``test_plain_chat[httpx]``, ``test_x[eu]`` -> ``test_x``)."""
    if not target_name:
        return nodeid
    for suffix, rest in ((f"-{target_name}]", "]"), (f"[{target_name}]", "")):
        if nodeid.endswith(suffix):
            return nodeid[: -len(suffix)] + rest
    return nodeid


def excused_in(entry: Expectation, record: TestRecord) -> bool:
    """Whether ``entry`` excused a finding of ``record`` (a known deviation it describes)."""
    return entry.covers(entry.requirement, facts_of(record)) and any(
        entry.excuses(f) for f in record.findings_of(entry.requirement)
    )


def passed_unexpectedly_in(entry: Expectation, record: TestRecord) -> bool:
    """Whether ``entry`` covered ``record`` where its requirement held (an unexpected pass)."""
    return (record.requirements or {}).get(entry.requirement) is Outcome.UNEXPECTED_PASS and entry.covers(
        entry.requirement, facts_of(record)
    )


def stale(expectations: Sequence[Expectation], records: Iterable[TestRecord]) -> list[Expectation]:
    """The entries the run could have used and did not: their filters let in a test of the run that
    judged their requirement (held or failed: not "nothing to evaluate"), yet no test's findings
    matched them and no test passed where they expected a failure. Entries whose filters let in no
    such test (another profile's, a form not run, a requirement that had nothing to evaluate) say
    nothing about this run and are not stale. Read from the evidence (every finding is in the
    record), not from the entry a record names, so an entry sharing a requirement with another is
    judged on its own."""
    judged = [r for r in records if r.judged]
    return [
        e
        for e in expectations
        if any(e.admits(facts_of(r)) and _evaluated(r, e.requirement) for r in judged)
        and not any(excused_in(e, r) or passed_unexpectedly_in(e, r) for r in judged)
    ]


def _evaluated(record: TestRecord, requirement: str) -> bool:
    verdict = (record.requirements or {}).get(requirement)
    return verdict is not None and verdict is not Outcome.NOT_APPLICABLE
