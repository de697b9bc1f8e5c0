"""The matrix page: its content from hand-made reports, the page a real run writes, and how a
real browser (headless Chromium) renders it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from result_documents import results

from vertex_conformance import matrix
from vertex_conformance.baseline import compare
from vertex_conformance.cli import main
from vertex_conformance.paths import ROOT
from vertex_conformance.results import Incomplete, Results, load
from vertex_conformance.vocabulary import LANES, SUITE_LANES, Outcome

PLACEMENT = "suites/test_extra_content.py::test_extra_content_placement[{}]"


def record(
    nodeid: str, form: str | None, lane: str, streamed: bool, outcome: str, **extra: Any
) -> dict[str, Any]:
    return {"nodeid": nodeid, "form": form, "lane": lane, "streamed": streamed, "outcome": outcome, **extra}


FAILING = record(
    "suites/test_plain.py::test_plain_chat[httpx]",
    "plain",
    "httpx",
    False,
    "fail",
    status=200,
    requirements={"usage.vertex-total": "fail", "response.object": "pass"},
    findings=[
        {
            "requirement": "usage.vertex-total",
            "path": "$.response.usage.total_tokens",
            "message": "total = prompt + completion + reasoning does not hold",
            "outcome": "fail",
        }
    ],
    evidence={
        "lane": "httpx",
        "request": {
            "method": "POST",
            "url": "https://{LOCATION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}"
            "/endpoints/openapi/chat/completions",
            "body": '{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}]}',
            "truncated": False,
        },
        "response": {"status": 200, "body": '{"object":"chat.completion"}', "truncated": True},
    },
    cassette={
        "path": "fixtures/cassettes/vertex/test_plain/test_plain_chat[httpx].yaml",
        "source": "documented-sample",
        "recorded_at": "2026-11-25T09:36:08Z",
    },
)
DEVIATION = record(
    "suites/test_streaming.py::test_streaming_chat[sdk]",
    "streaming",
    "sdk",
    True,
    "known-deviation",
    requirements={"sdk.stream-message": "known-deviation"},
    findings=[
        {
            "requirement": "sdk.stream-message",
            "path": "$.assembled.choices[0].message.role",
            "message": 'assembled "assistantassistant"',
            "outcome": "known-deviation",
        }
    ],
    expectations={
        "sdk.stream-message": {"reason": "Every Vertex delta repeats role", "link": "docs/sdk-gate.md"}
    },
)
PLACEMENTS = [
    record(PLACEMENT.format("httpx-message-plain"), "extra-content", "httpx", False, "pass"),
    record(PLACEMENT.format("httpx-part-plain"), "extra-content", "httpx", False, "known-deviation"),
    record(PLACEMENT.format("httpx-tool-call-plain"), "extra-content", "httpx", False, "pass"),
]
PROBE = record(
    "suites/test_probes.py::test_probe_n_greater_than_one[sdk-async]",
    "probe-n-choices",
    "sdk-async",
    False,
    "infra",
    error="HTTP 429",
)


def document(*tests: dict[str, Any]) -> Results:
    return results(*tests)


class Page(HTMLParser):
    """What a test needs to see of a page: rows, cells, ids, links, any outside reference, the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[str] = []  # data-form of every matrix row, in order
        self.ids: list[str] = []
        self.links: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value) that could load anything
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if "data-form" in values:
            self.rows.append(values["data-form"] or "")
        if "id" in values:
            self.ids.append(values["id"] or "")
        if tag == "a" and "href" in values:
            self.links.append(values["href"] or "")
        for name in ("src", "srcset", "action", "poster", "data", "background", "formaction"):
            if name in values:
                self.references.append((tag, name, values[name] or ""))
        if tag == "link":
            self.references.append((tag, "href", values.get("href") or ""))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def cell_of(html: str, form: str) -> str:
    """The HTML of one matrix row."""
    start = html.index(f'<tr data-form="{form}">')
    return html[start : html.index("</tr>", start)]


# --- content ------------------------------------------------------------------------------------


def test_every_documented_form_is_a_row_in_spec_order_and_an_untested_one_says_not_run():
    html = matrix.render(document(FAILING, DEVIATION))
    page = Page(html)
    assert (
        page.rows[:13]
        == list(matrix.FORMS)
        == [
            "plain",
            "streaming",
            "self-deployed",
            "global",
            "v1beta1",
            "extra-body",
            "extra-content",
            "thinking",
            "function-call-arguments",
            "image-output",
            "multimodal-input",
            "multimodal-function-response",
            "structured-output",
        ]
    )
    assert "not run" in cell_of(html, "thinking")
    assert "not run" not in cell_of(html, "plain")
    for title in matrix.FORMS.values():
        assert title in page.all_text


