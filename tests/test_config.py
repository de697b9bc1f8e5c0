"""RunConfig: defaults, environment fallbacks, command-line precedence, and one clear error per mistake."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from vertex_conformance.config import OPTIONS, ConfigError, RunConfig
from vertex_conformance.paths import CASSETTES, EXPECTATIONS, REPORTS
from vertex_conformance.results import SCHEMA

LIVE = {"mode": "live", "project": "my-proj-123"}


def build(options=None, environ=None) -> RunConfig:
    return RunConfig.from_sources(options or {}, environ or {})


def error_for(options=None, environ=None) -> str:
    with pytest.raises(ConfigError) as err:
        build(options, environ)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_defaults_are_an_offline_replay_run_with_placeholders():
    cfg = build()

    assert cfg == RunConfig(
        project="PROJECT", endpoint_id="ENDPOINT_ID", expectations=EXPECTATIONS / "gemini.yaml"
    )
    assert (cfg.mode, cfg.target, cfg.profile) == ("replay", "gemini", "vertex")
    assert (cfg.location, cfg.api_version, cfg.model) == ("us-central1", "v1", "gemini-3.5-flash")
    assert cfg.image_model == "gemini-3-pro-image"
    assert cfg.base_url is None
    assert cfg.report_dir == REPORTS  # the checkout's reports/, wherever pytest starts
    assert cfg.cassette_dir == CASSETTES / "vertex"
    assert cfg.access_token is None


def test_options_given_as_none_count_as_not_given():
    cfg = build(dict.fromkeys(["mode", "target", "project", "location", "model", "report_dir"]))

    assert cfg == build()


def test_environment_fills_what_the_command_line_leaves_out():
    cfg = build(
        {"mode": "live"},
        {
            "VERTEX_PROJECT": "env-proj",
            "VERTEX_LOCATION": "europe-west4",
            "VERTEX_MODEL": "gemini-2.5-pro",
            "VERTEX_ENDPOINT_ID": "1234567890",
            "VERTEX_BASE_URL": "http://127.0.0.1:8080",
            "VERTEX_ACCESS_TOKEN": "ya29.secret",
        },
    )

    assert cfg.project == "env-proj"
    assert cfg.location == "europe-west4"
    assert cfg.model == "gemini-2.5-pro"
    assert cfg.endpoint_id == "1234567890"
    assert cfg.base_url == "http://127.0.0.1:8080"
    assert cfg.access_token == "ya29.secret"


def test_command_line_wins_over_environment():
    cfg = build(
        {
            "mode": "live",
            "project": "cli-proj",
            "location": "global",
            "model": "gemini-cli",
            "endpoint_id": "42",
        },
        {
            "VERTEX_PROJECT": "env-proj",
            "VERTEX_LOCATION": "asia-east1",
            "VERTEX_MODEL": "gemini-env",
            "VERTEX_ENDPOINT_ID": "7",
        },
    )

    assert (cfg.project, cfg.location, cfg.model, cfg.endpoint_id) == (
        "cli-proj",
        "global",
        "gemini-cli",
        "42",
    )


def test_empty_environment_variables_count_as_unset():
    cfg = build({}, {"VERTEX_PROJECT": "", "VERTEX_MODEL": "", "VERTEX_ACCESS_TOKEN": ""})

    assert cfg.project == "PROJECT"
    assert cfg.model == "gemini-3.5-flash"
    assert cfg.access_token is None


def test_mode_target_and_profile_do_not_come_from_the_environment():
    cfg = build({}, {"VERTEX_MODE": "live", "VERTEX_TARGET": "endpoint", "VERTEX_PROFILE": "openai"})

    assert (cfg.mode, cfg.target, cfg.profile) == ("replay", "gemini", "vertex")


def test_prefixed_model_id_is_stored_bare():
    assert build({"model": "google/gemini-2.0-flash-001"}).model == "gemini-2.0-flash-001"


def test_replay_keeps_a_given_project_and_needs_no_credentials():
    cfg = build({"project": "real-proj", "target": "endpoint"})

    assert cfg.project == "real-proj"
    assert cfg.endpoint_id == "ENDPOINT_ID"
    assert cfg.access_token is None


def test_live_gemini_run_needs_no_endpoint_id():
    cfg = build(LIVE)

    assert cfg.endpoint_id is None


def test_base_url_trailing_slash_is_dropped():
    assert build({"base_url": "https://gateway.example:8443/"}).base_url == "https://gateway.example:8443"


def test_report_dir_becomes_a_path():
    assert build({"report_dir": "out/run1"}).report_dir == Path("out/run1")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"mode": "dry"}, "unknown mode 'dry': pass --mode with one of replay, record, live"),
        ({"target": "openapi"}, "unknown target 'openapi': pass --target with one of gemini, endpoint"),
        ({"profile": "azure"}, "unknown profile 'azure': pass --profile with one of vertex, openai"),
        ({"api_version": "v2"}, "unknown API version 'v2': pass --api-version with one of v1, v1beta1"),
    ],
)
def test_unknown_choice_lists_the_choices(options, expected):
    assert error_for(options) == expected


@pytest.mark.parametrize("mode", ["live", "record"])
def test_live_and_record_need_a_project(mode):
    assert error_for({"mode": mode}) == f"{mode} mode needs a project: pass --project or set VERTEX_PROJECT"


def test_endpoint_target_needs_an_endpoint_id():
    assert error_for({**LIVE, "target": "endpoint"}) == (
        "target endpoint needs an endpoint id: pass --endpoint-id or set VERTEX_ENDPOINT_ID"
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("ftp://host", "needs an http or https scheme and a host"),
        ("localhost:8080", "needs an http or https scheme and a host"),
        ("https://", "needs an http or https scheme and a host"),
        ("http://host:0", "needs an http or https scheme and a host"),
        ("http://host:99999", "is not a URL"),
        ("https://host/v1/projects/p", "already holds the documented path"),
        ("https://host/gw/v1/x/chat/completions", "already holds the documented path"),
        ("https://host?x=1", "has a query, fragment or space"),
        ("https://host#frag", "has a query, fragment or space"),
        ("https://host/my gateway", "has a query, fragment or space"),
    ],
)
def test_base_url_must_be_scheme_host_port_and_a_path_prefix_only(base_url, expected):
    message = error_for({"base_url": base_url})

    assert expected in message
    assert (
        "pass --base-url (or set VERTEX_BASE_URL) as http(s)://host[:port][/path-prefix], without a query"
        in message
    )


def test_base_url_with_credentials_is_rejected_without_echoing_them():
    message = error_for({}, {"VERTEX_BASE_URL": "https://user:hunter2@gateway.example"})

    assert "carries credentials" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "location", ["", "US-CENTRAL1", "us-central1/../x", "uscentral", "us central1", "globe"]
)
def test_implausible_location_is_rejected(location):
    assert error_for({"location": location}) == (
        f"location {location!r} is not a region id: pass --location (or set VERTEX_LOCATION) "
        'to a region like us-central1, or "global"'
    )


@pytest.mark.parametrize("location", ["global", "us-central1", "europe-west4", "northamerica-northeast1"])
def test_plausible_locations_are_accepted(location):
    assert build({"location": location}).location == location


@pytest.mark.parametrize("model", ["", "  ", "google/"])
def test_empty_model_is_rejected(model):
    assert error_for({"model": model}) == (
        "the model id is empty: pass --model or set VERTEX_MODEL, e.g. gemini-3.5-flash"
    )


def test_model_of_another_publisher_is_rejected():
    assert "is not a Gemini model id: pass a bare id like gemini-3.5-flash to --model" in error_for(
        {"model": "meta/llama-3.1-405b"}
    )


@pytest.mark.parametrize("option", ["project", "endpoint_id"])
def test_ids_that_would_change_the_url_path_are_rejected(option):
    message = error_for({**LIVE, "target": "endpoint", "endpoint_id": "123", option: "a/b"})

    assert "'a/b' is not a valid id" in message


def test_describe_hides_the_token_and_redacts_a_live_project_and_endpoint_id():
    cfg = build(
        {**LIVE, "target": "endpoint", "endpoint_id": "8675309", "report_dir": "out"},
        {"VERTEX_ACCESS_TOKEN": "ya29.secret-token"},
    )

    described = cfg.describe()
    text = json.dumps(described)

    assert "ya29.secret-token" not in text
    assert "my-proj-123" not in text
    assert "8675309" not in text
    assert described == {
        "mode": "live",
        "target": "endpoint",
        "project": "<redacted>",
        "project_number": None,
        "location": "us-central1",
        "api_version": "v1",
        "model": "gemini-3.5-flash",
        "image_model": "gemini-3-pro-image",
        "endpoint_id": "<redacted>",
        "base_url": None,
        "profile": "vertex",
        "report_dir": "out",
        "cassette_dir": "fixtures/cassettes/vertex",
        "expectations": "expectations/endpoint.yaml",
        "baseline": None,
        "connect_timeout": 10.0,
        "read_timeout": 60.0,
        "stream_timeout": 300.0,
        "max_attempts": 4,
        "max_retry_wait": 30.0,
        "max_response_bytes": 33554432,
        "max_output_tokens": 2048,
        "max_total_tokens": None,
        "concurrency": 8,
        "max_cassette_age": None,
        "targets": None,
        "has_static_token": True,
    }


def test_describe_holds_every_setting_but_the_token():
    """A report names every option the run had, so two runs' differences are all visible; a field
    added to RunConfig shows up without anyone remembering to list it."""
    described = build().describe()

    assert set(described) == {f.name for f in fields(RunConfig)} - {"access_token"} | {"has_static_token"}


def test_describe_keeps_the_replay_placeholders():
    described = build({"target": "endpoint"}).describe()

    assert (described["project"], described["endpoint_id"]) == ("PROJECT", "ENDPOINT_ID")
    assert described["has_static_token"] is False


def run_schema() -> Any:
    """The ``run`` part of the results schema, on its own."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for({"$defs": schema["$defs"], "$ref": "#/$defs/run"})


