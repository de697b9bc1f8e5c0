"""What the plugin works out once per run and its parts read back: pytest stash keys."""

from __future__ import annotations

from typing import Any

import pytest

from .budget import TokenBudget
from .config import RunConfig
from .expectations import Expectation
from .resilience import RetryPolicy, Timeouts

CONFIG = pytest.StashKey[RunConfig]()
EXPECTATIONS = pytest.StashKey[list[Expectation]]()
BUDGET = pytest.StashKey[TokenBudget]()
PATIENCE = pytest.StashKey[tuple[Timeouts, RetryPolicy]]()
RESULT = pytest.StashKey[dict[str, Any]]()  # on each test item: the record the report gets
RECORD_KEY = "vertex_conformance"  # the user_properties entry that carries a record to the controller
