"""Bearer tokens: google-auth's real refresh path against a local token endpoint, and BearerAuth's
single retry after a 401 against a local API. Nothing leaves the loopback interface."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import google.auth.compute_engine._metadata as gce_metadata
import httpx
import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from token_server import AuthServer, LoopbackOnlyRequest, issued, serve

from vertex_conformance.auth import (
    AdcToken,
    BearerAuth,
    Httpx2BearerAuth,
    ScrubbedTokens,
    StaticToken,
    bearer_auth,
    check_credentials,
    refusal,
    token_source,
)
from vertex_conformance.config import ConfigError, RunConfig
from vertex_conformance.scrub import Kind, Scrubber

GCLOUD_HINT = "run `gcloud auth application-default login`, or set VERTEX_ACCESS_TOKEN"


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    """A throwaway RSA key made at test time; no key is ever kept in the repository."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def isolated_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ADC anywhere: no key file, an empty gcloud config, and no metadata-server lookup."""
    empty_gcloud = tmp_path / "gcloud"
    empty_gcloud.mkdir()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(empty_gcloud))
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    # google-auth reads NO_GCE_CHECK when it is imported, which may have happened already.
    monkeypatch.setattr(gce_metadata, "_NO_GCE_CHECK", True)


def use_service_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pem: str, token_uri: str) -> Path:
    """Write a service-account key whose token_uri is the local server, and point ADC at it."""
    key_file = tmp_path / "sa.json"
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "test-project",
                "private_key_id": "test-key-1",
                "private_key": pem,
                "client_email": "conformance@test-project.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": token_uri,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    return key_file


@pytest.fixture
def adc_server(isolated_adc, monkeypatch, tmp_path, private_key_pem, request):
    """The local servers, with ADC pointing at their token endpoint; parametrize via ``request.param``."""
    replies, accepted = request.param
    with serve(AuthServer(token_replies=replies, accepted=accepted)) as server:
        use_service_account(monkeypatch, tmp_path, private_key_pem, server.url + "/token")
        yield server


def servers(replies, accepted=()):
    """Indirect parametrization for ``adc_server``."""
    return pytest.mark.parametrize("adc_server", [(replies, set(accepted))], indirect=True)


def adc() -> AdcToken:
    return AdcToken(request=LoopbackOnlyRequest())


@servers([issued("tok-1"), issued("tok-2")])
def test_first_token_is_fetched_with_a_jwt_grant_and_then_reused(adc_server):
    source = adc()

    assert source.token() == "tok-1"
    assert source.token() == "tok-1"
    assert adc_server.token_calls == 1
    grant = adc_server.token_requests[0]
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert grant["assertion"][0].count(".") == 2  # a signed JWT


@servers([issued("tok-1", expires_in=280), issued("tok-2")])
def test_token_expiring_within_the_margin_is_refreshed(adc_server):
    # 280 s is still "valid" to google-auth (its own threshold is shorter) but inside our 300 s margin.
    source = adc()

    assert source.token() == "tok-1"
    assert source.token() == "tok-2"
    assert adc_server.token_calls == 2


@servers([issued("tok-1", expires_in=280), issued("tok-2")])
def test_margin_is_configurable(adc_server):
    source = AdcToken(request=LoopbackOnlyRequest(), margin_s=60)

    assert source.token() == "tok-1"
    assert source.token() == "tok-1"
    assert adc_server.token_calls == 1


@servers([issued("tok-1"), issued("tok-2")])
def test_invalidate_forces_a_refresh(adc_server):
    source = adc()
    assert source.token() == "tok-1"

    source.invalidate()

    assert source.token() == "tok-2"
    assert source.token() == "tok-2"
    assert adc_server.token_calls == 2


@servers([issued("tok-1")])
def test_concurrent_first_calls_refresh_only_once(adc_server):
    source = adc()
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(source.token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == ["tok-1"] * 8
    assert adc_server.token_calls == 1


@servers([issued("tok-1"), issued("tok-2")], accepted={"tok-2"})
def test_bearer_auth_retries_once_after_401_with_a_fresh_token(adc_server):
    with httpx.Client(auth=BearerAuth(adc())) as client:
        response = client.post(adc_server.url + "/api", json={"q": 1})

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert adc_server.api_authorizations == ["Bearer tok-1", "Bearer tok-2"]
    assert adc_server.token_calls == 2


@servers([issued("tok-1"), issued("tok-2"), issued("tok-3")], accepted=set())
def test_bearer_auth_returns_a_second_401_to_the_caller(adc_server):
    with httpx.Client(auth=BearerAuth(adc())) as client:
        response = client.post(adc_server.url + "/api", json={"q": 1})

    assert response.status_code == 401
    assert adc_server.api_authorizations == ["Bearer tok-1", "Bearer tok-2"]
    assert adc_server.token_calls == 2


@servers([issued("tok-1"), issued("tok-2")], accepted={"tok-2"})
def test_bearer_auth_retry_works_for_a_streamed_response(adc_server):
    with (
        httpx.Client(auth=BearerAuth(adc())) as client,
        client.stream("POST", adc_server.url + "/api/stream", json={"stream": True}) as response,
    ):
        lines = [line for line in response.iter_lines() if line]

    assert response.status_code == 200
    assert lines == ['data: {"n": 1}', 'data: {"n": 2}', "data: [DONE]"]
    assert adc_server.api_authorizations == ["Bearer tok-1", "Bearer tok-2"]


@servers([issued("tok-1"), issued("tok-2")], accepted={"tok-2"})
def test_the_httpx2_bearer_auth_retries_once_after_401_too(adc_server):
    """The SDK from openai 3 on runs on httpx2: its lanes refresh after a 401 as the raw lane does."""
    with httpx2.Client(auth=bearer_auth("httpx2", adc())) as client:
        response = client.post(adc_server.url + "/api", json={"q": 1})

    assert response.status_code == 200
    assert adc_server.api_authorizations == ["Bearer tok-1", "Bearer tok-2"]


def test_bearer_auth_is_the_class_of_the_clients_library():
    source = StaticToken("t")
    assert type(bearer_auth("httpx", source)) is BearerAuth
    assert type(bearer_auth("httpx2", source)) is Httpx2BearerAuth
    assert isinstance(bearer_auth("httpx2", source), httpx2.Auth)


def test_a_refused_static_token_and_refused_credentials_are_each_one_line_saying_what_to_do():
    static = refusal(ScrubbedTokens(StaticToken("t"), Scrubber()))
    assert static.startswith(
        "the token was refused (HTTP 401); it may have expired: set a fresh VERTEX_ACCESS_TOKEN"
    )
    adc_line = refusal(ScrubbedTokens(AdcToken(), Scrubber()))
    assert adc_line == f"the credentials were refused (HTTP 401) even after a refresh: {GCLOUD_HINT}"
    assert "\n" not in static + adc_line


def test_static_token_401_is_not_retried():
    with (
        serve(AuthServer(token_replies=[issued("unused")], accepted=set())) as server,
        httpx.Client(auth=BearerAuth(StaticToken("static-secret"))) as client,
    ):
        response = client.post(server.url + "/api", json={})

    assert response.status_code == 401
    assert server.api_authorizations == ["Bearer static-secret"]
    assert server.token_calls == 0


def test_static_token_repr_hides_the_value():
    assert "static-secret" not in repr(StaticToken("static-secret"))


def test_missing_adc_file_gives_config_error_with_the_gcloud_hint(isolated_adc, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nowhere.json"))

    with pytest.raises(ConfigError) as err:
        adc().token()

    message = str(err.value)
    assert GCLOUD_HINT in message
    assert "nowhere.json was not found" in message
    assert "\n" not in message


def test_no_adc_anywhere_gives_config_error_with_the_gcloud_hint(isolated_adc):
    with pytest.raises(ConfigError) as err:
        check_credentials(adc())

    message = str(err.value)
    assert GCLOUD_HINT in message
    assert "credentials were not found" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


REJECTED = (
    400,
    {"error": "invalid_grant", "error_description": "Invalid JWT Signature.", "hint": "tok-leak"},
)


@servers([REJECTED])
def test_token_endpoint_400_gives_config_error_without_secrets(adc_server, private_key_pem):
    with pytest.raises(ConfigError) as err:
        check_credentials(adc())

    message = str(err.value)
    assert GCLOUD_HINT in message
    assert "invalid_grant: Invalid JWT Signature." in message
    assert "tok-leak" not in message
    assert adc_server.token_requests[0]["assertion"][0] not in message
    assert "PRIVATE KEY" not in message
    assert adc_server.token_calls == 1


@servers([issued("tok-secret-1"), REJECTED])
def test_failed_refresh_after_invalidate_does_not_show_the_old_token(adc_server):
    source = adc()
    assert source.token() == "tok-secret-1"
    source.invalidate()

    with pytest.raises(ConfigError) as err:
        source.token()

    assert "tok-secret-1" not in str(err.value)
    assert GCLOUD_HINT in str(err.value)


def test_unreachable_token_endpoint_gives_config_error(isolated_adc, monkeypatch, tmp_path, private_key_pem):
    use_service_account(monkeypatch, tmp_path, private_key_pem, "http://127.0.0.1:1/token")

    with pytest.raises(ConfigError, match="could not get Google credentials") as err:
        adc().token()

    assert GCLOUD_HINT in str(err.value)
    assert "\n" not in str(err.value)


def test_token_source_follows_the_mode_and_the_static_token():
    replay = RunConfig.from_sources({}, {"VERTEX_ACCESS_TOKEN": "t"})
    live_static = RunConfig.from_sources({"mode": "live", "project": "proj-1"}, {"VERTEX_ACCESS_TOKEN": "t"})
    live_adc = RunConfig.from_sources({"mode": "live", "project": "proj-1"}, {})

    assert token_source(replay, Scrubber()) is None
    static = token_source(live_static, Scrubber())
    assert repr(static) == "ScrubbedTokens(StaticToken(<hidden>))"
    assert static.token() == "t"
    assert repr(token_source(live_adc, Scrubber())).startswith("ScrubbedTokens(AdcToken(")


class Rotating:
    """A source that hands out a new token after each invalidate (what ADC does after a refresh)."""

    def __init__(self) -> None:
        self.issued = 0

    def token(self) -> str:
        return f"ya29.token-number-{self.issued}-of-this-run"

    def invalidate(self) -> None:
        self.issued += 1

    def account(self) -> None:
        return None


def test_every_token_a_source_hands_out_is_scrubbed_from_then_on_refreshed_ones_too():
    scrubber = Scrubber()
    tokens = ScrubbedTokens(Rotating(), scrubber)
    first = tokens.token()
    tokens.invalidate()
    second = tokens.token()
    echoed = f'{{"error": "bad token {first}", "seen": "{second}"}}'
    assert scrubber.scrub(echoed) == '{"error": "bad token <redacted>", "seen": "<redacted>"}'


def test_a_token_not_yet_handed_out_is_not_known_to_the_scrubber():
    scrubber = Scrubber()
    ScrubbedTokens(Rotating(), scrubber)
    assert scrubber.scrub("ya29.token-number-0-of-this-run") == "ya29.token-number-0-of-this-run"


def test_check_credentials_accepts_no_source_and_a_working_one():
    check_credentials(None)
    source = StaticToken("t")
    check_credentials(source)
    assert source.token() == "t"


@servers(
    [(400, {"error": "invalid_grant: conformance@test-project.iam.gserviceaccount.com of test-project"})]
)
def test_a_failed_refresh_names_neither_the_account_nor_the_project(adc_server):
    scrubber = Scrubber([(Kind.PROJECT_ID, "test-project")])
    with pytest.raises(ConfigError) as err:
        ScrubbedTokens(adc(), scrubber).token()
    message = str(err.value)
    assert "invalid_grant" in message and GCLOUD_HINT in message
    assert "conformance@" not in message and "test-project" not in message
    assert "{SERVICE_ACCOUNT}" in message


@servers([issued("tok-1")])
def test_the_service_account_joins_the_scrubber_with_the_first_token(adc_server):
    scrubber = Scrubber()
    ScrubbedTokens(adc(), scrubber).token()
    assert scrubber.scrub("by conformance@test-project.iam.gserviceaccount.com") == "by {SERVICE_ACCOUNT}"
