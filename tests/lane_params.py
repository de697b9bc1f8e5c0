"""Lanes as test parameters."""

from __future__ import annotations

from typing import Any

import pytest

from vertex_conformance.vocabulary import LANES

PROCESS_DRIVERS = ("vertex_conformance.client_node",)  # drivers whose client is another process


def every_lane() -> list[Any]:
    """Every registered lane as a test parameter; a lane whose client is another process (openai-node
    runs ``node``) is marked ``slow``, as every test that starts a process is."""
    return [
        pytest.param(lane.id, marks=pytest.mark.slow) if lane.driver in PROCESS_DRIVERS else lane.id
        for lane in LANES.values()
    ]
