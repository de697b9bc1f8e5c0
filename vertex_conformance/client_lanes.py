"""The client lanes' runner: one call through a client Vertex users call it with, as an exchange.

The client (its driver: ``client_call``'s contract) is pointed at a slot of the run's ``gateway``,
which answers from the raw lane's recording or relays to the target. The exchange the checks judge
is what crossed the gateway (the client's request as it sent it, the answer as it got it), with
what the client's user got (``ClientResult``, in ``sdk_view``) and the documented body the raw lane
sends for the same call (``expected_body``: the client's wire body is compared with it).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from . import gateway, lanes
from .client_call import ClientCall, ClientUnavailable, NotReplayable
from .exchange import Exchange
from .vocabulary import Lane

_CLIENT_GRACE_S = 10.0  # how much longer than the relay a client may wait for its answer
_TARGET = re.compile(
    r"/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/endpoints/(?P<endpoint>[^/]+)"
)


def _relay_budget(call: lanes.Call) -> float:
    """The longest the gateway's relay of ``call`` can take: every attempt to its deadline, and the
    waits between them. The client is given longer, so the relay's verdict (a transport fault named
    once for every lane) is the one that counts, never the client's own timeout."""
    return call.timeouts.stream * call.retry.max_attempts + call.retry.max_total_wait


def driver(lane: Lane) -> Any:
    """The lane's driver module; ``ClientUnavailable`` (one line: how to install it) when it cannot run."""
    module = importlib.import_module(str(lane.driver))
    why = module.unavailable()
    if why is not None:
        raise ClientUnavailable(why)
    return module


def run(call: lanes.Call, tokens: Any, lane: Lane) -> Exchange:
    """Send ``call`` through the client of ``lane`` and return what crossed the gateway.

    A relay that failed raises what it raised (``TransportError``: infra, or not in the cassette in
    replay; ``ConfigError``: credentials, the run stops); a request no recording answers is a
    ``NotReplayable`` (the client changed it) or, when the recording does not answer the documented
    body either, a ``TransportError`` naming the closest recording; a client that sent nothing
    raises ``RuntimeError`` with what it raised instead."""
    client = driver(lane)
    target = _TARGET.search(call.base_url)
    with gateway.current().slot(call, tokens) as slot:
        result = client.drive(
            ClientCall(
                base_url=slot.base_url,
                token_url=slot.token_url,
                body=call.body,
                project=target["project"] if target else "",
                location=target["location"] if target else "",
                endpoint_id=target["endpoint"] if target and target["endpoint"] != "openapi" else None,
                parse_with=call.parse_with,
                timeout_s=_relay_budget(call) + _CLIENT_GRACE_S,
            )
        )
    for crossing in slot.crossings:  # a client that gave up first: the relay still ends, by its own limits
        crossing.done.wait(_relay_budget(call))
    if not slot.crossings:
        why = f"{result.error.type}: {result.error.message}" if result.error else "no error either"
        raise RuntimeError(f"{lane.id} sent no request to the gateway ({why})")
    crossing = slot.crossings[-1]
    if crossing.fault is not None:
        raise crossing.fault
    if crossing.exchange is None:
        why = crossing.missed or "the gateway gave the client no answer"
        if slot.recordings is not None and slot.answers(call.body):
            raise NotReplayable(crossing.request, why)
        raise lanes.TransportError(why)  # the recording does not answer the documented body either
    exchange = crossing.exchange
    exchange.lane = lane.id
    exchange.sdk_view = result.to_dict()
    exchange.expected_body = call.body
    exchange.notes["client_call"] = result.call
    if len(slot.crossings) > 1:
        exchange.notes["client_requests"] = len(slot.crossings)
    return exchange
