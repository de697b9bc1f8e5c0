"""Known deviations: loading the file, matching entries to tests and findings, judging outcomes,
refusing filters that match nothing, and telling stale entries."""

import subprocess
import sys

import pytest
from result_documents import results

from vertex_conformance.config import ConfigError, RunConfig
from vertex_conformance.expectations import Expectation, check_collected, judge, load, stale
from vertex_conformance.findings import Finding
from vertex_conformance.paths import EXPECTATIONS, ROOT, SUITES
from vertex_conformance.results import FindingRecord, TestRecord
from vertex_conformance.vocabulary import Outcome, Target

TEST = {
    "nodeid": "suites/test_x.py::test_x[sdk-stream]",
    "form": "thinking",
    "lane": "sdk",
    "profile": "vertex",
    "streamed": True,
}
REFUSAL = Finding("schema.response", "$.response.choices[0].message", '"refusal" is a required property')
ELSEWHERE = Finding("schema.response", "$.response.choices[0].message.content", "1 is not of type 'string'")


# A well-formed entry's fields, for files whose only fault is the one under test.
HELD = "requirement: usage.vertex-total, reason: why, link: l"


def entry(**kwargs):
    return Expectation(**{"requirement": "r", "reason": "why", "link": "where", **kwargs})


def failing(requirement: str = "r") -> list[Finding]:
    return [Finding(requirement, "$.x", "broken")]


def test_a_listed_failure_is_a_known_deviation_and_a_listed_pass_an_unexpected_pass():
    outcomes, applied = judge(
        {"r": failing("r"), "s": [], "t": failing("t")}, TEST, [entry(), entry(requirement="s")]
    )
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


@pytest.mark.parametrize(
    "narrowed", [{"forms": ("plain",)}, {"lanes": ("httpx",)}, {"tests": ("test_y",)}], ids=str
)
def test_a_fact_the_test_does_not_know_is_not_filtered_on(narrowed):
    """A captured file (``check``) has no form, lane or test id: the entry's other filters decide."""
    assert entry(**narrowed).covers("r", {"profile": "vertex", "streamed": True}) is True
    assert entry(**narrowed, profiles=("openai",)).covers("r", {"profile": "vertex"}) is False


@pytest.mark.parametrize(
    ("paths", "message", "excused"),
    [
        (("$.response.choices[*].message",), None, [REFUSAL]),
        (("$.response.choices[*].message",), "refusal", [REFUSAL]),
        (("$.response.choices[*].message.*",), None, [ELSEWHERE]),
        ((), "^1 is not", [ELSEWHERE]),
        ((), None, [REFUSAL, ELSEWHERE]),
        (("$.response.choices[*]",), None, []),
        (("$.response.choices[1].message",), None, []),
        (("$.response.choices[*].message",), "^refusal", []),
    ],
)
def test_paths_and_message_narrow_an_entry_to_the_findings_it_excuses(paths, message, excused):
    listed = entry(requirement="schema.response", paths=paths, message=message)
    assert [f for f in (REFUSAL, ELSEWHERE) if listed.excuses(f)] == excused


def test_a_path_pattern_speaks_of_each_exchange_of_a_test_with_several():
    listed = entry(paths=("$.request.body.stream",))
    assert listed.excuses(Finding("r", "exchanges[2].request.body.stream", "the SDK added False"))
    assert not listed.excuses(Finding("r", "exchanges[2].request.body.model", "the SDK added False"))


def test_a_narrowed_entry_excuses_its_finding_and_a_finding_elsewhere_still_fails():
    listed = [
        entry(requirement="schema.response", paths=("$.response.choices[*].message",), message="refusal")
    ]
    outcomes, applied = judge({"schema.response": [REFUSAL]}, TEST, listed)
    assert outcomes == {"schema.response": Outcome.KNOWN_DEVIATION}
    assert applied == {"schema.response": listed[0]}
    outcomes, _ = judge({"schema.response": [REFUSAL, ELSEWHERE]}, TEST, listed)
    assert outcomes == {"schema.response": Outcome.FAIL}
    outcomes, applied = judge({"schema.response": [ELSEWHERE]}, TEST, listed)
    assert (outcomes, applied) == ({"schema.response": Outcome.FAIL}, {})


def test_two_entries_of_one_requirement_each_excuse_their_own_finding():
    refusal = entry(requirement="schema.response", paths=("$.response.choices[*].message",))
    content = entry(requirement="schema.response", paths=("$.response.choices[*].message.content",))
    outcomes, applied = judge({"schema.response": [REFUSAL, ELSEWHERE]}, TEST, [refusal, content])
    assert outcomes == {"schema.response": Outcome.KNOWN_DEVIATION}
    assert applied == {"schema.response": refusal}


