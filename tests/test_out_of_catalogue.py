"""The out-of-catalogue figure (tools/out_of_catalogue.py and .json): every fault links its public
source, targets declared requirements, fits some shipped answer, and the figure meets its target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools import out_of_catalogue
from tools.out_of_catalogue import CATALOGUE, FAULTS, TARGET, Figure, load

# Where a fault may come from: an issue or pull request of a public repository, or a specification.
SOURCES = re.compile(
    r"https://(github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+"
    r"|www\.rfc-editor\.org/rfc/rfc\d+(#section-[\d.]+)?"
    r"|google\.aip\.dev/\d+(#[\w-]+)?"
    r"|html\.spec\.whatwg\.org/\S+)"
)
# The faults the first entries had to hold: observed to pass the checks before their requirements.
FIRST = (
    "stream-choice-index-one",
    "tool-call-ids-shared",
    "tool-call-id-empty",
    "image-cut-in-half",
    "error-status-contradicts-code",
    "error-code-not-http-status",
)


@pytest.fixture(scope="module")
def figure() -> Figure:
    return out_of_catalogue.run()


def test_every_fault_links_a_public_issue_or_a_specification() -> None:
    faults = load()
    assert len(faults) >= 25
    for entry in faults:
        assert SOURCES.fullmatch(entry.link), (entry.id, entry.link)
        assert len(entry.description) > 30, entry.id


def test_the_catalogue_holds_the_first_faults_and_uses_every_function() -> None:
    faults = load()
    assert set(FIRST) <= {f.id for f in faults}
    assert {f.function for f in faults} == set(FAULTS), "a fault function no entry uses is dead code"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["mutation"].update(function="no_such_fault"), "no fault function 'no_such_fault'"),
        (
            lambda e: e.update(targets=["tools.no-such-rule"]),
            "unknown requirement ids ['tools.no-such-rule']",
        ),
        (lambda e: e.update(link="http://example.org/issue"), "link is not an https URL"),
        (lambda e: e.pop("targets"), "missing 'targets'"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(tmp_path: Path, change, message: str) -> None:
    document = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    change(document["faults"][0])
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        load(path)
    assert f"entry 0 ({document['faults'][0]['id']})" in str(raised.value)


def test_a_repeated_id_is_refused(tmp_path: Path) -> None:
    document = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    document["faults"].append(document["faults"][0])
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match="repeated"):
        load(path)


def test_every_fault_fits_some_shipped_answer(figure: Figure) -> None:
    made = {outcome.mutant.operator for outcome in figure.outcomes}
    assert [f.id for f in figure.faults if f.id not in made] == []


def test_each_first_fault_is_caught_by_the_requirement_it_targets(figure: Figure) -> None:
    by_fault = figure.by_fault()
    for fault_id in FIRST:
        assert by_fault[fault_id].total and by_fault[fault_id].targeted == by_fault[fault_id].total, fault_id


def test_the_out_of_catalogue_figure_meets_its_target(figure: Figure) -> None:
    assert figure.score >= TARGET, out_of_catalogue.format_figure(figure)


def test_the_command_prints_the_figure_and_refuses_a_broken_catalogue_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert out_of_catalogue.main(["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["total"] > 0 and len(printed["faults"]) == len(load())
    broken = tmp_path / "faults.json"
    broken.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(out_of_catalogue, "CATALOGUE", broken)
    assert out_of_catalogue.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("out_of_catalogue: error:") and err.count("\n") == 1
