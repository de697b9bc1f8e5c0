"""scrub.Scrubber: whole values in every spelling, str and bytes, values added later; and the places
that write what a run saw (the recorder and its last gate, infra evidence, the secret scan) using it."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from vcr.request import Request

from vertex_conformance import recording
from vertex_conformance.exchange import Exchange
from vertex_conformance.recording import CassetteSerializer, SecretInCassetteError, vcr_config
from vertex_conformance.redaction import LISTED_SECRET
from vertex_conformance.resilience import evidence
from vertex_conformance.scrub import Kind, Scrubber
from vertex_conformance.secrets_scan import Hit, scan

PROJECT_ID = "my-secret-proj-123"
TOKEN = "ya29.a0AfB_" + "q" * 40
SPELLINGS = {
    "plain": PROJECT_ID,
    "JSON-escaped": "".join(f"\\u{ord(c):04x}" for c in PROJECT_ID),
    "JSON-escaped, upper-case hex": PROJECT_ID.replace("-", "\\u002D"),
    "URL-encoded": PROJECT_ID.replace("-", "%2D"),
    "URL-encoded, lower-case hex": "%6dy%2dsecret-proj-123",
    "mixed": "m\\u0079%2Dsecret\\u002dproj%2d123",
}


def project(value: str = PROJECT_ID) -> Scrubber:
    return Scrubber([(Kind.PROJECT_ID, value)])


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_a_value_is_scrubbed(spelling: str) -> None:
    text = f'{{"name": "projects/{spelling}/locations/us-central1"}}'
    assert project().scrub(text) == '{"name": "projects/{PROJECT}/locations/us-central1"}'
    assert project().finds(text)


@pytest.mark.parametrize("word", ["backup", "stop", "logprobs", "p1", "p-2", "_p", "apt"])
def test_only_whole_values_are_scrubbed_never_letters_inside_words(word: str) -> None:
    assert project("p").scrub(f"a {word} b") == f"a {word} b"
    assert not project("p").finds(word)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("projects/p/locations", "projects/{PROJECT}/locations"),
        ('"p"', '"{PROJECT}"'),
        ("p", "{PROJECT}"),
        ("sa@p.iam.gserviceaccount.com", "sa@{PROJECT}.iam.gserviceaccount.com"),
        ("projects%2Fp%2Flocations", "projects%2F{PROJECT}%2Flocations"),  # escaped separators
        ("projects\\/p\\/locations", "projects\\/{PROJECT}\\/locations"),
        ("\\u0041p %41p p%61 p\\u002d", "\\u0041p %41p p%61 p\\u002d"),  # escaped letters border it
    ],
)
def test_a_value_counts_where_no_word_character_borders_it_in_any_spelling(text: str, scrubbed: str) -> None:
    assert project("p").scrub(text) == scrubbed


def test_bytes_are_scrubbed_by_the_same_rule() -> None:
    body = b'{"p": "projects/my\\u002dsecret-proj-123", "backup": "my-secret-proj-1234"}'
    assert project().scrub(body) == b'{"p": "projects/{PROJECT}", "backup": "my-secret-proj-1234"}'
    assert project().finds(body) and not project().finds(b"my-secret-proj-1234")


def test_a_non_ascii_value_is_found_in_its_utf8_escaped_and_encoded_spellings() -> None:
    scrubber = project("pröj")
    assert scrubber.scrub("a pröj b pr\\u00F6j c pr%C3%b6j") == "a {PROJECT} b {PROJECT} c {PROJECT}"
    assert scrubber.scrub("pröj".encode()) == b"{PROJECT}"


def test_a_token_added_later_is_scrubbed_from_then_on() -> None:
    scrubber = project()
    assert scrubber.scrub(f"echo {TOKEN}") == f"echo {TOKEN}"
    scrubber.add(Kind.ACCESS_TOKEN, TOKEN)
    encoded = TOKEN.replace(".", "%2E")
    assert scrubber.scrub(f"echo {encoded} in {PROJECT_ID}") == "echo <redacted> in {PROJECT}"


def test_each_kind_has_its_placeholder_and_the_longest_value_wins() -> None:
    scrubber = Scrubber(
        [
            (Kind.PROJECT_ID, "p"),
            (Kind.PROJECT_NUMBER, "123456789012"),
            (Kind.ENDPOINT_ID, "4567"),
            (Kind.SERVICE_ACCOUNT, "runner@p.iam.gserviceaccount.com"),
        ]
    )
    text = "p 123456789012 endpoints/4567 runner@p.iam.gserviceaccount.com other@p.iam"
    assert scrubber.scrub(text) == (
        "{PROJECT} {PROJECT_NUMBER} endpoints/{ENDPOINT} {SERVICE_ACCOUNT} other@{PROJECT}.iam"
    )


def test_an_empty_scrubber_returns_its_input_and_ignores_empty_values() -> None:
    scrubber = Scrubber([(Kind.PROJECT_ID, "")])
    text = "projects/x"
    assert not scrubber and scrubber.scrub(text) is text and not scrubber.finds(text)


def test_a_big_body_without_any_spelling_of_a_value_comes_back_unchanged() -> None:
    body = json.dumps({"data": base64.b64encode(bytes(range(256)) * 4000).decode()})
    assert project().scrub(body) is body
    assert project().scrub(body + " my-secret-proj-123").endswith(" {PROJECT}")


def test_the_scrubbers_repr_names_kinds_never_values() -> None:
    scrubber = project()
    scrubber.add(Kind.ACCESS_TOKEN, TOKEN)
    assert PROJECT_ID not in repr(scrubber) and TOKEN not in repr(scrubber)
    assert "access token" in repr(scrubber)


def test_of_takes_a_scrubber_as_it_is_and_strings_as_project_ids() -> None:
    scrubber = project()
    assert Scrubber.of(scrubber) is scrubber
    assert Scrubber.of([PROJECT_ID]).scrub(PROJECT_ID) == "{PROJECT}"


# --- where the Scrubber is used -------------------------------------------------------------------


def _response(body: bytes) -> dict:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": body},
    }


def test_the_recorder_scrubs_a_project_id_the_server_sent_back_json_escaped() -> None:
    escaped = PROJECT_ID.replace("-", "\\u002d")
    response = _response(f'{{"name": "projects/{escaped}/models/m"}}'.encode())
    filtered = vcr_config(secrets=[PROJECT_ID])["before_record_response"](response)
    assert filtered["body"]["string"] == b'{"name": "projects/{PROJECT}/models/m"}'


def test_the_recorder_scrubs_a_token_added_to_the_runs_scrubber_after_it_was_configured() -> None:
    scrubber = Scrubber()  # empty until the first token arrives
    config = copy.deepcopy(vcr_config(secrets=scrubber))  # as pytest-recording hands it to vcrpy
    scrubber.add(Kind.ACCESS_TOKEN, TOKEN)
    filtered = config["before_record_response"](_response(f'{{"echo": "{TOKEN}"}}'.encode()))
    assert filtered["body"]["string"] == b'{"echo": "<redacted>"}'


def test_the_last_gate_refuses_a_cassette_holding_a_listed_value_escaped(tmp_path: Path) -> None:
    escaped = PROJECT_ID.replace("-", "\\u002d")  # unfiltered: what a filter that missed it would leave
    request = Request("POST", "http://h/v1/x", b"{}", {"content-type": "application/json"})
    response = _response(f'{{"name": "projects/{escaped}"}}'.encode())
    path = tmp_path / "leak.yaml"
    with pytest.raises(SecretInCassetteError) as caught:
        vcr_config(secrets=[PROJECT_ID])["persister"].save_cassette(
            path, {"requests": [request], "responses": [response]}, CassetteSerializer
        )
    assert LISTED_SECRET in str(caught.value) and PROJECT_ID not in str(caught.value)
    assert not list(tmp_path.iterdir())
    recording.AtomicPersister().save_cassette(  # without the run's values, only patterns are looked for
        path, {"requests": [request], "responses": [response]}, CassetteSerializer
    )
    assert path.is_file()


def test_infra_evidence_scrubs_the_body_before_cutting_it() -> None:
    body = "x" * 190 + f" {PROJECT_ID} " + "y" * 400  # the id straddles the cut after the head
    text = evidence(Exchange(None, 503, {}, body_text=body), secrets=project())
    assert "x {PROJECT}…y" in text and "my-secr" not in text
    encoded = Exchange(None, 503, {}, body_text=PROJECT_ID.replace("-", "%2D"))
    assert evidence(encoded, secrets=[PROJECT_ID]) == "HTTP 503: {PROJECT}"


def test_the_secret_scan_finds_a_listed_project_id_in_any_spelling(tmp_path: Path) -> None:
    cassette = tmp_path / "c.yaml"
    cassette.write_text(f"uri: projects/{SPELLINGS['mixed']}\nbackup: my-secret-proj-1234\n")
    assert scan([cassette], extra_secrets=[PROJECT_ID]) == [Hit(cassette, 1, LISTED_SECRET)]
