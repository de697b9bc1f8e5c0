"""The pytest plugin: run options, configuration, tiers, cassettes and fixtures.

The ``conformance`` fixture's object lives in ``conformance``; outcomes and reports in ``collector``.

Loaded through its ``pytest11`` entry point (pyproject.toml), wherever pytest starts. It only
takes charge of a run whose tests live in ``suites/`` (the conformance run); the harness's own
tests in ``tests/`` (and any other pytest run in this venv) run with it loaded but inert, so they
can start local servers freely.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import results
from .config import RunConfig
from .paths import CASSETTES, FIXTURES, SUITES


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vertex-conformance", "Vertex AI Chat Completions conformance")
    add = group.addoption
    add(
        "--mode",
        help="replay (default: cassettes only, network blocked) | record (live, writes cassettes) "
        "| live (live, writes nothing)",
    )
    add("--target", help="gemini (default: endpoints/openapi) | endpoint (a self-deployed endpoints/{ID})")
    add("--project", help="Google Cloud project id (env VERTEX_PROJECT); needed for live and record")
    add(
        "--project-number",
        help="the project's number (env VERTEX_PROJECT_NUMBER): never sent, only scrubbed from every report",
    )
    add(
        "--location",
        help="region, or 'global' for the global host (env VERTEX_LOCATION; default us-central1)",
    )
    add("--api-version", help="v1 (default) | v1beta1")
    add("--model", help="Gemini model id, sent as google/<id> (env VERTEX_MODEL)")
    add("--image-model", help="model for the image-output form (env VERTEX_IMAGE_MODEL)")
    add("--endpoint-id", help="self-deployed endpoint id (env VERTEX_ENDPOINT_ID)")
    add("--base-url", help="replace scheme and host, keep the documented path (env VERTEX_BASE_URL)")
    add("--profile", help="vertex (default: documented Vertex behaviour) | openai (OpenAI's contract)")
    add("--report-dir", help="where results.json and junit.xml go (default reports/)")
    add(
        "--cassette-dir",
        default=None,
        help=f"cassette root (default {CASSETTES.relative_to(FIXTURES.parent)}/vertex)",
    )
    d = RunConfig  # the defaults live in RunConfig alone; the options below only name them
    add(
        "--max-cassette-age",
        type=float,
        help="replay: fail tests whose cassette was recorded more than this many days ago",
    )
    add("--connect-timeout", type=float, help=f"seconds to connect (default {d.connect_timeout:g})")
    add(
        "--read-timeout",
        type=float,
        help=f"seconds between two reads; a stalled stream is infra (default {d.read_timeout:g})",
    )
    add(
        "--stream-timeout",
        type=float,
        help=f"ceiling for a whole stream, seconds (default {d.stream_timeout:g})",
    )
    add(
        "--max-attempts",
        type=int,
        help=f"attempts per request on 429/502/503/504 and resets (default {d.max_attempts})",
    )
    add(
        "--max-retry-wait",
        type=float,
        help=f"all retry waits of one request together, seconds (default {d.max_retry_wait:g})",
    )
    add(
        "--max-response-bytes",
        type=int,
        help=f"an answer's size once decoded; past it the test is infra and nothing more is read "
        f"(default {d.max_response_bytes})",
    )
    add(
        "--max-output-tokens",
        type=int,
        help=f"max_tokens every case asks for, to keep live runs cheap (not the image form; "
        f"default {d.max_output_tokens})",
    )
    add(
        "--max-total-tokens",
        type=int,
        help="live/record: stop sending once this many tokens (usage.total_tokens) are spent (per process)",
    )
    add(
        "--concurrency",
        metavar="N",
        help=f"live/record: requests in flight at once inside each process; tests keep their order, "
        f"outcomes and evidence (default {d.concurrency}; ignored in replay)",
    )
    add("--expectations", help="known deviations file (default expectations/<target>.yaml)")
    add(
        "--targets",
        metavar="FILE",
        help="a YAML list of targets (model, location, api_version, endpoint_id or base_url, expectations): "
        "every form runs against each; test ids end with the target's name (schemas/targets.schema.json)",
    )
    add(
        "--baseline",
        metavar="PATH",
        type=_baseline_option,
        help="a results.json to compare this run with: writes comparison.json, exit 1 on a regression",
    )


def _baseline_option(value: str) -> Path:
    """The ``type`` of ``--baseline``: an unreadable baseline stops the run before any test runs."""
    try:
        results.load(Path(value))
    except results.UnreadableResults as exc:
        raise pytest.UsageError(f"vertex-conformance: --baseline: {exc}") from None
    return Path(value)


def is_conformance_run(config: pytest.Config) -> bool:
    """True when the run collects from ``suites/`` (the default test path). Arguments are read as
    pytest reads them: relative to where pytest started (``cd suites && pytest test_plain.py``);
    the default test path applies only when that is the checkout's root."""
    start = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (start / arg.split("::")[0]).resolve()
        if path == SUITES or SUITES in path.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "form(name): the documented request form a conformance test exercises")
    config.addinivalue_line("markers", "gate: the documented forms (the SDK release gate runs these)")
    config.addinivalue_line(
        "markers", "probe: behaviour users reported (docs/spec.md); informative, not documented"
    )
    if is_conformance_run(config):
        from . import conformance_run  # the SDKs, vcr and the HTTP stack: only for a conformance run

        conformance_run.start(config)
