"""A server that echoes the caller's secrets back must not get them into anything the run writes.

A real server on 127.0.0.1 answers the plain form with the documented sample, except that the
answer carries the bearer token and the project id it was sent, in every spelling a server might
use (plain, JSON-escaped, URL-encoded), in the content, in the model field (so a finding quotes
it) and in a response header. The suite runs live, then in record mode, then live again against
the first run's report as a baseline; no report, page, junit file, cassette, console line or
comparison may hold the token or the project id in any spelling.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_end_to_end import run_suite

from vertex_conformance.loopback import serve
from vertex_conformance.paths import SAMPLES
from vertex_conformance.scrub import Kind, Scrubber

pytestmark = pytest.mark.slow  # each test runs the suite in a pytest subprocess

TOKEN = "ya29.echo-test-token-0123456789abcdef"
PROJECT = "echo-secret-proj-42"


def escaped(value: str) -> str:
    """``value`` with every character JSON-escaped, as it stands in a JSON text on the wire."""
    return "".join(f"\\u{ord(c):04x}" for c in value)


def spellings(value: str) -> list[str]:
    """The value as it may stand in a written text: plain, JSON-escaped, URL-encoded."""
    return [value, escaped(value), quote(value, safe="")]


async def echo(request: Request) -> Response:
    """The documented answer, carrying back what the caller sent: the bearer header and the path
    (project id) plain, the token and the project id JSON-escaped on the wire (they decode to the
    plain values) and URL-encoded, the project as the answer's model, and both in a header."""
    sent = request.headers.get("authorization", "")
    token = sent.removeprefix("Bearer ")
    project = request.url.path.split("/projects/")[1].split("/")[0]
    body = json.loads((SAMPLES / "plain_chat.json").read_text())
    body["choices"][0]["message"]["content"] = (
        f"you sent {sent} for {request.url.path}: ESCAPED {quote(token, safe='')} {quote(project, safe='')}"
    )
    body["model"] = f"google/{project}"  # response.model-echo fails and quotes it
    text = json.dumps(body).replace("ESCAPED", f"{escaped(token)} {escaped(project)}")
    return Response(text, media_type="application/json", headers={"x-echo": f"{token} {project}"})


def leaks(text: str) -> list[str]:
    """Which secret ``text`` holds, in any spelling (the same rule the run's scrubber applies)."""
    found = [value for value in (TOKEN, PROJECT) for s in spellings(value) if s in text]
    detector = Scrubber([(Kind.ACCESS_TOKEN, TOKEN), (Kind.PROJECT_ID, PROJECT)])
    return found + (["(scrubber finds one)"] if detector.finds(text) else [])


def artefacts(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()}


def test_an_echoing_server_gets_no_secret_into_any_artefact(tmp_path):
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["POST"])])
    runs = []
    with serve(app) as base_url:
        common = ("--project", PROJECT, "--base-url", base_url, "-k", "test_plain_chat")
        env = {"VERTEX_ACCESS_TOKEN": TOKEN}
        first = tmp_path / "live"
        logs = (
            "--log-cli-level",
            "DEBUG",
            "--log-file",
            str(tmp_path / "run.log"),
            "--log-file-level",
            "DEBUG",
        )
        runs.append(run_suite("--mode", "live", "--report-dir", str(first), *logs, *common, env=env))
        runs.append(
            run_suite(
                "--mode",
                "record",
                "--cassette-dir",
                str(tmp_path / "cassettes"),
                "--report-dir",
                str(tmp_path / "record"),
                *common,
                env=env,
            )
        )
        runs.append(
            run_suite(
                "--mode",
                "live",
                "--report-dir",
                str(tmp_path / "gate"),
                "--baseline",
                str(first / "results.json"),
                *common,
                env=env,
            )
        )
    written = artefacts(tmp_path)
    assert {
        "live/results.json",
        "live/index.html",
        "live/junit.xml",
        "gate/comparison.json",
        "run.log",
    } <= set(written)
    assert "HTTP Request: POST" in written["run.log"]  # httpx logged every request, URL and all
    assert any(name.startswith("cassettes/") for name in written)
    # The server did echo: the findings quote what it sent, with the placeholders in place.
    results = json.loads(written["live/results.json"])
    messages = " ".join(f["message"] for t in results["tests"] for f in t.get("findings", []))
    assert "{PROJECT}" in messages
    assert "<redacted>" in json.dumps(results["tests"][0]["evidence"])
    for number, run in enumerate(runs):
        assert leaks(run.stdout + run.stderr) == [], f"run {number} printed a secret"
    assert {name: leaks(text) for name, text in written.items() if leaks(text)} == {}


@pytest.mark.parametrize("project", ["p", "abcde"])
def test_a_project_id_too_short_to_scrub_safely_is_refused_before_any_test(tmp_path, project):
    result = run_suite(
        "--mode",
        "live",
        "--project",
        project,
        "--report-dir",
        str(tmp_path),
        env={"VERTEX_ACCESS_TOKEN": TOKEN},
    )
    assert result.returncode == 4
    assert f"project id {project!r} is too short to scrub from reports safely" in result.stderr
    assert not (tmp_path / "results.json").exists()
