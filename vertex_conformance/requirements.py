"""The registry of requirements: every checkable statement, with a stable id and its source.

A requirement id is the unit everything else speaks in: checks report findings under it,
expectations list deviations by it, reports and baselines compare by it. Ids never change
meaning; a requirement that no longer holds is retired, not renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """Where a requirement comes from, in the order of authority of docs/spec.md#sources."""

    SEED = "seed"  # the Vertex documentation page (docs/spec.md#sources), the source of truth
    OPENAI = "openai"  # OpenAI's published Chat Completions contract (the baseline)
    REPORTED = "reported"  # behaviour reported by users; probed, not documented
    HARNESS = "harness"  # the suite's own rules of evidence (snapshots, cassettes)


@dataclass(frozen=True)
class Requirement:
    """One checkable statement. ``where`` points into the source (a section or a fact)."""

    id: str
    statement: str
    source: Source
    where: str


_REGISTRY: dict[str, Requirement] = {}


def requirement(id: str, statement: str, source: Source, where: str) -> Requirement:
    """Declare a requirement; an id declared twice with another meaning is a programming error."""
    req = Requirement(id, statement, source, where)
    existing = _REGISTRY.get(id)
    if existing is not None and existing != req:
        raise ValueError(f"requirement {id!r} declared twice with different meanings")
    _REGISTRY[id] = req
    return req


def all_requirements() -> list[Requirement]:
    """Every declared requirement, sorted by id (importing ``checks`` declares them all)."""
    from . import checks  # noqa: F401  (declares the requirements as a side effect)

    return sorted(_REGISTRY.values(), key=lambda r: r.id)


def get(id: str) -> Requirement:
    all_requirements()
    return _REGISTRY[id]


HTTP_SUCCESS = requirement(
    "http.success",
    "A documented request form (the gate tier) is answered with a 2xx status.",
    Source.SEED,
    "every documented form has a sample answer; none documents an error",
)
SNAPSHOT_SHAPE = requirement(
    "snapshot.shape",
    "The answer's shape (every key, value types, enum-like values) equals the stored snapshot.",
    Source.HARNESS,
    "suites/__snapshots__ (syrupy); a new or vanished field is drift",
)
CASSETTE_ALL_PLAYED = requirement(
    "cassette.all-played",
    "A replayed test plays every interaction its cassette holds.",
    Source.HARNESS,
    "fixtures/cassettes; an unplayed interaction means the test no longer sends what was recorded",
)
CASSETTE_FRESH = requirement(
    "cassette.fresh",
    "A replayed cassette was recorded no longer ago than --max-cassette-age days (when that is set).",
    Source.HARNESS,
    "fixtures/cassettes meta.recorded_at; for runs that want fresh evidence",
)
