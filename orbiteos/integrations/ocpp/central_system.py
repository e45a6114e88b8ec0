"""The central system: an aiohttp server at `ws://host:port/ocpp/<charge_point_id>`, owned by the hub.

The handshake refuses before the upgrade: an id not in the allow-list gets HTTP 404, a missing or
wrong HTTP Basic password (OCPP security profile 1) gets 401, a client that does not offer the
`ocpp1.6` subprotocol gets 400. A second connection of the same charge point replaces the first.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable

from aiohttp import hdrs, web

from orbiteos.core import Hub
from orbiteos.integrations.ocpp.charge_point import CentralSystemChargePoint, SystemSettings
from orbiteos.integrations.ocpp.device import ChargePointDevice, ChargePointSettings
from orbiteos.integrations.ocpp.sessions import SessionBook
from orbiteos.integrations.ocpp.transport import (
    SUBPROTOCOL,
    ConnectionClosed,
    WebSocketConnection,
    parse_basic_auth,
)

_LOGGER = logging.getLogger(__name__)
PATH = "/ocpp/{charge_point_id}"


class CentralSystem:
    def __init__(
        self,
        hub: Hub,
        settings: SystemSettings,
        charge_points: Iterable[ChargePointSettings],
        host: str = "0.0.0.0",
        port: int = 9000,
        ping_interval: float | None = 60.0,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.sessions = SessionBook(hub)
        self.devices: dict[str, ChargePointDevice] = {
            cp.charge_point_id: ChargePointDevice(hub, cp) for cp in charge_points
        }
        self._by_entity: dict[str, tuple[ChargePointDevice, int]] = {}
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def device_of_entity(self, entity_id: str) -> tuple[ChargePointDevice, int] | None:
        """The charge point and connector behind an `ev_charger.*` entity of this central system."""
        found = self._by_entity.get(entity_id)
        if found is None:  # connectors appear when chargers first name them: refresh the index
            self._by_entity = {
                entity.entity_id: (device, connector_id)
                for device in self.devices.values()
                for connector_id, entity in device.entities.items()
            }
            found = self._by_entity.get(entity_id)
        return found

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:  # the bound port matters when port 0 was asked for
            self.port = self._runner.addresses[0][1]
        _LOGGER.info("OCPP central system listening on ws://%s:%s/ocpp/<charge_point_id>", self.host, self.port)

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close(message=b"central system shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _admit(self, request: web.Request) -> ChargePointDevice | web.Response:
        """The device this handshake is for, or the HTTP response that refuses it."""
        charge_point_id = request.match_info["charge_point_id"]
        device = self.devices.get(charge_point_id)
        if device is None:
            _LOGGER.warning("refused unknown charge point %r from %s", charge_point_id, request.remote)
            return web.Response(status=404, text=f"unknown charge point {charge_point_id!r}\n")
        password = device.settings.password
        if password is not None:
            header = request.headers.get(hdrs.AUTHORIZATION, "")
            credentials = parse_basic_auth(header)
            good = (
                credentials is not None
                and hmac.compare_digest(credentials[0].encode(), charge_point_id.encode())
                and hmac.compare_digest(credentials[1].encode(), password.encode())
            )
            if not good:
                _LOGGER.warning("refused charge point %r from %s: %s", charge_point_id, request.remote,
                                "wrong credentials" if header else "no credentials")
                return web.Response(status=401, text="HTTP Basic credentials required\n",
                                    headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="OCPP"'})
        offered = [p.strip() for p in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(",")]
        if SUBPROTOCOL not in offered:
            _LOGGER.warning("refused charge point %r: subprotocol %s not offered", charge_point_id, SUBPROTOCOL)
            return web.Response(status=400, text=f"subprotocol {SUBPROTOCOL} required\n")
        return device

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        device = self._admit(request)
        if isinstance(device, web.Response):
            return device
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=self.ping_interval)
        await ws.prepare(request)
        self._sockets.add(ws)
        charge_point = CentralSystemChargePoint(
            self.hub, device, WebSocketConnection(ws), self.sessions, self.settings
        )
        previous = device.attach(charge_point)
        if previous is not None:
            _LOGGER.info("%s: new connection replaces the old one", device.charge_point_id)
            self.hub.create_task(previous.close("replaced by a new connection"))
        _LOGGER.info("%s: connected from %s", device.charge_point_id, request.remote)
        try:
            await charge_point.start()
        except ConnectionClosed as err:
            _LOGGER.info("%s: disconnected (%s)", device.charge_point_id, err)
        except asyncio.CancelledError:
            raise
        finally:
            device.detach(charge_point)
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws
