"""docs/clients.md's matrix is written from a run's results: per client lane a row per form and a
column per way of sending, the worst outcome and each requirement that did not hold (the client's
own first); the prose above the marker stays; a document without the marker is refused."""

from __future__ import annotations

import json
from pathlib import Path

from result_documents import results

from tools import clients_doc
from vertex_conformance.results import FindingRecord, TestRecord
from vertex_conformance.vocabulary import Outcome

SAME_ID = FindingRecord(
    "client.tool-call-ids-unique",
    "$.sdk_view.view.tool_calls[1].id",
    "id 'a' is also the id of call 0",
    Outcome.KNOWN_DEVIATION,
)
RENAMED = FindingRecord(
    "lanes.same-wire-body",
    "$.request.body.max_tokens",
    "raw lane sent 2048; litellm sent nothing",
    Outcome.FAIL,
)


def _record(nodeid: str, lane: str, streamed: bool, outcome: Outcome, *findings: FindingRecord) -> TestRecord:
    return TestRecord(
        nodeid=nodeid,
        outcome=outcome,
        form="function-call-arguments",
        lane=lane,
        streamed=streamed,
        findings=findings,
    )


def test_the_matrix_gives_each_client_its_forms_outcomes_and_findings_client_first():
    document = results(
        _record("s.py::t[litellm-stream]", "litellm", True, Outcome.FAIL, RENAMED, SAME_ID),
        _record("s.py::t[litellm-plain]", "litellm", False, Outcome.PASS),
        _record("s.py::t[httpx-plain]", "httpx", False, Outcome.PASS),
    )
    text = clients_doc.matrix(document)
    assert "## litellm (litellm not installed)" in text
    row = next(line for line in text.splitlines() if line.startswith("| Streamed function-call arguments"))
    plain, streamed = row.split(" | ")[1:3]
    assert plain == "pass"
    assert streamed.startswith("**fail**<br>`client.tool-call-ids-unique`: id 'a' is also the id of call 0")
    assert streamed.index("client.tool-call-ids-unique") < streamed.index("lanes.same-wire-body")
    assert "No test of this lane ran." in text.split("## openai-node")[1].split("##")[0]


def test_an_unsupported_cell_says_why():
    record = TestRecord(
        nodeid="s.py::t[openai-node]",
        outcome=Outcome.UNSUPPORTED,
        form="plain",
        lane="openai-node",
        streamed=False,
        reason="openai-node: no Node.js runtime (node) on PATH",
    )
    assert "| Plain chat | unsupported: openai-node: no Node.js runtime (node) on PATH | — |" in (
        clients_doc.matrix(results(record))
    )


def test_write_keeps_the_prose_and_replaces_only_what_follows_the_marker(tmp_path: Path):
    doc = tmp_path / "clients.md"
    doc.write_text(f"# Prose\n\nkept\n\n{clients_doc.MARKER}\nold matrix\n", encoding="utf-8")
    clients_doc.write(results(_record("s.py::t[litellm-plain]", "litellm", False, Outcome.PASS)), doc)
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Prose\n\nkept\n\n" + clients_doc.MARKER)
    assert "old matrix" not in text and "## litellm" in text


def test_a_document_without_the_marker_is_refused_in_one_line(tmp_path: Path, capsys):
    doc, report = tmp_path / "clients.md", tmp_path / "results.json"
    doc.write_text("# no marker\n", encoding="utf-8")
    report.write_text(json.dumps(results().to_dict()), encoding="utf-8")
    assert clients_doc.main([str(report), "--doc", str(doc)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_request_judged_alone_says_so_in_its_cell():
    record = TestRecord(
        nodeid="s.py::t[langchain-openai]",
        outcome=Outcome.KNOWN_DEVIATION,
        form="extra-content",
        lane="langchain-openai",
        streamed=False,
        findings=(RENAMED,),
        notes={"not_replayable": "No recorded request matches"},
    )
    assert clients_doc.NOT_REPLAYABLE in clients_doc.matrix(results(record))
