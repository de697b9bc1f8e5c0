"""Which headers count as sensitive, how they are redacted, and which secrets the text scan finds."""

from __future__ import annotations

import pytest

from vertex_conformance.paths import SAMPLES
from vertex_conformance.redaction import (
    LISTED_SECRET,
    SENSITIVE_HEADERS,
    find_secrets,
    is_sensitive_header,
    redact_headers,
)
from vertex_conformance.scrub import Scrubber

ACCESS_TOKEN = "ya29.a0AfB_byC" + "x" * 60
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "Authorization",
        "PROXY-AUTHORIZATION",
        "cookie",
        "Set-Cookie",
        "x-api-key",
        "x-goog-api-key",
        "X-Goog-User-Project",
        "x-goog-api-client",
        " authorization ",
    ],
)
def test_credential_and_google_headers_are_sensitive(name: str) -> None:
    assert is_sensitive_header(name)


@pytest.mark.parametrize(
    "name", ["content-type", "user-agent", "x-google-thing", "x-goog", "authorization-info"]
)
def test_ordinary_headers_are_not_sensitive(name: str) -> None:
    assert not is_sensitive_header(name)


def test_sensitive_headers_cover_the_documented_names() -> None:
    assert {"authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization", "x-goog-*"} <= set(
        SENSITIVE_HEADERS
    )


def test_redact_headers_keeps_the_auth_scheme_and_leaves_other_headers_alone() -> None:
    headers = {
        "Authorization": f"Bearer {ACCESS_TOKEN}",
        "Proxy-Authorization": "Basic dXNlcjpwYXNz",
        "cookie": "SID=abc; HSID=def",
        "x-goog-user-project": "my-secret-proj-123",
        "x-goog-api-client": "gl-python/3.11 auth/2.38",
        "Content-Type": "application/json",
    }
    assert redact_headers(headers) == {
        "Authorization": "Bearer <redacted>",
        "Proxy-Authorization": "Basic <redacted>",
        "cookie": "<redacted>",
        "x-goog-user-project": "<redacted>",
        "x-goog-api-client": "<redacted>",
        "Content-Type": "application/json",
    }
    assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"  # a copy, not an edit in place


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f'{{"access_token": "{ACCESS_TOKEN}"}}', "access token"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123", "bearer token"),
        (PRIVATE_KEY, "private key"),
        ("-----BEGIN RSA PRIVATE KEY-----", "private key"),
        ('{"refresh_token": "1//0gLongRefreshTokenValue"}', "refresh token"),
        ("refresh_token: 1//0gLongRefreshTokenValue", "refresh token"),
        ("grant_type=refresh_token&refresh_token=1%2F%2F0gLongValue", "refresh token"),
        ('"client_secret": "GOCSPX-abcdefghijkl"', "client secret"),
        ("client_secret: GOCSPX-abcdefghijkl", "client secret"),
    ],
)
def test_find_secrets_names_the_kind_of_each_secret(text: str, kind: str) -> None:
    assert kind in find_secrets(text)


def test_find_secrets_returns_kinds_never_values_and_each_kind_once() -> None:
    found = find_secrets(f"{ACCESS_TOKEN} and again {ACCESS_TOKEN}\n{PRIVATE_KEY}")
    assert found == ["access token", "private key"]
    assert not any(ACCESS_TOKEN in kind for kind in found)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer <redacted>",
        "api_key: Bearer {TOKEN}",
        "the token starts with ya29. and is long",
        '"refresh_token": null',
        '"client_secret": "<redacted>"',
        "Once upon a time, a girl named Mia found a backpack.",
    ],
)
def test_find_secrets_ignores_redacted_values_and_prose(text: str) -> None:
    assert find_secrets(text) == []


def test_find_secrets_reports_listed_values_without_repeating_them() -> None:
    text = "https://x/v1/projects/my-secret-proj-123/locations/us-central1"
    assert find_secrets(text, extra=Scrubber.of(["my-secret-proj-123"])) == [LISTED_SECRET]
    assert find_secrets(text, extra=Scrubber.of(["", "other-project"])) == []


def test_find_secrets_finds_a_listed_value_the_server_sent_back_json_escaped_or_url_encoded() -> None:
    listed = Scrubber.of(["my-secret-proj-123"])
    escaped = '{"name": "projects/my\\u002dsecret\\u002Dproj\\u002d123"}'
    assert find_secrets(escaped, listed) == [LISTED_SECRET]
    assert find_secrets("next=projects%2Fmy%2Dsecret-proj-123%2F", listed) == [LISTED_SECRET]
    assert find_secrets("projects/my-secret-proj-1234", listed) == []  # another project: not a whole value


def test_documented_samples_hold_no_secrets() -> None:
    for sample in (p for p in SAMPLES.rglob("*") if p.is_file()):
        assert find_secrets(sample.read_text(encoding="utf-8")) == [], sample.name