def test_a_narrowed_entry_whose_requirement_holds_is_an_unexpected_pass():
    listed = [entry(paths=("$.x",), message="broken")]
    assert judge({"r": []}, TEST, listed)[0] == {"r": Outcome.UNEXPECTED_PASS}


def test_the_shipped_file_is_the_default_and_lists_the_documented_index_quirk():
    entries = load(RunConfig.from_sources({}, {}).expectations)
    assert any(
        e.requirement == "tools.index-stable" and "function-call-arguments" in e.forms for e in entries
    )
    assert all(e.reason and e.link for e in entries)


@pytest.mark.parametrize("target", list(Target))
def test_every_target_has_a_shipped_file_whose_every_entry_is_narrowed_to_its_findings(target):
    entries = load(EXPECTATIONS / f"{target}.yaml")
    assert (EXPECTATIONS / f"{target}.yaml").is_file()
    assert all(e.paths for e in entries), [e.line for e in entries if not e.paths]
    assert [e.line for e in entries] == sorted({e.line for e in entries})  # each knows where it is


def test_the_shipped_refusal_entry_excuses_the_missing_refusal_and_nothing_else_of_the_response():
    entries = [e for e in load(EXPECTATIONS / "gemini.yaml") if e.requirement == "schema.response"]
    facts = {**TEST, "profile": "openai", "form": "plain", "nodeid": "suites/test_plain.py::t"}
    outcomes, _ = judge({"schema.response": [REFUSAL]}, facts, entries)
    assert outcomes == {"schema.response": Outcome.KNOWN_DEVIATION}
    outcomes, _ = judge({"schema.response": [REFUSAL, ELSEWHERE]}, facts, entries)
    assert outcomes == {"schema.response": Outcome.FAIL}


def test_an_absent_file_means_no_known_deviations(tmp_path):
    assert load(tmp_path / "none.yaml") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- requirement: r\n  reason: [unclosed\n", "line 3: not valid YAML"),
        ("- requirement: r\n  reason: a: b\n", "line 2: not valid YAML: mapping values are not allowed"),
        ("requirement: r\n", "must hold a list"),
        ("- just a string\n", "line 1: expected a mapping"),
        ("- {requirement: r, reason: why}\n", "line 1: 'link' is required"),
        ("- {requirement: r, reason: why, link: l, colour: red}\n", "unknown key(s) ['colour']"),
        (f"- {{{HELD}, forms: plain}}\n", "'forms' must be a list of non-empty strings"),
        (f"- {{{HELD}, streamed: maybe}}\n", "'streamed' must be true or false"),
        (f"- {{{HELD}, paths: [response.usage]}}\n", "path 'response.usage' must start with '$'"),
        (f"- {{{HELD}, message: '(unclosed'}}\n", "'message' is not a regular expression"),
        (f"- {{{HELD}, reason: twice}}\n", "key 'reason' given twice"),
    ],
)
def test_a_malformed_file_is_one_clear_error_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load(path)
    assert message in str(error.value)
    assert str(error.value).startswith(f"expectations file {path}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("second", "line"),
    [
        (
            "{requirement: usage.vertex-totl, reason: why, link: l}",
            "line 4: unknown requirement 'usage.vertex-totl' (`vertex-conformance requirements` lists them)",
        ),
        (
            f"{{{HELD}, forms: [plain, thinkng]}}",
            "line 4: unknown form 'thinkng': use one of plain, streaming, ",
        ),
        (f"{{{HELD}, lanes: [skd]}}", "line 4: unknown lane 'skd': use one of httpx, sdk, sdk-async"),
        (f"{{{HELD}, profiles: [Vertex]}}", "line 4: unknown profile 'Vertex': use one of vertex, openai"),
    ],
    ids=["requirement", "form", "lane", "profile"],
)
def test_an_entry_naming_an_unknown_word_stops_loading_naming_its_line_and_the_word(tmp_path, second, line):
    """A misspelt word would make the entry excuse nothing, silently; the first entry is fine and
    a comment and a blank line come between, so the line is the file's, not the entry's number."""
    path = tmp_path / "x.yaml"
    path.write_text(f"- {{{HELD}}}\n# a comment\n\n- {second}\n")
    with pytest.raises(ConfigError) as error:
        load(path)
    message = str(error.value)
    assert message.startswith(f"expectations file {path}, {line}")
    assert "\n" not in message


