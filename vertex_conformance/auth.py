"""Bearer tokens for live and record runs.

Vertex takes ``Authorization: Bearer <token>`` with what ``gcloud auth print-access-token``
prints: Application Default Credentials, through google-auth. Tokens live about an hour, so a
long run refreshes them ahead of expiry, and once more after a 401 (``bearer_auth``: every lane's
HTTP client, the SDK's too, so the SDK lanes refresh as the raw lane does). Every failure to get a
token becomes a one-line ``ConfigError`` that says what to do; no token ever appears in a message.
A 401 that outlasts that refresh (a static token, or credentials refused outright) would fail every
later test the same way, so it ends the run with ``refusal``'s one line instead.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import httpx2

from .config import ConfigError, RunConfig
from .scrub import Kind, Scrubber

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_MARGIN_S = 300.0
ADC_HINT = "run `gcloud auth application-default login`, or set VERTEX_ACCESS_TOKEN"


class TokenSource(Protocol):
    """Where bearer tokens come from; shared by both lanes and safe to call from several threads."""

    def token(self) -> str:
        """A token that stays valid for at least the source's margin."""
        ...

    def invalidate(self) -> None:
        """Forget the current token, so the next ``token()`` fetches a new one (after a 401)."""
        ...

    def account(self) -> str | None:
        """The service account the tokens are for, when the source knows one (a secret too)."""
        ...

    @property
    def refreshable(self) -> bool:
        """Whether ``invalidate`` can bring a different token (ADC can; a static token cannot)."""
        ...


class StaticToken:
    """A token given by the user (VERTEX_ACCESS_TOKEN): it cannot be refreshed, so a 401 surfaces."""

    refreshable = False

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def token(self) -> str:
        return self._value

    def invalidate(self) -> None:
        """Nothing to refresh: the same token comes back and the caller sees the 401."""

    def account(self) -> None:
        """A bare token names no account."""


class AdcToken:
    """Application Default Credentials, refreshed ahead of expiry.

    ``google.auth.default`` runs lazily, on the first ``token()``, so building a source costs
    nothing. A lock serialises refreshes: the SDK lane and the raw lane (and xdist's threads)
    share one source and must not refresh it twice at once.
    """

    refreshable = True

    def __init__(
        self,
        scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,),
        credentials: Any = None,
        request: Any = None,
        *,
        margin_s: float = DEFAULT_MARGIN_S,
    ) -> None:
        self._scopes = tuple(scopes)
        self._credentials = credentials
        self._request = request
        self._margin = timedelta(seconds=margin_s)
        self._stale = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AdcToken(scopes={self._scopes!r})"

    def token(self) -> str:
        # google-auth (and requests beneath it) is imported here, not at the top: a replayed run,
        # which needs no token, then starts a tenth of a second sooner.
        import google.auth.exceptions

        with self._lock:
            try:
                creds = self._loaded()
                if self._stale or not creds.valid or self._expires_soon(creds):
                    creds.refresh(self._transport())
                    self._stale = False
            except google.auth.exceptions.GoogleAuthError as exc:
                raise ConfigError(f"could not get Google credentials ({_reason(exc)}): {ADC_HINT}") from None
            return creds.token

    def invalidate(self) -> None:
        with self._lock:
            self._stale = True

    def account(self) -> str | None:
        """The service account's e-mail of the loaded credentials (user credentials have none)."""
        import google.auth.exceptions

        with self._lock:
            try:
                email = getattr(self._loaded(), "service_account_email", None)
            except google.auth.exceptions.GoogleAuthError:
                return None
        return email if isinstance(email, str) and "@" in email else None

    def _loaded(self) -> Any:
        if self._credentials is None:
            import google.auth

            self._credentials, _ = google.auth.default(scopes=self._scopes, request=self._request)
        return self._credentials

    def _transport(self) -> Any:
        if self._request is None:
            import google.auth.transport.requests

            self._request = google.auth.transport.requests.Request()
        return self._request

    def _expires_soon(self, creds: Any) -> bool:
        expiry = creds.expiry
        if expiry is None:
            return False
        # google-auth keeps expiry as a naive UTC datetime.
        now = datetime.now(UTC)
        if expiry.tzinfo is None:
            now = now.replace(tzinfo=None)
        return expiry - now <= self._margin


