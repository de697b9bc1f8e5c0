"""The typed verdict: one test's record and one run's results, and their JSON form (``results.json``).

The judge writes a ``TestRecord`` once; the collector, the report, the baseline comparison and the
matrix page read it back through these types, never as loose dicts. ``schemas/results.schema.json``
describes the JSON; ``load`` checks a document against it before anything reads it, so a wrong or
half-written file is refused with one line instead of being read as "every test missing".
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .grouping import causes
from .paths import SCHEMAS
from .vocabulary import Outcome

FORMAT = "vertex-conformance/results"
VERSION = 1
SCHEMA = SCHEMAS / "results.schema.json"


class UnreadableResults(ValueError):
    """Not a results.json this version can read (the message names the file and why)."""


@dataclass(frozen=True)
class FindingRecord:
    """A violated requirement as reported: where the evidence is, why, and what it came to."""

    requirement: str
    path: str
    message: str
    outcome: Outcome


@dataclass(frozen=True)
class TestRecord:
    """Everything a report says about one test. ``requirements`` is ``None`` when the test was never
    judged (it stopped before the checks ran: unsupported, infra, error); absent keys in the JSON."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    outcome: Outcome
    form: str | None = None
    lane: str | None = None
    target: str | None = None
    target_name: str | None = None  # --targets: the entry of the targets file the test ran against
    location: str | None = None
    api_version: str | None = None
    streamed: bool | None = None
    mode: str | None = None
    profile: str | None = None
    requirements: dict[str, Outcome] | None = None
    findings: tuple[FindingRecord, ...] = ()
    expectations: dict[str, dict[str, str]] = field(default_factory=dict)
    observations: dict[str, Any] = field(default_factory=dict)
    status: int | list[int] | None = None
    evidence: dict[str, Any] | list[dict[str, Any]] | None = None
    cassette: dict[str, Any] | None = None
    tokens: dict[str, int] | None = None
    timing: list[dict[str, Any]] | None = None
    by_design: tuple[str, ...] = ()
    reason: str | None = None
    error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None

    @property
    def judged(self) -> bool:
        return self.requirements is not None

    def findings_of(self, requirement: str) -> list[FindingRecord]:
        return [f for f in self.findings if f.requirement == requirement]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: empty and unknown values left out, so absence keeps one meaning."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or ((value == () or value == {}) and f.name != "requirements"):
                continue
            if f.name == "findings":
                value = [asdict(finding) for finding in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestRecord:
        """The record of a JSON object that ``validate`` accepted (or of a draft the harness made)."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:  # a fact the record has no field for would vanish from every report
            raise ValueError(
                f"no TestRecord field for {sorted(unknown)}: add it to the record and its schema"
            )
        values = dict(data)
        values["outcome"] = Outcome(data["outcome"])
        if data.get("requirements") is not None:
            values["requirements"] = {rid: Outcome(o) for rid, o in data["requirements"].items()}
        values["findings"] = tuple(
            FindingRecord(f["requirement"], f["path"], f["message"], Outcome(f.get("outcome", Outcome.FAIL)))
            for f in data.get("findings", ())
        )
        values["by_design"] = tuple(data.get("by_design", ()))
        return cls(**values)


@dataclass(frozen=True)
class Selection:
    """Which tests the run asked for: the paths or node ids it was given (relative to the checkout)
    and the tests ``-k``/``-m`` deselected there. A comparison uses it to compare like with like: a baseline
    test outside the selection is not compared, one inside it that is gone has disappeared."""

    paths: tuple[str, ...]
    deselected: tuple[str, ...] = ()

    def covers(self, nodeid: str) -> bool:
        return any(_under(nodeid, path) for path in self.paths) and nodeid not in self.deselected


def _under(nodeid: str, selected: str) -> bool:
    """Whether a test is selected by a path (a folder, a file) or a node id prefix (``file::test``,
    which selects its parametrizations too)."""
    if "::" in selected:
        return nodeid == selected or nodeid.startswith((selected + "::", selected + "["))
    file = nodeid.split("::")[0]
    return file == selected or file.startswith(selected.rstrip("/") + "/")


@dataclass(frozen=True)
class Incomplete:
    """A run that ended before it ran every selected test: why, and which did not run."""

    reason: str
    not_run: tuple[str, ...]


@dataclass(frozen=True)
class Results:
    """One run: its configuration, the versions that shaped its traffic, and every test's record."""

    run: dict[str, Any]
    versions: dict[str, Any]
    tests: tuple[TestRecord, ...]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    selection: Selection | None = None
    incomplete: Incomplete | None = None
    stale: tuple[dict[str, Any], ...] = ()  # expectation entries the run could have used and did not
    pace: dict[str, dict[str, Any]] = field(default_factory=dict)  # per target: pace.Limiter.stats()

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(t.outcome for t in self.tests)
        return {**{o.value: counts.get(o, 0) for o in Outcome}, "total": len(self.tests)}

    @property
    def tokens(self) -> dict[str, Any]:
        """Tokens the answers' ``usage`` reports, per form and in total: what a live run cost."""
        by_form: dict[str, Counter[str]] = {}
        for test in self.tests:
            if test.tokens:
                by_form.setdefault(str(test.form), Counter()).update(test.tokens)
        total: Counter[str] = sum(by_form.values(), Counter())
        return {"total": dict(total), "by_form": {form: dict(c) for form, c in sorted(by_form.items())}}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "generated_at": self.generated_at,
            "run": self.run,
            "versions": self.versions,
            "summary": self.summary,
            "tokens": self.tokens,
            "tests": [t.to_dict() for t in sorted(self.tests, key=lambda t: t.nodeid)],
            "causes": [_listed(cause) for cause in causes(self.tests)],
            **({"selection": _listed(self.selection)} if self.selection else {}),
            **({"incomplete": _listed(self.incomplete)} if self.incomplete else {}),
            **({"stale_expectations": list(self.stale)} if self.stale else {}),
            **({"pace": self.pace} if self.pace else {}),
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Results:
        selection, incomplete = document.get("selection"), document.get("incomplete")
        return cls(
            run=document["run"],
            versions=document["versions"],
            tests=tuple(TestRecord.from_dict(t) for t in document["tests"]),
            generated_at=document["generated_at"],
            selection=Selection(tuple(selection["paths"]), tuple(selection["deselected"]))
            if selection
            else None,
            incomplete=Incomplete(incomplete["reason"], tuple(incomplete["not_run"])) if incomplete else None,
            stale=tuple(document.get("stale_expectations", ())),
            pace=document.get("pace", {}),
        )


def _listed(value: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(value).items()}


@functools.cache
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(orjson.loads(SCHEMA.read_bytes()))


def validate(document: Any, name: str) -> Results:
    """``document`` as ``Results`` if it is a results document of this version, else ``UnreadableResults``
    naming the first problem (format and version first: they say what the file is)."""
    if not isinstance(document, dict):
        raise UnreadableResults(f"{name}: not a results.json document (expected a JSON object)")
    if document.get("format") != FORMAT:
        raise UnreadableResults(
            f"{name}: format is {document.get('format')!r}, expected {FORMAT!r} (a results.json)"
        )
    if document.get("version") != VERSION:
        raise UnreadableResults(
            f"{name}: results.json version {document.get('version')!r} is not supported "
            f"(this vertex-conformance reads version {VERSION})"
        )
    error = next(iter(_validator().iter_errors(document)), None)
    if error is not None:
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
        raise UnreadableResults(f"{name}: {where}: {error.message} (see {SCHEMA.name})")
    seen: set[str] = set()
    for test in document["tests"]:
        if test["nodeid"] in seen:
            raise UnreadableResults(f"{name}: test {test['nodeid']!r} appears twice")
        seen.add(test["nodeid"])
    return Results.from_dict(document)


def load(path: Path) -> Results:
    """Read and check one ``results.json``; ``UnreadableResults`` with a one-line reason otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableResults(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UnreadableResults(f"{path}: not JSON: {exc}") from None
    return validate(document, str(path))