def test_a_fault_inside_a_long_entry_names_the_line_of_its_key(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("- requirement: usage.vertex-total\n  reason: why\n  link: l\n  lanes: [skd]\n")
    with pytest.raises(ConfigError, match=r"x\.yaml, line 4: unknown lane 'skd'"):
        load(path)


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


def test_narrowing_and_the_line_are_read_from_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(f"# header\n\n- {{{HELD}, paths: ['$.events[*].usage'], message: '^total'}}\n")
    [loaded] = load(path)
    assert (loaded.paths, loaded.message, loaded.line) == (("$.events[*].usage",), "^total", 3)
    assert loaded.to_dict() == {"reason": "why", "link": "l", "line": 3}


# --- `tests` filters against the collection ---------------------------------------------------

EVERY_MODULE = [f"suites/{p.name}::test_a[httpx]" for p in SUITES.glob("test_*.py")]


def test_a_tests_filter_that_matches_no_collected_test_stops_the_run_naming_its_line(tmp_path):
    listed = [entry(tests=("test_a[httpx]",), line=3), entry(tests=("[htpx]", "test_a"), line=9)]
    with pytest.raises(ConfigError) as error:
        check_collected(tmp_path / "x.yaml", listed, EVERY_MODULE, ["suites"])
    assert str(error.value) == (
        f"expectations file {tmp_path / 'x.yaml'}, line 9: tests filter '[htpx]' matches no collected "
        "test (a test renamed, or a typo)"
    )
    check_collected(tmp_path / "x.yaml", listed[:1], EVERY_MODULE, ["suites"])  # all match: no error


@pytest.mark.parametrize(
    ("nodeids", "args"),
    [(EVERY_MODULE[1:], ["suites"]), (EVERY_MODULE, ["suites/test_plain.py::test_plain_chat"])],
    ids=["one-module-not-collected", "single-tests-picked"],
)
def test_a_partial_collection_cannot_tell_a_typo_and_lets_the_run_go_on(tmp_path, nodeids, args):
    check_collected(tmp_path / "x.yaml", [entry(tests=("[htpx]",), line=3)], nodeids, args)


# --- stale entries ------------------------------------------------------------------------------


def record(nodeid="suites/test_plain.py::test_plain_chat[httpx]", **fields) -> TestRecord:
    return TestRecord(
        nodeid=nodeid,
        outcome=fields.pop("outcome", Outcome.PASS),
        form="plain",
        lane="httpx",
        streamed=False,
        profile=fields.pop("profile", "openai"),
        requirements=fields.pop("requirements", {"schema.response": Outcome.PASS}),
        **fields,
    )


def known(finding: Finding) -> TestRecord:
    return record(
        outcome=Outcome.KNOWN_DEVIATION,
        requirements={finding.requirement: Outcome.KNOWN_DEVIATION},
        findings=(
            FindingRecord(finding.requirement, finding.path, finding.message, Outcome.KNOWN_DEVIATION),
        ),
    )


def test_an_entry_that_excused_a_finding_or_passed_unexpectedly_is_not_stale():
    refusal = entry(requirement="schema.response", paths=("$.response.choices[*].message",), line=1)
    assert stale([refusal], [known(REFUSAL)]) == []
    unexpected = record(requirements={"schema.response": Outcome.UNEXPECTED_PASS})
    assert stale([refusal], [unexpected]) == []


def test_an_entry_whose_tests_ran_without_its_finding_is_stale():
    """The narrowing rotted: the requirement fails elsewhere now, or the run shows it held where no
    entry was listed; either way the entry excused nothing."""
    moved = entry(requirement="schema.response", paths=("$.response.choices[*].message.refusal",), line=1)
    assert stale([moved], [known(REFUSAL)]) == [moved]
    assert stale([moved], [record()]) == [moved]


def test_an_entry_for_tests_the_run_did_not_judge_is_not_stale():
    """Another profile's entry, a form the run did not select, tests that ended as infra: the run
    says nothing about them."""
    other_profile = entry(requirement="schema.response", profiles=("vertex",), line=1)
    other_form = entry(requirement="schema.response", forms=("thinking",), line=2)
    infra = record(outcome=Outcome.INFRA, requirements=None)
    assert stale([other_profile, other_form], [record()]) == []
    assert stale([entry(requirement="schema.response", line=3)], [infra]) == []


def test_stale_reads_a_run_as_its_results_json_holds_it():
    run = results(known(REFUSAL), record(nodeid="suites/test_plain.py::test_plain_chat[sdk]"))
    refusal = entry(requirement="schema.response", paths=("$.response.choices[*].message",), line=1)
    content = entry(requirement="schema.response", paths=("$.response.choices[*].message.content",), line=2)
    assert stale([refusal, content], run.tests) == [content]


@pytest.mark.slow
def test_a_conformance_run_with_a_tests_filter_that_matches_nothing_stops_before_any_test(tmp_path):
    listed = tmp_path / "expectations.yaml"
    listed.write_text(f"# header\n- {{{HELD}, tests: ['[htpx]']}}\n")
    pytest_args = ["suites", "--collect-only", "-q", "-p", "no:cacheprovider", "--expectations", str(listed)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, "--report-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 4, done.stdout[-2000:]
    assert f"{listed}, line 2: tests filter '[htpx]' matches no collected test" in done.stderr


def test_an_entry_whose_requirement_had_nothing_to_evaluate_in_the_tests_it_admits_is_not_stale():
    """A partial run (-k) may judge only a form's non-streamed test, where a streamed quirk's
    requirement has nothing to evaluate: the run says nothing about the entry."""
    quirk = entry(requirement="tools.index-stable", line=1)
    idle = record(requirements={"tools.index-stable": Outcome.NOT_APPLICABLE})
    assert stale([quirk], [idle]) == []
    held = record(requirements={"tools.index-stable": Outcome.PASS})
    assert stale([quirk], [idle, held]) == [quirk]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_an_empty_expectations_file_means_no_known_deviation(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    assert load(path) == []


# --- versions: entries narrowed to releases of the clients under test ---------------------------


@pytest.mark.parametrize(
    ("versions", "covers"),
    [
        ({"litellm": "1.110.2"}, True),
        ({"litellm": "1.200.0rc1"}, True),  # a pre-release inside the range is that range's code
        ({"litellm": "1.109.9"}, False),
        ({"litellm": "2.0.0"}, False),
        ({"litellm": None}, False),  # not installed: unknown, so outside every range
        ({}, False),
        ({"litellm": "not a version"}, False),
    ],
)
def test_an_entry_with_versions_covers_only_a_run_whose_version_is_known_and_in_range(versions, covers):
    narrowed = entry(versions=(("litellm", ">=1.110,<2"),))
    assert narrowed.covers("r", {**TEST, "versions": versions}) is covers


def test_an_entry_with_versions_needs_every_named_package_in_its_range():
    both = entry(versions=(("litellm", ">=1.110"), ("openai-node", ">=6")))
    assert both.covers("r", {**TEST, "versions": {"litellm": "1.111.0", "openai-node": "6.2.0"}})
    assert not both.covers("r", {**TEST, "versions": {"litellm": "1.111.0", "openai-node": "5.9.0"}})


def test_a_test_that_knows_no_versions_is_outside_a_versioned_entry_but_not_an_unversioned_one():
    """Unlike forms or lanes, an unknown version is never let in: the range is what the entry says."""
    assert not entry(versions=(("openai", ">=2"),)).covers("r", TEST)
    assert entry().covers("r", TEST)


def test_versions_are_read_from_the_file_as_package_range_pairs(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(f"- {{{HELD}, versions: {{litellm: '>=1.110,<2', openai-node: '>=6'}}}}\n")
    [loaded] = load(path)
    assert loaded.versions == (("litellm", ">=1.110,<2"), ("openai-node", ">=6"))


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ("{litelm: '>=1'}", "line 1: unknown package 'litelm' in 'versions': use one of openai, "),
        ("{litellm: '1.110'}", "line 1: '1.110' (litellm) is not a PEP 440 version range"),
        ("{litellm: '=>1.110'}", "'=>1.110' (litellm) is not a PEP 440 version range"),
        ("{litellm: 2}", "the range of 'litellm' in 'versions' must be a non-empty string"),
        ("[litellm]", "'versions' must map package names to PEP 440 ranges"),
        ("{}", "'versions' must map package names to PEP 440 ranges"),
    ],
    ids=["unknown package", "no operator", "malformed", "a number", "a list", "empty"],
)
def test_a_bad_versions_filter_is_one_clear_error_naming_the_entry(tmp_path, versions, message):
    path = tmp_path / "x.yaml"
    path.write_text(f"- {{{HELD}, versions: {versions}}}\n")
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value).startswith(f"expectations file {path}, line 1: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_judge_applies_a_versioned_entry_only_inside_its_range():
    from vertex_conformance.exchange import Exchange
    from vertex_conformance.judge import Case
    from vertex_conformance.judge import judge as judge_case

    error = Exchange(None, 500, {}, body_text="{}")
    listed = [Expectation("http.success", "why", "l", versions=(("litellm", ">=1.110,<2"),))]

    def outcome(version: str) -> Outcome:
        case = Case("suites/test_x.py::test_x[litellm]", "vertex", versions={"litellm": version})
        return judge_case(case, [error], listed).requirements["http.success"]

    assert outcome("1.110.2") is Outcome.KNOWN_DEVIATION
    assert outcome("2.1.0") is Outcome.FAIL


def test_a_versioned_entry_never_goes_stale_from_records_that_keep_no_versions():
    """A run's records do not say which client release judged them, so whether the entry's range
    was run is unknown: it is left alone rather than removed."""
    versioned = entry(requirement="schema.response", versions=(("litellm", ">=1.110"),), line=1)
    assert stale([versioned], [record()]) == []
