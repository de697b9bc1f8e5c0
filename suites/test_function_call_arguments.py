"""Form 8, streamed function-call arguments: tools plus stream_function_call_arguments.

Streams are assembled by call id (the documented stream's index is not stable per call: a known
deviation in expectations/gemini.yaml). The streamed calls must equal the non-streamed ones."""

import pytest

from vertex_conformance.checks.tools import compare_tool_calls
from vertex_conformance.vocabulary import SUITE_LANES


@pytest.mark.form("function-call-arguments")
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_function_call_arguments(conformance, lane, stream):
    exchange = conformance.send(lane, conformance.gemini("function_call_arguments", stream=stream))
    conformance.verify(exchange)


@pytest.mark.form("function-call-arguments")
@pytest.mark.parametrize("lane", SUITE_LANES)
def test_streamed_tool_calls_equal_the_non_streamed_ones(conformance, lane):
    streamed = conformance.send(lane, conformance.gemini("function_call_arguments", stream=True))
    plain = conformance.send(lane, conformance.gemini("function_call_arguments", stream=False))
    comparison = {"tools.stream-matches-plain": compare_tool_calls(streamed, plain)}
    conformance.verify(streamed, plain, also=comparison)
