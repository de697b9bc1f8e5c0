"""Form 12, structured output: the SDK lane uses the SDK's parse helper with a Pydantic model (the
seed's CalendarEvent); the raw lane sends the json_schema response format the SDK generates."""

import pytest
from calendar_event import CalendarEvent

from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("structured-output")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_structured_output(conformance, lane):
    call = conformance.gemini("structured_output", stream=False, parse_with=CalendarEvent)
    conformance.verify(conformance.send(lane, call))