# A client lane's heading names its client's version (none is installed in these documents)
LANE_HEADINGS = " ".join(
    f"{lane.id} {lane.package} not installed" if lane.client else lane.id for lane in LANES.values()
)


def test_columns_are_every_registered_lane_by_streamed_then_other_lanes_when_present():
    html = matrix.render(document(FAILING))
    streams = " not streamed streamed" * len(SUITE_LANES)
    assert LANE_HEADINGS + streams in Page(html).all_text
    row = cell_of(html, "plain")
    assert row.count("<td") == 2 * len(SUITE_LANES)
    assert row.index("o-fail") < row.index("—")  # httpx, not streamed comes first
    gateway = record("suites/test_plain.py::test_plain_chat[grpc]", "plain", "grpc", False, "pass")
    html = matrix.render(document(FAILING, gateway))
    assert LANE_HEADINGS + " grpc" + streams + " not streamed streamed" in Page(html).all_text
    assert cell_of(html, "plain").count("<td") == 2 * len(SUITE_LANES) + 2


def test_a_cell_shows_its_worst_outcome_with_a_count_and_lists_each_test():
    html = matrix.render(document(*PLACEMENTS))
    row = cell_of(html, "extra-content")
    assert 'class="cell o-known-deviation"' in row
    assert '<div class="verdict">known deviation</div><div class="count">1 of 3 tests</div>' in row
    labels = Page(row).all_text
    for part, outcome in (("message", "pass"), ("part", "known deviation"), ("tool-call", "pass")):
        assert f"extra_content_placement [{part}] ({outcome})" in labels


def test_every_cell_links_to_an_evidence_section_on_the_page():
    tests = [FAILING, DEVIATION, *PLACEMENTS, PROBE]
    page = Page(matrix.render(document(*tests)))
    targets = {link for link in page.links if link != "#matrix"}
    assert len(targets) == len(tests)
    assert all(link.startswith("#") and link[1:] in page.ids for link in page.links)
    assert len(page.ids) == len(set(page.ids))


def test_evidence_shows_the_request_findings_expectations_and_provenance():
    text = Page(matrix.render(document(FAILING, DEVIATION))).all_text
    for expected in (
        "suites/test_plain.py::test_plain_chat[httpx]",
        "POST https://{LOCATION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}"
        "/endpoints/openapi/chat/completions",
        '{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}]}',
        "HTTP status 200",
        '{"object":"chat.completion"} … (cut short)',
        "usage.vertex-total fail $.response.usage.total_tokens total = prompt + completion + reasoning",
        "fixtures/cassettes/vertex/test_plain/test_plain_chat[httpx].yaml",
        "documented-sample",
        "2026-11-25T09:36:08Z",
        "sdk.stream-message Every Vertex delta repeats role docs/sdk-gate.md",
        "$.assembled.choices[0].message.role",
        "2 requirements evaluated",
    ):
        assert expected in text, expected


def test_the_header_names_the_sdk_and_its_http_library_the_run_and_the_summary():
    text = Page(matrix.render(document(FAILING, DEVIATION, *PLACEMENTS))).all_text
    assert "openai 3.57.0 on httpx2" in text
    assert "mode replay target gemini" in text
    assert "5 tests: 2 pass 1 fail 2 known deviation 0 unexpected pass 0 unsupported 0 infra 0 error" in text
    for outcome in Outcome:
        assert matrix.DESCRIPTIONS[outcome] in text
    assert "not run no test of the form in this run" in text


def test_probes_get_their_own_table_not_a_documented_form_row():
    html = matrix.render(document(FAILING, PROBE))
    assert html.index("Other tests") < html.index('<tr data-form="probe-n-choices">')
    assert 'class="cell o-infra"' in cell_of(html, "probe-n-choices")
    assert "HTTP 429" in Page(html).all_text