class ScrubbedTokens:
    """A token source whose every token joins the run's scrubber before anyone can send it: a token
    refreshed mid-run is as secret as the first, and a server that echoes it must not get it into
    a report or a cassette."""

    def __init__(self, source: TokenSource, scrubber: Scrubber) -> None:
        self._source, self._scrubber = source, scrubber

    def __repr__(self) -> str:
        return f"ScrubbedTokens({self._source!r})"

    def token(self) -> str:
        """A token, known to the scrubber before it is used. A failure's message (it may name the
        account or the project) is scrubbed too: it ends the run on the console."""
        try:
            self._scrubber.add(Kind.SERVICE_ACCOUNT, self._source.account() or "")
            value = self._source.token()
        except ConfigError as exc:
            raise ConfigError(self._scrubber.scrub(str(exc))) from None
        self._scrubber.add(Kind.ACCESS_TOKEN, value)
        return value

    def invalidate(self) -> None:
        self._source.invalidate()

    def account(self) -> str | None:
        return self._source.account()

    @property
    def refreshable(self) -> bool:
        return bool(getattr(self._source, "refreshable", False))


def refusal(source: TokenSource) -> str:
    """The one line a live run stops with when a 401 outlasts the one refresh ``bearer_auth`` makes:
    every later request would be refused the same way, and a run of such failures says nothing
    about conformance."""
    if source.refreshable:
        return f"the credentials were refused (HTTP 401) even after a refresh: {ADC_HINT}"
    return (
        "the token was refused (HTTP 401); it may have expired: set a fresh VERTEX_ACCESS_TOKEN "
        "(gcloud auth print-access-token) or unset it to use Application Default Credentials"
    )


def token_source(cfg: RunConfig, scrubber: Scrubber) -> TokenSource | None:
    """The source a run uses: none for replay (it needs no credentials), else the static token or
    ADC, each token handed out added to ``scrubber``."""
    if not cfg.mode.sends:
        return None
    source: TokenSource = StaticToken(cfg.access_token) if cfg.access_token else AdcToken()
    return ScrubbedTokens(source, scrubber)


def check_credentials(source: TokenSource | None) -> None:
    """Fetch a token once up front, so a live run stops before its first request with the hint."""
    if source is not None:
        source.token()


class _Bearer:
    """Auth that sends the source's token and, after a 401, retries once with a fresh one.

    One retry at most: a second 401 goes back to the caller, who reports it. The retry is skipped
    when refreshing gave the same token back (a static token), since it would fail the same way.
    The flow is the same for httpx and httpx2; each library insists on its own ``Auth`` class.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        sent = self._source.token()
        _set_bearer(request, sent)
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._source.invalidate()
            fresh = self._source.token()
            if fresh != sent:
                _set_bearer(request, fresh)
                yield request


class BearerAuth(_Bearer, httpx.Auth):
    """The bearer flow for httpx clients (the raw lane; the SDK before openai 3)."""


class Httpx2BearerAuth(_Bearer, httpx2.Auth):
    """The bearer flow for httpx2 clients (the SDK from openai 3 on)."""


def bearer_auth(library: str, source: TokenSource) -> BearerAuth | Httpx2BearerAuth:
    """The bearer auth for a client of ``library`` (``"httpx"`` or ``"httpx2"``)."""
    return Httpx2BearerAuth(source) if library == "httpx2" else BearerAuth(source)


def _set_bearer(request: Any, token: str) -> None:
    request.headers["Authorization"] = f"Bearer {token}"


def _reason(exc: Exception) -> str:
    """google-auth's own short reason: its first argument, first line, bounded.

    Later arguments can hold the token endpoint's whole response, so they are left out.
    """
    text = str(exc.args[0]).strip() if exc.args else ""
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
