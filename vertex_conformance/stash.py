"""What the plugin works out once per run and its parts read back: pytest stash keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .budget import TokenBudget
from .config import RunConfig
from .expectations import Expectation
from .results import TestRecord
from .scrub import Scrubber

CONFIG = pytest.StashKey[RunConfig]()
EXPECTATIONS = pytest.StashKey[list[Expectation]]()
BUDGET = pytest.StashKey[TokenBudget]()
SCRUBBER = pytest.StashKey[Scrubber]()  # the run's one scrubber: every artefact passes through it
RECORD_KEY = "vertex_conformance"  # the user_properties entry that carries a record to the controller
NOT_RUN_KEY = "vertex_conformance_not_run"  # the entry that says a test was stopped before it ran


@dataclass
class Draft:
    """A test's record in the making: the facts gathered while building and sending, and the record
    once an outcome is known. A test that crashes before that still leaves its facts for the report."""

    facts: dict[str, Any]
    record: TestRecord | None = field(default=None)
    not_run: bool = False  # stopped before sending (the token budget): no record, listed as not run

    def to_dict(self) -> dict[str, Any]:
        return self.record.to_dict() if self.record is not None else dict(self.facts)


RESULT = pytest.StashKey[Draft]()  # on each test item: what the report gets