def test_a_test_is_placed_by_the_lane_its_record_carries_never_by_its_id():
    """The id says httpx, the record sdk-async: the record wins (ids are not parsed). A record that
    never named its stream mode gets a column of its own."""
    unsupported = {
        "nodeid": "suites/test_self_deployed.py::test_self_deployed_endpoint[httpx-plain]",
        "form": "self-deployed",
        "lane": "sdk-async",
        "outcome": "unsupported",
        "reason": "no --endpoint-id given",
    }
    [placed] = document(unsupported).tests
    assert matrix.lane_of(placed) == "sdk-async"
    html = matrix.render(document(unsupported))
    assert "streamed?" in html
    row = cell_of(html, "self-deployed")
    cells = row.split("<td")[1:]
    assert len(cells) == 3 * len(SUITE_LANES)
    unsupported_at = 3 * SUITE_LANES.index("sdk-async") + 2  # the sdk-async lane's "streamed?" column
    assert ['class="cell o-unsupported"' in cell for cell in cells] == [
        position == unsupported_at for position in range(len(cells))
    ]


def test_a_test_without_a_lane_gets_an_unknown_column_not_a_guess():
    stopped = {"nodeid": "suites/test_plain.py::test_plain_chat[sdk]", "form": "plain", "outcome": "error"}
    [placed] = document(stopped).tests
    assert matrix.lane_of(placed) == "unknown"
    assert LANE_HEADINGS + " unknown" in Page(matrix.render(document(stopped))).all_text


