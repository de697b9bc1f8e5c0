"""What counts as a secret on the wire, and how to keep it out of anything we write.

Two jobs, kept together so the cassette recorder, the exchange capture and (later) a repository
secret scanner agree on one definition:

- headers that carry credentials or Google session data (``SENSITIVE_HEADERS``): dropped from
  cassettes, shown as ``<redacted>`` in exchanges and reports;
- patterns of credentials that may hide in any text (``find_secrets``): the last gate before a
  cassette is written. It names the *kind* of secret found, never the value, so the error that
  reports a leak cannot itself leak. The run's own secret values (the project id, its tokens) are
  looked for by a ``scrub.Scrubber``, in every spelling the scrubber replaces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scrub imports REDACTED from here
    from .scrub import Scrubber

REDACTED = "<redacted>"

# Header names (lower case; ``*`` is a wildcard). ``x-goog-*`` covers x-goog-api-key,
# x-goog-user-project (the project id) and Google's session and routing headers.
SENSITIVE_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-goog-*",
)

# An auth scheme is an RFC 9110 token followed by whitespace and credentials ("Bearer abc").
_AUTH_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s+\S")

# (kind, pattern). Values are required to look like real credentials (long enough, no
# placeholder brackets), so "Bearer <redacted>" and documentation examples do not trip the gate.
# Base64 payloads (images, thought signatures) contain none of "ya29.", spaces or "-----".
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("access token", re.compile(r"ya29\.[0-9A-Za-z_.\-]{16,}")),
    ("bearer token", re.compile(r"\bbearer\s+[0-9A-Za-z\-._~+/]{16,}=*", re.IGNORECASE)),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    # JSON ("refresh_token": "v"), YAML (refresh_token: v) and form (refresh_token=v) spellings.
    ("refresh token", re.compile(r"""\brefresh_token["']?\s*[:=]\s*["']?[^\s"'&,}<{]{8,}""")),
    ("client secret", re.compile(r"""\bclient_secret["']?\s*[:=]\s*["']?[^\s"'&,}<{]{8,}""")),
)
LISTED_SECRET = "listed secret value"


@functools.lru_cache(maxsize=512)  # asked for every header of every request vcrpy loads or matches
def is_sensitive_header(name: str) -> bool:
    """Whether a header may carry credentials or session data (case-insensitive)."""
    lowered = name.strip().lower()
    return any(fnmatchcase(lowered, pattern) for pattern in SENSITIVE_HEADERS)


def redact_value(value: str) -> str:
    """``<redacted>``, keeping a leading auth scheme (``Bearer <redacted>``) so evidence stays readable."""
    match = _AUTH_SCHEME.match(value.strip())
    return f"{match.group(1)} {REDACTED}" if match else REDACTED


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every sensitive value redacted; names and order are kept."""
    return {
        name: redact_value(value) if is_sensitive_header(name) else value for name, value in headers.items()
    }


def find_secrets(text: str, extra: Scrubber | None = None) -> list[str]:
    """The kinds of secret found in ``text`` (e.g. ``"access token"``), in a fixed order, each once.

    ``extra`` holds the run's values that must not appear either (a live project id, a token), in
    any spelling its ``scrub`` would replace (plain, JSON-escaped, URL-encoded); they are reported
    as ``"listed secret value"``. Values are never returned.
    """
    kinds = [kind for kind, pattern in _SECRET_PATTERNS if pattern.search(text)]
    if extra is not None and extra.finds(text):
        kinds.append(LISTED_SECRET)
    return kinds
