"""Many targets in one run (``--targets FILE``): the file and every refusal, test ids with and without
targets, the expectations and the page, and a two-target run recorded and replayed on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from result_documents import results

from tools.sample_server import serve_samples
from vertex_conformance import matrix, targets_file
from vertex_conformance.config import REDACTED, ConfigError, RunConfig
from vertex_conformance.expectations import Expectation, facts_of, untargeted
from vertex_conformance.paths import ROOT
from vertex_conformance.results import TestRecord, load

PROJECT = "targets-proj-123"
TOKEN = "targets-test-token"
ENDPOINT_ID = "98765432101"
TWO = """\
- name: us-flash
  model: google/gemini-3.5-flash
  location: us-central1
- name: eu.pro
  model: gemini-3-pro
  location: europe-west4
  api_version: v1beta1
  endpoint_id: 1234567
  base_url: https://gw.example/proxy/vertex/
  expectations: eu.yaml
"""
EU_EXPECTATIONS = "- requirement: snapshot.shape\n  reason: eu answers differ\n  link: docs/spec.md\n"


def config(targets: Path, **options: Any) -> RunConfig:
    """A record run's configuration (no cassettes needed) with ``targets``."""
    values = {"mode": "record", "project": PROJECT, "targets": str(targets), **options}
    return RunConfig.from_sources(values, {"VERTEX_ACCESS_TOKEN": TOKEN})


def write(tmp_path: Path, text: str, name: str = "targets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_each_target_is_the_runs_configuration_with_its_own_settings(tmp_path: Path) -> None:
    (tmp_path / "eu.yaml").write_text(EU_EXPECTATIONS, encoding="utf-8")
    cfg = config(write(tmp_path, TWO), cassette_dir=str(tmp_path / "cassettes"))
    us, eu = targets_file.load(cfg)
    assert (us.name, us.config.model, us.config.location, us.config.api_version) == (
        "us-flash",
        "gemini-3.5-flash",
        "us-central1",
        "v1",
    )
    assert (eu.config.model, eu.config.location, eu.config.api_version) == (
        "gemini-3-pro",
        "europe-west4",
        "v1beta1",
    )
    assert eu.config.base_url == "https://gw.example/proxy/vertex"  # normalised as --base-url is
    assert eu.config.endpoint_id == "1234567" and us.config.endpoint_id is None
    assert eu.config.image_model == us.config.image_model == cfg.image_model  # left out: the run's
    assert (us.config.cassette_dir, eu.config.cassette_dir) == (
        tmp_path / "cassettes" / "us-flash",
        tmp_path / "cassettes" / "eu.pro",
    )
    assert len(eu.expectations) == len(us.expectations) + 1 and [e.requirement for e in eu.own] == [
        "snapshot.shape"
    ]
    assert eu.expectations_file == tmp_path / "eu.yaml" and us.expectations_file is None


def test_the_report_lists_every_target_with_its_settings_and_no_endpoint_id(tmp_path: Path) -> None:
    (tmp_path / "eu.yaml").write_text(EU_EXPECTATIONS, encoding="utf-8")
    listed = config(write(tmp_path, TWO)).describe()["targets"]
    assert listed["file"] == str((tmp_path / "targets.yaml").resolve())
    assert [e["name"] for e in listed["entries"]] == ["us-flash", "eu.pro"]
    eu = listed["entries"][1]
    assert eu["endpoint_id"] == REDACTED and "1234567" not in json.dumps(listed)
    assert eu["expectations"] == ["expectations/gemini.yaml", str((tmp_path / "eu.yaml").resolve())]
    assert RunConfig.from_sources({}, {}).describe()["targets"] is None


# (file, what the one line says after the file's name): each a fault the run must refuse.
REFUSALS = [
    ("- name: a\n  model: [", r": not valid YAML: "),
    ("name: a\n", r": must hold a list of targets \(at least one\)$"),
    ("[]\n", r": must hold a list of targets"),
    ("", r": must hold a list of targets"),
    ("- just a string\n", r", entry 1, line 1: expected a mapping of settings$"),
    (
        "- name: a\n  model: m\n  location: us-central1\n  regoin: x\n",
        r", entry 1 \('a'\), line 4, key 'regoin': unknown key 'regoin' \(allowed: name, model, ",
    ),
    ("- name: a\n  location: us-central1\n", r", entry 1 \('a'\), line 1: missing key 'model' \(required: "),
    (
        "- name: a\n  model: m\n  location: us-central1\n- name: b b\n  model: m\n  location: us-east1\n",
        r", entry 2 \('b b'\), line 4, key 'name': 'b b' is not an id of letters, digits",
    ),
    (
        "- name: a\n  model: m\n  location: Europe\n",
        r", entry 1 \('a'\), line 3, key 'location': 'Europe' is not a region id like us-central1, or global",
    ),
    (
        "- name: a\n  model: m\n  location: global\n  api_version: v2\n",
        r", entry 1 \('a'\), line 4, key 'api_version': 'v2' is not v1 or v1beta1$",
    ),
    (
        "- name: a\n  model: gemini 3\n  location: global\n",
        r", key 'model': 'gemini 3' is not a bare Gemini model id",
    ),
    (
        "- name: a\n  model: m\n  location: global\n  endpoint_id: -4\n",
        r", key 'endpoint_id': -4 is not a self-deployed endpoint's id",
    ),
    (
        "- name: a\n  model: m\n  location: global\n  base_url: https://h.example/v1/projects/p\n",
        r", entry 1 \('a'\), line 4, key 'base_url': base URL .* already holds the documented path",
    ),
    (
        "- name: a\n  model: m\n  location: global\n- name: a\n  model: n\n  location: us-east1\n",
        r", entry 2 \('a'\), line 4, key 'name': name 'a' is taken by entry 1$",
    ),
    (
        "- name: a\n  model: m\n  model: n\n  location: global\n",
        r", entry 1 \('a'\), line 2, key 'model': key 'model' given twice$",
    ),
    (
        "- name: a\n  model: m\n  location: global\n  expectations: missing.yaml\n",
        r", key 'expectations': no file .*missing\.yaml$",
    ),
    (
        "- name: a\n  model: m\n  location: global\n  expectations: bad.yaml\n",
        r", key 'expectations': expectations file .*bad\.yaml, line 1: unknown requirement 'no.such'",
    ),
]


REFUSED = (
    "not-yaml", "not-a-list", "empty-list", "empty-file", "not-a-mapping", "unknown-key", "missing-key",
    "bad-name", "bad-location", "bad-api-version", "bad-model", "bad-endpoint-id", "base-url-with-path",
    "duplicate-name", "duplicate-key", "missing-expectations", "bad-expectations",
)  # fmt: skip


@pytest.mark.parametrize(("text", "says"), REFUSALS, ids=REFUSED)
def test_a_faulty_targets_file_is_refused_in_one_line_naming_the_entry_and_key(
    tmp_path: Path, text: str, says: str
) -> None:
    (tmp_path / "bad.yaml").write_text("- requirement: no.such\n  reason: r\n  link: l\n", encoding="utf-8")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        targets_file.load(config(path))
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"targets file {path}")
    assert re.search(says, line), line


