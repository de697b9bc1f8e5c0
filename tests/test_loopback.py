"""vertex_conformance.loopback: any ASGI app served on loopback only, on a free or given port, and
taken down promptly even with a client still connected."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from vertex_conformance.loopback import is_loopback, serve


async def no_content(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: 204 to anything."""
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_only_loopback_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_app_given_is_served_on_a_free_loopback_port() -> None:
    with serve(no_content) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/anything").status_code == 204


def test_a_given_port_is_used() -> None:
    port = _free_port()
    with serve(no_content, port=port) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(url).status_code == 204


def test_a_busy_port_is_an_os_error() -> None:
    with serve(no_content) as url, pytest.raises(OSError), serve(no_content, port=int(url.rsplit(":", 1)[1])):
        pass


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_a_host_that_is_not_loopback_is_refused_before_anything_is_bound(host: str) -> None:
    with pytest.raises(ValueError, match="is not a loopback address"), serve(no_content, host=host):
        pass


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_an_ipv6_loopback_host_is_served_in_brackets(host: str) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with serve(no_content, host=host) as url:
        assert url.startswith("http://[::1]:")
        assert httpx.get(url).status_code == 204


def test_leaving_the_block_stops_promptly_with_a_client_connection_still_open() -> None:
    client = httpx.Client()
    try:
        with serve(no_content, stop_timeout=2) as url:
            assert client.get(url).status_code == 204  # leaves a keep-alive connection
            started = time.monotonic()
        assert time.monotonic() - started < 5
        with pytest.raises(httpx.ConnectError):
            httpx.get(url)
    finally:
        client.close()