@pytest.mark.parametrize(
    ("options", "environ"),
    [
        ({}, {}),
        (
            {
                **LIVE,
                "target": "endpoint",
                "endpoint_id": "8675309",
                "base_url": "http://127.0.0.1:8080",
                "profile": "openai",
                "api_version": "v1beta1",
                "baseline": "reports/results.json",
                "connect_timeout": 0.5,
                "max_attempts": 1,
                "max_retry_wait": 0,
                "max_total_tokens": 5000,
                "max_cassette_age": 0,
            },
            {"VERTEX_ACCESS_TOKEN": "ya29.secret-token"},
        ),
    ],
    ids=["defaults", "everything-set"],
)
def test_describe_is_a_valid_run_of_the_results_schema(options, environ):
    described = json.loads(json.dumps(build(options, environ).describe()))

    errors = [e.message for e in run_schema().iter_errors(described)]
    assert errors == []


def test_the_run_schema_refuses_a_description_missing_a_setting():
    """The check above can fail: the schema requires every setting it lists."""
    described = json.loads(json.dumps(build().describe()))
    del described["max_retry_wait"]

    assert not run_schema().is_valid(described)


# Every numeric option: (its flag, whether it counts things, whether zero means something).
NUMERIC = {
    "connect_timeout": ("--connect-timeout", False, False),
    "read_timeout": ("--read-timeout", False, False),
    "stream_timeout": ("--stream-timeout", False, False),
    "max_attempts": ("--max-attempts", True, False),
    "max_retry_wait": ("--max-retry-wait", False, True),
    "max_response_bytes": ("--max-response-bytes", True, False),
    "max_output_tokens": ("--max-output-tokens", True, False),
    "max_total_tokens": ("--max-total-tokens", True, False),
    "concurrency": ("--concurrency", True, False),
    "max_cassette_age": ("--max-cassette-age", False, True),
}


