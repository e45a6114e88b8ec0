"""A central system on a free port and real OCPP 1.6J charge points (the `ocpp` library over aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from orbiteos.core import Hub
from orbiteos.integrations.ocpp import async_setup
from orbiteos.integrations.ocpp.central_system import CentralSystem
from orbiteos.integrations.ocpp.transport import SUBPROTOCOL, WebSocketConnection, basic_auth_header

TIMEOUT = 10.0


class ScriptedChargePoint(ChargePoint):
    """A charge point whose answers the test sets; it records every call the central system sends."""

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection, response_timeout=TIMEOUT)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.received_event = asyncio.Event()
        self.rate_units = "Current,Power"
        self.profile_status = "Accepted"
        self.silent_on: set[str] = set()
        self.on_remote_start: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.on_remote_stop: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.received.append((action, payload))
        self.received_event.set()

    async def route_message(self, raw_msg: str) -> None:
        for action in self.silent_on:  # play dead for this action: never answer
            if f'"{action}"' in raw_msg:
                self._record(action, {})
                return
        await super().route_message(raw_msg)

    async def wait_for(self, action: str) -> dict[str, Any]:
        async with asyncio.timeout(TIMEOUT):
            while True:
                for name, payload in self.received:
                    if name == action:
                        self.received.remove((name, payload))
                        return payload
                self.received_event.clear()
                await self.received_event.wait()

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **kwargs: Any) -> Any:
        self._record("GetConfiguration", {"key": key})
        return call_result.GetConfiguration(configuration_key=[
            {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": self.rate_units},
        ])

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **kw: Any) -> Any:
        self._record("SetChargingProfile", {"connector_id": connector_id, "profile": cs_charging_profiles})
        return call_result.SetChargingProfile(status=self.profile_status)

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> Any:
        payload = {"id_tag": id_tag, **kwargs}
        self._record("RemoteStartTransaction", payload)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **kwargs: Any) -> Any:
        self._record("RemoteStopTransaction", {"transaction_id": transaction_id})
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        self._record("Reset", {"type": type})
        return call_result.Reset(status="Accepted")

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
        self._record("ChangeConfiguration", {"key": key, "value": value})
        return call_result.ChangeConfiguration(status="Accepted")

    async def boot(self) -> Any:
        return await self.call(call.BootNotification(charge_point_model="Test", charge_point_vendor="OrbitEOS"))

    async def status(self, connector_id: int, status: str) -> None:
        await self.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status=status))

    async def meter(self, connector_id: int, transaction_id: int | None, energy_wh: float, power_w: float,
                    soc: float | None = None) -> None:
        samples: list[dict[str, Any]] = [
            {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        ]
        if soc is not None:
            samples.append({"value": str(soc), "measurand": "SoC", "unit": "Percent", "location": "EV"})
        await self.call(call.MeterValues(
            connector_id=connector_id, transaction_id=transaction_id,
            meter_value=[{"timestamp": "2026-01-01T12:00:00Z", "sampledValue": samples}],
        ))


class Connected:
    """A live client connection: the charge point, its raw websocket and the task running it."""

    def __init__(self, cp: ScriptedChargePoint, ws: aiohttp.ClientWebSocketResponse, task: asyncio.Task[Any]):
        self.cp = cp
        self.ws = ws
        self.task = task


@contextlib.asynccontextmanager
async def connect(
    url: str, charge_point_id: str, password: str | None = None, protocols: tuple[str, ...] = (SUBPROTOCOL,)
) -> AsyncIterator[Connected]:
    headers = {"Authorization": basic_auth_header(charge_point_id, password)} if password is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/{charge_point_id}", protocols=protocols, headers=headers, heartbeat=None) as ws,
    ):
        cp = ScriptedChargePoint(charge_point_id, WebSocketConnection(ws))
        task = asyncio.create_task(cp.start())
        try:
            yield Connected(cp, ws, task)
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


CentralFactory = Callable[..., Awaitable[tuple[Hub, CentralSystem, str]]]


@pytest.fixture
async def central() -> AsyncIterator[CentralFactory]:
    """Start a central system on a free loopback port: `hub, system, url = await central(**config)`."""
    hubs: list[Hub] = []

    async def start(**config: Any) -> tuple[Hub, CentralSystem, str]:
        hub = Hub()
        hubs.append(hub)
        config = {"host": "127.0.0.1", "port": 0, "charge_points": ["cp1"], **config}
        await async_setup(hub, config)
        system: CentralSystem = hub.data["ocpp"]
        return hub, system, f"ws://127.0.0.1:{system.port}/ocpp"

    yield start
    for hub in hubs:
        async with asyncio.timeout(TIMEOUT):
            await hub.stop()


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `predicate()` holds; the central system handles frames in its own tasks."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():  # noqa: ASYNC110 - a predicate over several sources, polled briefly
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
