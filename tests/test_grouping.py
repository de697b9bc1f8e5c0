"""Grouping a run's failures by requirement and cause: one cause, one line, however many tests."""

from __future__ import annotations

from result_documents import results

from vertex_conformance.grouping import UNEXPECTED_PASS, by_requirement, causes, normalise
from vertex_conformance.results import FindingRecord, TestRecord
from vertex_conformance.vocabulary import Outcome

USAGE = "usage.total"


def failed(nodeid: str, *findings: tuple[str, str]) -> TestRecord:
    """A judged test that failed with ``findings`` (requirement, message)."""
    return TestRecord(
        nodeid=nodeid,
        outcome=Outcome.FAIL,
        form="plain",
        lane="httpx",
        requirements={rid: Outcome.FAIL for rid, _ in findings},
        findings=tuple(FindingRecord(rid, "$.response", message, Outcome.FAIL) for rid, message in findings),
    )


def run(*records: TestRecord) -> tuple[TestRecord, ...]:
    """The records as a validated results document holds them (what the reports group)."""
    return results(*records).tests


def test_messages_that_differ_only_in_numbers_are_one_cause():
    groups = causes(
        run(
            failed("suites/test_plain.py::a", (USAGE, "total 31 is not 9 + 21")),
            failed("suites/test_plain.py::b", (USAGE, "total 45 is not 27 + 17")),
        )
    )
    [cause] = groups
    assert (cause.requirement, cause.pattern, cause.tests, cause.findings) == (
        USAGE,
        "total <n> is not <n> + <n>",
        2,
        2,
    )
    assert cause.example == "total 31 is not 9 + 21"


def test_json_path_indexes_quoted_values_and_ids_are_placeholders():
    assert normalise("$.choices[0].delta sent 'gemini-x'") == normalise('$.choices[3].delta sent "gpt"')
    assert normalise("id chatcmpl-9f3a0b1c2d changed") == "id <id> changed"
    assert normalise("model google/gemini-2.5-flash is gone") == "model google/<id> is gone"
    assert normalise('expected `a`, got "b\\"c"') == "expected <value>, got <value>"


def test_an_apostrophe_is_not_a_quote():
    assert normalise("Vertex's answer doesn't hold 3 items") == "Vertex's answer doesn't hold <n> items"


def test_http_statuses_stay_so_a_404_and_a_500_are_different_causes():
    groups = causes(
        run(
            failed("suites/test_plain.py::a", ("http.success", "the documented form was answered 404: x")),
            failed("suites/test_plain.py::b", ("http.success", "the documented form was answered 500: x")),
        )
    )
    assert sorted(c.pattern for c in groups) == [
        "the documented form was answered 404: x",
        "the documented form was answered 500: x",
    ]
    assert normalise("HTTP 503 after 3 attempts, status 429") == "HTTP 503 after <n> attempts, status 429"


def test_the_same_message_under_two_requirements_is_two_causes():
    groups = causes(
        run(failed("suites/test_plain.py::a", ("schema.response", "m"), ("response.object", "m")))
    )
    assert sorted(c.requirement for c in groups) == ["response.object", "schema.response"]


def test_causes_come_most_frequent_first_with_findings_and_tests_counted_apart():
    records = [
        failed(f"suites/test_plain.py::t{i}", (USAGE, f"total {i}"), (USAGE, f"total {i + 1}"))
        for i in range(3)
    ]
    records.append(failed("suites/test_plain.py::z", ("response.object", "object is 'x'")))
    first, second = causes(run(*records))
    assert (first.requirement, first.tests, first.findings) == (USAGE, 3, 6)
    assert (second.requirement, second.tests, second.findings) == ("response.object", 1, 1)


def test_a_cause_keeps_a_few_example_test_ids_in_node_id_order():
    records = [failed(f"suites/test_plain.py::t{i}", (USAGE, "total 1")) for i in (4, 2, 3, 1, 0)]
    [cause] = causes(run(*records))
    assert cause.tests == 5
    assert cause.examples == (
        "suites/test_plain.py::t0",
        "suites/test_plain.py::t1",
        "suites/test_plain.py::t2",
    )


def test_known_deviations_and_passes_are_not_failures():
    deviation = TestRecord(
        nodeid="suites/test_plain.py::known",
        outcome=Outcome.KNOWN_DEVIATION,
        requirements={"tools.index-stable": Outcome.KNOWN_DEVIATION},
        findings=(FindingRecord("tools.index-stable", "$.events[1]", "index 1", Outcome.KNOWN_DEVIATION),),
    )
    passed = TestRecord(
        nodeid="suites/test_plain.py::ok", outcome=Outcome.PASS, requirements={USAGE: Outcome.PASS}
    )
    assert causes(run(deviation, passed)) == ()


def test_tests_that_ended_before_a_verdict_group_by_their_error_under_no_requirement():
    records = [
        TestRecord(nodeid=f"suites/test_plain.py::t{i}", outcome=Outcome.INFRA, error=f"HTTP 503 after {i} s")
        for i in range(4)
    ]
    records.append(TestRecord(nodeid="suites/test_plain.py::e", outcome=Outcome.ERROR, error="no cassette"))
    infra, error = causes(run(*records))
    assert (infra.requirement, infra.outcome, infra.pattern, infra.tests) == (
        None,
        Outcome.INFRA,
        "HTTP 503 after <n> s",
        4,
    )
    assert (error.outcome, error.pattern) == (Outcome.ERROR, "no cassette")


def test_an_unexpected_pass_is_a_failure_of_its_requirement():
    record = TestRecord(
        nodeid="suites/test_plain.py::u",
        outcome=Outcome.UNEXPECTED_PASS,
        requirements={"tools.index-stable": Outcome.UNEXPECTED_PASS, USAGE: Outcome.PASS},
    )
    [cause] = causes(run(record))
    assert (cause.requirement, cause.outcome, cause.pattern) == (
        "tools.index-stable",
        Outcome.UNEXPECTED_PASS,
        UNEXPECTED_PASS,
    )


def test_by_requirement_gathers_causes_and_counts_each_test_once():
    records = [
        failed("suites/test_plain.py::a", (USAGE, "total 1"), (USAGE, "prompt 'x' missing")),
        failed("suites/test_plain.py::b", (USAGE, "total 2")),
        failed("suites/test_plain.py::c", ("response.object", "object 'x'")),
    ]
    usage, objects = by_requirement(run(*records))
    assert (usage.requirement, usage.tests, usage.findings) == (USAGE, 2, 3)
    assert [c.pattern for c in usage.causes] == ["total <n>", "prompt <value> missing"]
    assert (objects.requirement, objects.tests, objects.findings) == ("response.object", 1, 1)


def test_one_cause_across_a_hundred_tests_is_one_line():
    """The issue's run: a server without the Vertex path fails every test with the same 404."""
    records = [
        failed(
            f"suites/test_plain.py::t{i:03}",
            *[("http.success", f"the documented form was answered 404: Not Found /v1/x{i}")] * 4,
        )
        for i in range(117)
    ]
    [group] = by_requirement(run(*records))
    assert (group.tests, group.findings, len(group.causes)) == (117, 468, 1)