def test_every_numeric_option_is_tested_below():
    numeric = {f.name for f in fields(RunConfig) if f.type.split(" | ")[0] in ("int", "float")}

    assert numeric == set(NUMERIC)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "inf", "nan"], ids=repr)
@pytest.mark.parametrize("name", NUMERIC)
def test_a_numeric_option_refuses_what_is_not_finite(name, value):
    """An endless timeout is a hang, an endless budget no budget: neither is a setting."""
    flag, counts, _ = NUMERIC[name]
    kind = "a whole number" if counts else "a number"

    assert error_for({name: value}).startswith(f"{flag} {value!r} is not {kind}: pass a finite ")


@pytest.mark.parametrize("name", NUMERIC)
def test_a_numeric_option_refuses_a_negative_value(name):
    flag, _, _ = NUMERIC[name]

    assert error_for({name: -1}).startswith(f"{flag} is -1: it must be ")


@pytest.mark.parametrize("name", NUMERIC)
def test_zero_is_refused_where_it_means_nothing_and_kept_where_it_means_something(name):
    """No attempt, no time to connect, no tokens: a run that cannot happen. No retry wait, and
    cassettes no older than now: strict, but meaningful."""
    flag, _, zero_ok = NUMERIC[name]

    if zero_ok:
        assert getattr(build({name: 0}), name) == 0
    else:
        assert error_for({name: 0}).startswith(f"{flag} is 0: it must be ")