def test_everything_from_the_report_is_escaped():
    hostile = record(
        'suites/test_plain.py::test_plain_chat[<script>alert("x")</script>]',
        "plain",
        "httpx",
        False,
        "fail",
        findings=[
            {"requirement": "r", "path": "$.a", "message": "<img src=x onerror=alert(1)>", "outcome": "fail"}
        ],
        evidence={
            "request": {
                "method": "POST",
                "url": 'http://h/"><script>',
                "body": "</pre><marquee>",
                "truncated": False,
            },
            "response": {"status": 400, "body": "<blink>", "truncated": False},
        },
    )
    html = matrix.render(document(hostile))
    page = Page(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "marquee" not in page.tags
    assert "blink" not in page.tags
    assert '<script>alert("x")</script>' in page.all_text
    assert "<img src=x onerror=alert(1)>" in page.all_text


def test_the_page_is_self_contained_no_script_and_no_outside_reference():
    html = matrix.render(document(FAILING, DEVIATION, *PLACEMENTS, PROBE))
    page = Page(html)
    assert page.references == []
    assert "script" not in page.tags
    assert all(link.startswith("#") for link in page.links)
    style = html[html.index("<style>") : html.index("</style>")]
    assert "url(" not in style
    assert "@import" not in style
    assert "@font-face" not in style
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html


# --- the command --------------------------------------------------------------------------------


def test_the_matrix_command_writes_the_page(tmp_path, capsys):
    source = tmp_path / "results.json"
    source.write_text(document(FAILING, DEVIATION).to_json(), encoding="utf-8")
    output = tmp_path / "out" / "index.html"
    assert main(["matrix", str(source), "-o", str(output)]) == 0
    assert capsys.readouterr().out.strip() == f"{output}: 2 tests"
    assert output.read_text(encoding="utf-8") == matrix.render(load(source))


@pytest.mark.parametrize(
    ("content", "output", "fragment"),
    [
        (None, "index.html", "run.json: cannot read"),
        ('{"format": "vertex-conformance/comparison"}', "index.html", "format is"),
        ("ok", "a-file/index.html", "cannot write"),
    ],
)
def test_the_matrix_command_exits_2_with_one_line(tmp_path, capsys, content, output, fragment):
    source = tmp_path / "run.json"  # not results.json: the conftest would refuse the bad one itself
    if content == "ok":
        source.write_text(document().to_json(), encoding="utf-8")
        (tmp_path / "a-file").write_text("", encoding="utf-8")
    elif content is not None:
        source.write_text(content, encoding="utf-8")
    assert main(["matrix", str(source), "-o", str(tmp_path / output)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert fragment in err


# --- a real run, in a real browser --------------------------------------------------------------


@pytest.fixture(scope="module")
def run_page(tmp_path_factory) -> tuple[Path, Results]:
    """The index.html a full offline run writes next to its results.json."""
    reports = tmp_path_factory.mktemp("matrix-run")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-p",
            "no:cacheprovider",
            "-q",
            "--report-dir",
            str(reports),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return reports / "index.html", load(reports / "results.json")


@pytest.mark.slow
def test_every_conformance_run_writes_the_page_with_each_tests_wire_evidence(run_page):
    page, results = run_page
    html = page.read_text(encoding="utf-8")
    assert html == matrix.render(results)
    for test in results.tests:
        evidence = test.evidence if isinstance(test.evidence, list) else [test.evidence]
        if test.status is None:  # a client's request a replay could not answer: the request alone
            assert "not_replayable" in test.notes
            assert [list(item) for item in evidence] == [["lane", "request"]]
        else:
            statuses = test.status if isinstance(test.status, list) else [test.status]
            assert [item["response"]["status"] for item in evidence] == statuses
            assert all(0 < len(item["response"]["body"]) <= 2000 for item in evidence)
        for item in evidence:
            assert item["request"]["method"] == "POST"
            assert "/projects/{PROJECT}/" in item["request"]["url"]
            assert 0 < len(item["request"]["body"]) <= 2000
    for form in matrix.FORMS:
        assert "not run" not in cell_of(html, form)


def chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=180)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
@pytest.mark.skipif(
    chromium() is None, reason="no chromium binary (.ci/run installs the Debian package chromium)"
)
def test_chromium_renders_every_form_and_the_outcomes(run_page, tmp_path):
    page, results = run_page
    binary = chromium()
    assert binary is not None
    dumped = run_chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    rendered = Page(dumped.stdout)
    assert rendered.rows[:13] == list(matrix.FORMS)
    text = rendered.all_text
    for title in matrix.FORMS.values():
        assert title in text
    summary = results.summary
    assert f"{summary['pass']} pass" in text
    assert f"{summary['known-deviation']} known deviation" in text
    for test in results.tests:
        assert test.nodeid in text

    shot = tmp_path / "m.png"
    taken = run_chromium(
        binary, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1800", page.as_uri()
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert png_size(shot) == (1400, 1800)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


# --- the verdict first --------------------------------------------------------------------------


def body_text(html: str) -> str:
    """What a reader sees, from the top of the page (the title and the styles left out)."""
    return Page(html[html.index("<body>") :]).all_text


def test_a_failed_gate_opens_the_page_with_its_regressions_linked_to_their_evidence():
    was = {**FAILING, "outcome": "pass", "requirements": {"usage.vertex-total": "pass"}, "findings": []}
    comparison = compare(document(was), document(FAILING))
    html = matrix.render(document(FAILING), comparison)
    page = Page(html)
    assert body_text(html).startswith("GATE FAILED: 1 regression")
    assert html.index('id="gate"') < html.index("<header>")
    gate = html[html.index('id="gate"') : html.index("</section>")]
    assert "usage.vertex-total" in gate and "pass → fail" in gate
    [link] = Page(gate).links
    assert link.removeprefix("#") in page.ids


def test_a_passed_gate_says_so_and_a_page_without_a_baseline_has_no_verdict():
    comparison = compare(document(FAILING), document(FAILING))
    assert body_text(matrix.render(document(FAILING), comparison)).startswith("GATE PASSED")
    assert "GATE" not in body_text(matrix.render(document(FAILING)))


def test_an_incomplete_run_opens_the_page_with_the_tests_it_never_ran():
    stopped = dataclasses.replace(
        document(FAILING), incomplete=Incomplete("stopped by SIGTERM", ("suites/test_x.py::t[httpx]",))
    )
    text = body_text(matrix.render(stopped))
    assert text.startswith("RUN INCOMPLETE: 1 test not run stopped by SIGTERM suites/test_x.py::t[httpx]")


def test_stale_expectations_are_listed_on_the_page_with_their_line():
    entry = {
        "requirement": "tools.index-stable",
        "reason": "index changes",
        "link": "docs/spec.md",
        "file": "expectations/gemini.yaml",
        "line": 7,
    }
    stale = dataclasses.replace(document(FAILING), stale=(entry,))
    text = body_text(matrix.render(stale))
    assert "Stale expectations" in text
    assert "expectations/gemini.yaml line 7: tools.index-stable — index changes" in text
    assert "Stale expectations" not in body_text(matrix.render(document(FAILING)))


def test_the_page_groups_failures_by_cause_before_the_matrix():
    html = matrix.render(document(FAILING))
    assert html.index('id="causes"') < html.index('id="matrix"')
    assert "usage.vertex-total" in html[html.index('id="causes"') : html.index('id="matrix"')]
