"""Known deviations: loading the file, matching entries to tests, and judging outcomes."""

import pytest

from vertex_conformance.config import ConfigError
from vertex_conformance.expectations import Expectation, default_path, judge, load
from vertex_conformance.outcomes import Outcome

TEST = {
    "nodeid": "suites/test_x.py::test_x[sdk-stream]",
    "form": "thinking",
    "lane": "sdk",
    "profile": "vertex",
    "streamed": True,
}


def entry(**kwargs):
    return Expectation(**{"requirement": "r", "reason": "why", "link": "where", **kwargs})


def test_a_listed_failure_is_a_known_deviation_and_a_listed_pass_an_unexpected_pass():
    outcomes, applied = judge({"r": False, "s": True, "t": False}, TEST, [entry(), entry(requirement="s")])
    assert outcomes == {"r": Outcome.KNOWN_DEVIATION, "s": Outcome.UNEXPECTED_PASS, "t": Outcome.FAIL}
    assert set(applied) == {"r", "s"}


@pytest.mark.parametrize(
    ("narrowed", "covers"),
    [
        ({"forms": ("thinking",)}, True),
        ({"forms": ("plain",)}, False),
        ({"lanes": ("httpx",)}, False),
        ({"profiles": ("openai",)}, False),
        ({"streamed": False}, False),
        ({"streamed": True}, True),
        ({"tests": ("[sdk-stream]",)}, True),
        ({"tests": ("test_y",)}, False),
    ],
)
def test_filters_narrow_an_entry_to_the_tests_it_speaks_of(narrowed, covers):
    assert entry(**narrowed).covers("r", TEST) is covers
    assert entry(**narrowed).covers("other", TEST) is False


def test_the_shipped_file_loads_and_lists_the_documented_index_quirk():
    entries = load(default_path("gemini"))
    assert any(
        e.requirement == "tools.index-stable" and "function-call-arguments" in e.forms for e in entries
    )
    assert all(e.reason and e.link for e in entries)


def test_an_absent_file_means_no_known_deviations(tmp_path):
    assert load(tmp_path / "none.yaml") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- requirement: r\n  reason: [unclosed\n", "not valid YAML"),
        ("requirement: r\n", "must hold a list"),
        ("- just a string\n", "expected a mapping"),
        ("- {requirement: r, reason: why}\n", "'link' is required"),
        ("- {requirement: r, reason: why, link: l, colour: red}\n", "unknown key(s) ['colour']"),
        ("- {requirement: r, reason: why, link: l, forms: plain}\n", "'forms' must be a list of strings"),
        ("- {requirement: r, reason: why, link: l, streamed: maybe}\n", "'streamed' must be true or false"),
    ],
)
def test_a_malformed_file_is_one_clear_error_naming_file_and_entry(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