def test_a_targets_file_that_is_not_there_is_refused_with_the_option_to_check(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^targets file .*nowhere\.yaml does not exist: check --targets$"):
        config(tmp_path / "nowhere.yaml")


def test_replay_refuses_a_target_without_cassettes_of_its_own(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    (cassettes / "recorded" / "test_plain").mkdir(parents=True)
    (cassettes / "recorded" / "test_plain" / "x.yaml").write_text("meta: {}\n", encoding="utf-8")
    path = write(
        tmp_path,
        "- name: recorded\n  model: m\n  location: global\n- name: new\n  model: m\n  location: global\n",
    )
    cfg = RunConfig.from_sources({"targets": str(path), "cassette_dir": str(cassettes)}, {})
    with pytest.raises(
        ConfigError, match=r"entry 2 \('new'\), line 4, key 'name': no cassette under .*new: record"
    ):
        targets_file.load(cfg)


@pytest.mark.parametrize(
    ("nodeid", "name", "without"),
    [
        (
            "suites/test_plain.py::test_plain_chat[httpx-eu]",
            "eu",
            "suites/test_plain.py::test_plain_chat[httpx]",
        ),
        ("suites/test_g.py::test_g[httpx-plain-plain]", "plain", "suites/test_g.py::test_g[httpx-plain]"),
        ("suites/test_x.py::test_x[eu.pro]", "eu.pro", "suites/test_x.py::test_x"),
        (
            "suites/test_plain.py::test_plain_chat[httpx]",
            None,
            "suites/test_plain.py::test_plain_chat[httpx]",
        ),
        (
            "suites/test_plain.py::test_plain_chat[httpx-us]",
            "eu",
            "suites/test_plain.py::test_plain_chat[httpx-us]",
        ),
    ],
)
def test_a_test_id_without_its_target_is_the_id_of_a_run_without_targets(
    nodeid: str, name: str | None, without: str
) -> None:
    assert untargeted(nodeid, name) == without


def test_an_expectations_tests_filter_names_tests_as_a_run_without_targets_does() -> None:
    entry = Expectation("r", "why", "where", tests=("test_plain_chat[httpx]",))
    targeted = TestRecord("suites/test_plain.py::test_plain_chat[httpx-eu]", "pass", target_name="eu")
    assert entry.admits(facts_of(targeted))
    unnamed = TestRecord("suites/test_plain.py::test_plain_chat[httpx-eu]", "pass")  # no target: no stripping
    assert not entry.admits(facts_of(unnamed))


def record(nodeid: str, form: str, target: str, outcome: str) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "outcome": outcome,
        "form": form,
        "lane": "httpx",
        "streamed": False,
        "target_name": target,
    }


TARGETS_RUN = {
    "file": "targets.yaml",
    "entries": [
        {
            "name": n,
            "model": "gemini-3.5-flash",
            "location": loc,
            "api_version": "v1",
            "cassette_dir": "c",
            "expectations": [],
        }
        for n, loc in (("us", "us-central1"), ("eu", "europe-west4"))
    ],
}


def test_the_page_shows_targets_by_form_with_the_worst_outcome_and_its_count() -> None:
    document = results(
        record("suites/test_plain.py::test_plain_chat[httpx-us]", "plain", "us", "pass"),
        record("suites/test_plain.py::test_plain_chat[sdk-us]", "plain", "us", "pass"),
        record("suites/test_plain.py::test_plain_chat[httpx-eu]", "plain", "eu", "pass"),
        record("suites/test_plain.py::test_plain_chat[sdk-eu]", "plain", "eu", "fail"),
        record("suites/test_streaming.py::test_streaming_chat[httpx-eu]", "streaming", "eu", "pass"),
        targets=TARGETS_RUN,
    )
    page = matrix.render(document)
    table = page[page.index('<h2 id="targets">') : page.index("</table>", page.index('<h2 id="targets">'))]
    assert table.index('data-target="us"') < table.index('data-target="eu"')  # the file's order
    us, eu = table.split('data-target="eu"')
    assert re.search(r'class="cell o-pass">.*>pass</a><div class="count">2 of 2<', us)
    assert re.search(
        r'class="cell o-fail"><a class="verdict" href="#t-suites-test_plain.py-test_plain_chat-sdk-eu">'
        r'fail</a><div class="count">1 of 2<',
        eu,
    )
    assert us.count('class="empty"') == 1  # us ran no streaming test
    assert "europe-west4" in eu


def test_a_run_of_one_target_has_no_targets_table() -> None:
    one = results(
        record("suites/test_plain.py::test_plain_chat[httpx-us]", "plain", "us", "pass"), targets=TARGETS_RUN
    )
    assert 'id="targets"' not in matrix.render(one)
    assert 'id="targets"' not in matrix.render(
        results({"nodeid": "suites/test_plain.py::test_plain_chat[httpx]", "outcome": "pass"})
    )


# --- runs (subprocesses) ------------------------------------------------------------------------


def pytest_run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERTEX_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        env={**environment, "VERTEX_ACCESS_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("suites/")]


@pytest.mark.slow
def test_without_targets_the_ids_stay_as_they_were_and_with_them_each_ends_with_its_target(
    tmp_path: Path,
) -> None:
    cassettes = tmp_path / "cassettes"
    for name in ("a", "b"):  # replay needs each target's folder; a copy of one cassette is enough here
        (cassettes / name / "test_plain").mkdir(parents=True)
        source = ROOT / "fixtures/cassettes/vertex/test_plain/test_plain_chat[httpx].yaml"
        (cassettes / name / "test_plain" / source.name).write_bytes(source.read_bytes())
    path = write(
        tmp_path, "- name: a\n  model: m\n  location: global\n- name: b\n  model: m\n  location: us-east1\n"
    )
    report = ("--report-dir", str(tmp_path / "reports"))
    plain = collected(pytest_run("suites", "--collect-only", *report))
    assert "suites/test_plain.py::test_plain_chat[httpx]" in plain
    assert "suites/test_global.py::test_global_endpoint[httpx-plain]" in plain
    targeted = collected(
        pytest_run(
            "suites", "--collect-only", "--targets", str(path), "--cassette-dir", str(cassettes), *report
        )
    )
    assert len(targeted) == 2 * len(plain)
    for name in ("a", "b"):
        ours = [n for n in targeted if n.endswith((f"-{name}]", f"[{name}]"))]
        assert sorted(untargeted(n, name) for n in ours) == sorted(plain)
    assert "suites/test_global.py::test_global_endpoint[httpx-plain-b]" in targeted
    one = collected(
        pytest_run(
            "suites",
            "--collect-only",
            "--targets",
            str(path),
            "--cassette-dir",
            str(cassettes),
            "-m",
            "target(name='b')",
            *report,
        )
    )
    assert one == [n for n in targeted if n.endswith(("-b]", "[b]"))]
    refused = pytest_run(
        "suites",
        "--collect-only",
        "--targets",
        str(path),
        "--cassette-dir",
        str(cassettes),
        "--snapshot-update",
        *report,
    )
    assert refused.returncode == 4 and "--snapshot-update with --targets" in refused.stderr


@pytest.mark.slow
def test_two_targets_record_into_folders_of_their_own_and_replay_from_them(tmp_path: Path) -> None:
    cassettes, reports = tmp_path / "cassettes", tmp_path / "reports"
    selection = (
        "suites/test_plain.py",
        "suites/test_streaming.py",
        "suites/test_self_deployed.py",
        "-k",
        "httpx or sdk",
    )
    with serve_samples() as base_url:
        path = write(
            tmp_path,
            f"- name: us-flash\n  model: gemini-3.5-flash\n  location: us-central1\n  base_url: {base_url}\n"
            f"- name: eu-pro\n  model: gemini-3-pro\n  location: europe-west4\n  base_url: {base_url}\n"
            f"  endpoint_id: {ENDPOINT_ID}\n",
        )
        recorded = pytest_run(
            *selection, "--mode", "record", "--project", PROJECT, "--endpoint-id", "4242",
            "--targets", str(path), "--cassette-dir", str(cassettes), "--report-dir", str(reports / "record"),
        )  # fmt: skip
        gone = f"- name: gone\n  model: m\n  location: us-east1\n  base_url: {base_url}/nothing\n"
        broken = write(tmp_path, gone, "broken.yaml")
        refused = pytest_run(
            *selection, "--mode", "live", "--project", PROJECT, "--targets", str(broken),
            "--report-dir", str(reports / "refused"),
        )  # fmt: skip
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-2000:]
    assert refused.returncode == 4 and "vertex-conformance: target 'gone': preflight: " in refused.stderr
    for name in ("us-flash", "eu-pro"):  # each target's folder, laid out as a run without targets
        assert (cassettes / name / "test_plain" / "test_plain_chat[httpx].yaml").is_file()
        assert (cassettes / name / "test_streaming" / "test_streaming_chat[sdk].yaml").is_file()
    assert "gemini-3-pro" in (cassettes / "eu-pro" / "test_plain" / "test_plain_chat[httpx].yaml").read_text()

    replayed = pytest_run(
        *selection,
        "--targets",
        str(path),
        "--cassette-dir",
        str(cassettes),
        "--report-dir",
        str(reports / "replay"),
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:]
    document = load(reports / "replay" / "results.json")
    names = {t.target_name for t in document.tests}
    assert names == {"us-flash", "eu-pro"}
    by_target = {
        name: sorted(untargeted(t.nodeid, name) for t in document.tests if t.target_name == name)
        for name in names
    }
    assert (
        by_target["us-flash"] == by_target["eu-pro"]
        and len(by_target["us-flash"]) == len(document.tests) // 2
    )
    eu = [t for t in document.tests if t.target_name == "eu-pro"]
    assert {t.location for t in eu if t.form == "plain"} == {"europe-west4"}
    assert all("eu-pro" in t.cassette["path"] for t in eu)
    assert [e["name"] for e in document.run["targets"]["entries"]] == ["us-flash", "eu-pro"]
    assert {t.nodeid: t.outcome for t in document.tests} == {
        t.nodeid: t.outcome for t in load(reports / "record" / "results.json").tests
    }
    page = (reports / "replay" / "index.html").read_text(encoding="utf-8")
    assert 'id="targets"' in page and 'data-target="us-flash"' in page and 'data-target="eu-pro"' in page
    self_deployed = [t for t in eu if t.form == "self-deployed"]
    assert self_deployed and all(t.judged for t in self_deployed)  # sent to its own endpoint id
    for report in (reports / "record", reports / "replay"):  # a target's endpoint id is a secret as the run's
        for name in ("results.json", "index.html", "junit.xml"):
            assert ENDPOINT_ID not in (report / name).read_text(encoding="utf-8"), report / name
    assert not [p for p in cassettes.rglob("*.yaml") if ENDPOINT_ID in p.read_text(encoding="utf-8")]

    # a target's own expectations file speaks of its tests alone: here it expects a shape it does not see
    (tmp_path / "eu.yaml").write_text(EU_EXPECTATIONS + "  tests: [test_plain_chat]\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8") + "  expectations: eu.yaml\n", encoding="utf-8")
    judged = pytest_run(
        "suites/test_plain.py", "-k", "httpx or sdk", "--targets", str(path),
        "--cassette-dir", str(cassettes), "--report-dir", str(reports / "own"),
    )  # fmt: skip
    outcomes = {(t.target_name, t.outcome) for t in load(reports / "own" / "results.json").tests}
    assert outcomes == {("us-flash", "pass"), ("eu-pro", "unexpected-pass")}
    assert judged.returncode == 1 and "eu.yaml lists it as a known deviation" in judged.stdout
