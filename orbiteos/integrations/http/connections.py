"""Connections that idle, dribble or pile up unauthenticated are closed.

aiohttp closes an idle keep-alive connection but never one that sends its request headers a byte at
a time, nor does it bound how many connections nobody has authenticated on. `ConnectionGuard`
tracks each connection from the protocol factory on, and every second closes those with no
request in progress for `idle_timeout` seconds since they connected or last answered (so slow or
never-finished headers count as idle); and when a new connection would make more than
`max_unauthenticated` connections on which no request has shown a valid token, it closes the
oldest idle one among those first. A request in progress (a long answer, an open websocket) is
never cut; slow bodies are bounded where they are read (body.py, the webhook view).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from orbiteos.integrations.http.auth import TOKEN_KEY
from orbiteos.integrations.http.errors import Handler

_LOGGER = logging.getLogger(__name__)
SWEEP_INTERVAL = 1.0


@dataclass
class _Tracked:
    protocol: RequestHandler
    since: float  # connected, or the last answer ended
    busy: int = 0  # requests in progress
    authenticated: bool = False
    connected: bool = False  # the transport was seen (a new protocol has none until connection_made)


class ConnectionGuard:
    def __init__(self, idle_timeout: float, max_unauthenticated: int) -> None:
        self.idle_timeout = idle_timeout
        self.max_unauthenticated = max_unauthenticated
        self._open: dict[int, _Tracked] = {}
        self.closed_idle = 0
        self.closed_over_cap = 0

    def __len__(self) -> int:
        return len(self._open)

    def factory(self, make: Callable[[], RequestHandler]) -> Callable[[], RequestHandler]:
        """The server's protocol factory, with every connection it makes tracked."""

        def protocol() -> RequestHandler:
            self._forget_closed()
            self._make_room()
            handler = make()
            self._open[id(handler)] = _Tracked(handler, time.monotonic())  # I/O pacing, not domain time
            return handler

        return protocol

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        tracked = self._open.get(id(request.protocol))
        if tracked is None or tracked.protocol is not request.protocol:
            return await handler(request)
        tracked.busy += 1
        try:
            return await handler(request)
        finally:
            tracked.busy -= 1
            tracked.since = time.monotonic()
            if TOKEN_KEY in request:
                tracked.authenticated = True

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.sweep()

    def sweep(self) -> None:
        """Close the connections idle past `idle_timeout`."""
        self._forget_closed()
        deadline = time.monotonic() - self.idle_timeout
        for key, tracked in list(self._open.items()):
            if not tracked.busy and tracked.since < deadline:
                self._close(key, tracked)
                self.closed_idle += 1

    def _make_room(self) -> None:
        unauthenticated = [(t.since, k) for k, t in self._open.items() if not t.authenticated]
        excess = len(unauthenticated) + 1 - self.max_unauthenticated
        if excess <= 0:
            return
        idle = sorted((since, key) for since, key in unauthenticated if not self._open[key].busy)
        for _, key in idle[:excess]:
            self._close(key, self._open[key])
            self.closed_over_cap += 1
        if self.closed_over_cap == excess or self.closed_over_cap % 1000 == 0:
            _LOGGER.warning(
                "http: more than %d connections without a valid token; closing the oldest idle ones (%d so far)",
                self.max_unauthenticated,
                self.closed_over_cap,
            )

    def _close(self, key: int, tracked: _Tracked) -> None:
        del self._open[key]
        tracked.protocol.force_close()

    def _forget_closed(self) -> None:
        gone = []
        for key, tracked in self._open.items():
            if tracked.protocol.transport is not None:
                tracked.connected = True
            elif tracked.connected:
                gone.append(key)
        for key in gone:
            del self._open[key]