@pytest.mark.parametrize("name", [name for name, (_, counts, _) in NUMERIC.items() if counts])
def test_a_count_refuses_a_fraction_and_takes_a_whole_float_as_an_integer(name):
    flag, _, _ = NUMERIC[name]

    assert (
        error_for({name: 2.5}) == f"{flag} 2.5 is not a whole number: pass a finite whole number at least 1"
    )
    value = getattr(build({name: 3.0}), name)
    assert value == 3 and isinstance(value, int)


@pytest.mark.parametrize("name", NUMERIC)
def test_a_numeric_option_refuses_text_and_booleans(name):
    flag, _, _ = NUMERIC[name]

    assert error_for({name: "soon"}).startswith(f"{flag} 'soon' is not ")
    assert error_for({name: True}).startswith(f"{flag} True is not ")


@pytest.mark.parametrize("name", NUMERIC)
def test_a_numeric_option_keeps_a_plausible_value(name):
    assert getattr(build({name: 7}), name) == 7


def test_repr_never_shows_the_token():
    assert "ya29.secret-token" not in repr(build({}, {"VERTEX_ACCESS_TOKEN": "ya29.secret-token"}))


@pytest.mark.parametrize("project", ["p", "ab-12"])
def test_a_live_project_id_too_short_to_scrub_safely_is_refused(project):
    refused = rf"project id '{project}' is too short to scrub from reports safely"
    with pytest.raises(ConfigError, match=refused):
        build({**LIVE, "project": project})
    assert build({**LIVE, "project": "abc-12"}).project == "abc-12"  # six characters: Google's shortest


def test_a_project_number_is_validated_recorded_redacted_and_scrubbed():
    cfg = build({**LIVE, "project_number": "123456789012"})
    assert cfg.describe()["project_number"] == "<redacted>"
    assert (
        cfg.scrubber().scrub("quota of project 123456789012 exceeded")
        == "quota of project {PROJECT_NUMBER} exceeded"
    )
    with pytest.raises(ConfigError, match="project number 'twelve' is not a number"):
        build({**LIVE, "project_number": "twelve"})


def test_every_run_option_is_a_pytest_option_of_the_plugin(pytestconfig):
    """RunConfig is the one home of the options: each field (but the token) is a command-line option
    the plugin adds wherever pytest runs (its entry point loads it here too)."""
    missing = [name for name in OPTIONS if not hasattr(pytestconfig.option, name)]
    assert missing == []


def test_a_real_project_given_to_a_replay_run_is_scrubbed_too():
    replay = build({"project": "real-proj-42", "endpoint_id": "8675309"})
    assert replay.scrubber().scrub("no match for /projects/real-proj-42/endpoints/8675309") == (
        "no match for /projects/{PROJECT}/endpoints/{ENDPOINT}"
    )
    assert build({}).scrubber().scrub("/projects/PROJECT/x") == "/projects/PROJECT/x"  # placeholders stay
