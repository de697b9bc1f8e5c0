"""Serve an ASGI app on a loopback address from a background thread.

Every HTTP server of the project starts here: ``vertex-conformance serve``, the sample server in
``tools/`` and the harness's own test servers. One place therefore binds the socket, waits until
uvicorn is up, and takes it down without ever hanging the caller. A non-loopback host is refused:
what these servers hold (recorded traffic, documented samples, test fixtures) is not for a network.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback interface (``localhost`` or a loopback IP literal)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    start_timeout: float = 10.0,
    stop_timeout: float = 5.0,
) -> Iterator[str]:
    """Run ``app`` under uvicorn on ``host``:``port`` in a thread; port 0 (the default) takes a free one.

    Yields the base URL (``http://127.0.0.1:<port>``; an IPv6 host, with or without brackets, in
    brackets). Raises ``ValueError`` for a host that is not loopback, ``OSError`` when the port
    cannot be bound and ``RuntimeError`` when uvicorn does not start. On exit the server stops
    accepting, gives open connections ``stop_timeout`` seconds, then is forced down: leaving the
    block never hangs.
    """
    if not is_loopback(host):
        raise ValueError(f"{host!r} is not a loopback address")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))  # the port is ours before uvicorn starts: no race for a "free" port
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    netloc = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=max(1, int(stop_timeout / 2)),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"loopback-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {netloc}")
            time.sleep(0.01)
        yield f"http://{netloc}"
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(stop_timeout)
        sock.close()
