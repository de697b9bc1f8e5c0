"""The preflight: one request before a live or record run, so one cause stops the run in one line.

The fast tests call ``preflight.check`` against loopback servers in this process; the slow ones run
the suite live in a subprocess, as a user would, and check the exit status and the one line.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from test_end_to_end import run_suite

from tools.sample_server import create_app
from vertex_conformance import auth, preflight
from vertex_conformance.config import RunConfig
from vertex_conformance.loopback import serve

PROJECT = "preflight-proj-42"
TOKEN = "preflight-test-token"
GATEWAY = "/proxy/vertex"
MISSING_MODEL = (
    f"Publisher Model `projects/{PROJECT}/locations/us-central1/publishers/google/models/gemini-3.5-flash` "
    "was not found or your project does not have access to it."
)


class Answering:
    """An app answering every POST with ``answer()``, counting the requests it got."""

    def __init__(self, answer: Callable[[], Response]) -> None:
        self.answer, self.requests = answer, 0

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            self.requests += 1
            return self.answer()

        return Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])


def google_error(code: int, message: str, status: str) -> Callable[[], Response]:
    return lambda: JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


def config(base_url: str, *, mode: str = "live", **options: object) -> RunConfig:
    given = {"mode": mode, "project": PROJECT, "base_url": base_url, "max_retry_wait": 0.2, **options}
    return RunConfig.from_sources(given, {"VERTEX_ACCESS_TOKEN": TOKEN})


def preflight_line(cfg: RunConfig) -> str | None:
    """The line the preflight stops the run with, or None when it lets the run go on."""
    scrubber = cfg.scrubber()
    try:
        preflight.check(cfg, auth.token_source(cfg, scrubber), scrubber)
    except preflight.PreflightError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    return None


def against(answer: Callable[[], Response], **options: object) -> tuple[str | None, int]:
    server = Answering(answer)
    with serve(server.app()) as url:
        line = preflight_line(config(url, **options))
    return line, server.requests


def test_the_sample_server_passes_with_one_request():
    line, requests = against(lambda: Response((b'{"ok": true}'), media_type="application/json"))
    assert (line, requests) == (None, 1)


def test_a_404_on_the_path_names_the_url_and_the_base_url_option():
    line, requests = against(lambda: Response("Not Found", 404))
    assert requests == 1
    assert line is not None and line.startswith("preflight: http://127.0.0.1:")
    assert "/v1/projects/{PROJECT}/locations/us-central1/endpoints/openapi/chat/completions" in line
    assert "answered 404 (Not Found): the server does not serve the documented path" in line
    assert "--base-url" in line and "--endpoint-id" not in line and PROJECT not in line


def test_a_missing_model_is_named_with_its_retirement_and_the_project_scrubbed():
    line, _ = against(google_error(404, MISSING_MODEL, "NOT_FOUND"))
    assert line is not None and "the model google/gemini-3.5-flash is not served" in line
    assert "may be retired" in line and "2026-10-16" in line and "--model" in line
    assert PROJECT not in line and "projects/{PROJECT}/locations" in line


def test_a_404_naming_the_model_is_a_missing_model_too():
    line, _ = against(
        google_error(404, "models/gemini-2.0-pro is not available", "NOT_FOUND"), model="gemini-2.0-pro"
    )
    assert line is not None and "the model google/gemini-2.0-pro is not served" in line


def test_a_400_that_names_the_model_for_another_reason_is_left_to_the_tests():
    message = "Multiple candidates is not enabled for models/gemini-3.5-flash"
    assert against(google_error(400, message, "INVALID_ARGUMENT")) == (None, 1)


@pytest.mark.parametrize(("code", "status"), [(401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")])
def test_refused_credentials_stop_the_run_saying_what_to_do(code, status):
    line, requests = against(google_error(code, f"Permission denied on projects/{PROJECT}", status))
    assert (
        line is not None and f"answered {code} ({status}: Permission denied on projects/{{PROJECT}})" in line
    )
    assert "application-default login" in line and PROJECT not in line
    assert requests == 1  # a static token is not sent again after a 401


def test_an_answer_that_is_not_json_stops_the_run():
    page = "<html><title>Welcome to nginx!</title></html>"
    line, _ = against(lambda: Response(page, media_type="text/html"))
    assert line is not None and "answered 200 with a body that is not JSON (text/html" in line
    assert "Welcome to nginx!" in line


def test_a_persistent_503_is_retried_by_the_run_policy_then_one_infra_line():
    line, requests = against(google_error(503, "overloaded", "UNAVAILABLE"), max_attempts=2)
    assert requests == 2
    assert line is not None and "answered 503 (UNAVAILABLE: overloaded; 2 attempts: 503; 503" in line
    assert "infra, not a conformance verdict" in line


def test_no_server_is_one_infra_line():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    line = preflight_line(config(f"http://127.0.0.1:{port}", max_attempts=1))
    assert line is not None and line.startswith(f"preflight: http://127.0.0.1:{port}/v1/")
    assert "gave no whole answer" in line
    assert "ConnectError" in line and "infra" in line


def test_the_self_deployed_target_is_asked_at_its_endpoint_without_a_model():
    bodies: list[dict[str, object]] = []

    async def endpoint(request: Request) -> Response:
        bodies.append(json.loads(await request.body()))
        return Response("Not Found", 404)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])
    with serve(app) as url:
        line = preflight_line(config(url, target="endpoint", endpoint_id="1234567890"))
    assert line is not None and "/endpoints/{ENDPOINT}/chat/completions answered 404" in line
    assert "--endpoint-id" in line and "model" not in bodies[0]


def test_replay_sends_nothing():
    server = Answering(lambda: Response("Not Found", 404))
    with serve(server.app()) as url:
        assert preflight_line(config(url, mode="replay")) is None
    assert server.requests == 0


def test_a_gateway_prefix_in_the_base_url_reaches_the_documented_path_behind_it():
    gateway = Starlette(routes=[Mount(GATEWAY, app=create_app())])
    with serve(gateway) as url:
        assert preflight_line(config(url + GATEWAY)) is None
        assert preflight_line(config(url)) is not None  # the same server without its prefix: 404


# --- the suite, live, as a user runs it ------------------------------------------------------------


def live_run(tmp_path, base_url: str, *options: str):
    return run_suite(
        *("--mode", "live", "--project", PROJECT, "--base-url", base_url),
        *("--report-dir", str(tmp_path / "reports"), "-k", "test_plain_chat", *options),
        env={"VERTEX_ACCESS_TOKEN": TOKEN},
    )


def assert_stopped_in_one_line(result, tmp_path, *expected: str) -> str:
    assert result.returncode == 4, result.stdout[-2000:] + result.stderr[-2000:]
    [line] = [line for line in result.stderr.splitlines() if "preflight:" in line]
    for text in expected:
        assert text in line
    assert "Traceback" not in result.stdout + result.stderr
    assert PROJECT not in result.stdout + result.stderr and TOKEN not in result.stdout + result.stderr
    assert not (tmp_path / "reports").exists()  # stopped before any test: no report touched
    return line


@pytest.mark.slow
def test_a_run_against_a_server_without_the_vertex_path_stops_before_any_test(tmp_path):
    server = Answering(lambda: Response("Not Found", 404))
    with serve(server.app()) as url:
        result = live_run(tmp_path, url)
    assert_stopped_in_one_line(result, tmp_path, "answered 404", "does not serve the documented path")
    assert server.requests == 1


@pytest.mark.slow
def test_a_run_whose_model_is_gone_stops_naming_it(tmp_path):
    server = Answering(google_error(404, MISSING_MODEL, "NOT_FOUND"))
    with serve(server.app()) as url:
        result = live_run(tmp_path, url)
    assert_stopped_in_one_line(result, tmp_path, "google/gemini-3.5-flash", "may be retired", "2026-10-16")


@pytest.mark.slow
def test_a_run_against_a_server_that_does_not_answer_json_stops(tmp_path):
    server = Answering(lambda: Response("<html>It works!</html>", media_type="text/html"))
    with serve(server.app()) as url:
        result = live_run(tmp_path, url)
    assert_stopped_in_one_line(result, tmp_path, "not JSON", "It works!")


@pytest.mark.slow
def test_a_gateway_prefix_records_the_documented_path_and_replays_without_it(tmp_path):
    cassettes = tmp_path / "cassettes"
    gateway = Starlette(routes=[Mount(GATEWAY, app=create_app())])
    with serve(gateway) as url:
        live = live_run(tmp_path / "live", url + GATEWAY)
        recorded = run_suite(
            *("--mode", "record", "--project", PROJECT, "--base-url", url + GATEWAY, "-k", "test_plain_chat"),
            *("--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "record")),
            env={"VERTEX_ACCESS_TOKEN": TOKEN},
        )
    assert live.returncode == 0, live.stdout[-3000:]
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    written = sorted(cassettes.rglob("*.yaml"))
    assert written
    for cassette in written:
        text = cassette.read_text()
        assert GATEWAY not in text and "/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi" in text
    replayed = run_suite(
        *("--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "replay"), "-k", "test_plain_chat")
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:]
