"""Target URLs, built exactly as docs/spec.md#endpoints documents them.

The functions return base URLs, what the ``openai`` SDK takes as ``base_url``; it appends
``/chat/completions`` itself, and the raw HTTP lane appends it the same way (``lanes.Call.url``),
so all lanes hit the same URL. A form that pins a location or API version (the global-endpoint form,
the v1beta1 form) passes it as an override instead of building its own URL. A ``--base-url`` stands
where the scheme and host stand, prefix and all: the documented path always follows it whole, so a
cassette recorded behind a gateway holds the same path (``recording.with_placeholders`` drops the
prefix) and replays anywhere.
"""

from __future__ import annotations

from .config import RunConfig

GLOBAL_LOCATION = "global"
_GLOBAL_HOST = "https://aiplatform.googleapis.com"


def openapi_base_url(cfg: RunConfig, *, location: str | None = None, api_version: str | None = None) -> str:
    """Base URL of the Gemini models' OpenAI-compatible endpoint (``endpoints/openapi``)."""
    return _endpoints_root(cfg, location, api_version) + "/openapi"


def endpoint_base_url(cfg: RunConfig, *, location: str | None = None, api_version: str | None = None) -> str:
    """Base URL of a self-deployed model's endpoint (``endpoints/{ENDPOINT_ID}``)."""
    if not cfg.endpoint_id:
        raise ValueError("endpoint_base_url needs cfg.endpoint_id (RunConfig.from_sources checks this)")
    return _endpoints_root(cfg, location, api_version) + f"/{cfg.endpoint_id}"


def wire_model(cfg: RunConfig, *, image: bool = False) -> str:
    """The model id as sent on the wire: Gemini models go as ``google/<id>``."""
    return f"google/{cfg.image_model if image else cfg.model}"


def _endpoints_root(cfg: RunConfig, location: str | None, api_version: str | None) -> str:
    location = location or cfg.location
    version = api_version or cfg.api_version
    return f"{_origin(cfg, location)}/{version}/projects/{cfg.project}/locations/{location}/endpoints"


def _origin(cfg: RunConfig, location: str) -> str:
    """What precedes the documented path: scheme and host, or the base URL, which replaces them and
    may add a gateway's path prefix (``https://gw.example/proxy/vertex``); the global location has no
    region prefix on the host."""
    if cfg.base_url:
        return cfg.base_url
    if location == GLOBAL_LOCATION:
        return _GLOBAL_HOST
    return f"https://{location}-aiplatform.googleapis.com"
