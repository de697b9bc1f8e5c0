"""Known deviations: loading the file, matching entries to tests, and judging outcomes."""

import pytest

from vertex_conformance.config import ConfigError, RunConfig
from vertex_conformance.expectations import Expectation, judge, load
from vertex_conformance.vocabulary import Outcome

TEST = {
    "nodeid": "suites/test_x.py::test_x[sdk-stream]",
    "form": "thinking",
    "lane": "sdk",
    "profile": "vertex",
    "streamed": True,
}


# A well-formed entry's fields, for files whose only fault is the one under test.
HELD = "requirement: usage.vertex-total, reason: why, link: l"


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


def test_the_shipped_file_is_the_default_and_lists_the_documented_index_quirk():
    entries = load(RunConfig.from_sources({}, {}).expectations)
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
        (f"- {{{HELD}, forms: plain}}\n", "'forms' must be a list of strings"),
        (f"- {{{HELD}, streamed: maybe}}\n", "'streamed' must be true or false"),
    ],
)
def test_a_malformed_file_is_one_clear_error_naming_file_and_entry(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("second", "line"),
    [
        (
            "{requirement: usage.vertex-totl, reason: why, link: l}",
            "entry 2: unknown requirement 'usage.vertex-totl' (`vertex-conformance requirements` lists them)",
        ),
        (
            f"{{{HELD}, forms: [plain, thinkng]}}",
            "entry 2: unknown form 'thinkng': use one of plain, streaming, ",
        ),
        (f"{{{HELD}, lanes: [skd]}}", "entry 2: unknown lane 'skd': use one of httpx, sdk, sdk-async"),
        (f"{{{HELD}, profiles: [Vertex]}}", "entry 2: unknown profile 'Vertex': use one of vertex, openai"),
    ],
    ids=["requirement", "form", "lane", "profile"],
)
def test_an_entry_naming_an_unknown_word_stops_loading_naming_the_entry_and_the_word(tmp_path, second, line):
    """A misspelt word would make the entry excuse nothing, silently; the first entry is fine, so
    the number shows which one is wrong."""
    path = tmp_path / "x.yaml"
    path.write_text(f"- {{{HELD}}}\n- {second}\n")
    with pytest.raises(ConfigError) as error:
        load(path)
    message = str(error.value)
    assert message.startswith(f"expectations file {path}, {line}")
    assert "\n" not in message


def test_filters_of_known_words_are_kept_as_given(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        f"- {{{HELD}, forms: [thinking, probe-n-choices], lanes: [sdk-async], profiles: [openai]}}\n"
    )
    [loaded] = load(path)
    assert (loaded.forms, loaded.lanes, loaded.profiles) == (
        ("thinking", "probe-n-choices"),
        ("sdk-async",),
        ("openai",),
    )
